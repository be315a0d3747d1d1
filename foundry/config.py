"""The stack configuration: one pydantic model, read from the `openfoundry:` namespace of a stack.

`load_stack_config(raw, stack)` merges the environment's defaults (foundry/defaults.py) under the stack's
own values, validates types and ranges with pydantic and the cross-field rules below, and either returns a
`StackConfig` or raises `ConfigErrors` holding one `ConfigProblem` per problem, each naming the full config
path (`openfoundry:storage.objectStore.dataChunks`), what was found and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

from foundry.defaults import ENVIRONMENTS, deep_merge, defaults_for

NAMESPACE = "openfoundry"

Environment = Literal["dev", "prod"]
Count = Annotated[int, Field(ge=1, le=99)]
Quantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")]
DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
FailureDomain = Literal["host", "rack", "zone"]


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    found: str
    allowed: str

    def __str__(self) -> str:
        return f"{self.path}: found {self.found}; allowed: {self.allowed}"


def registry_entry_problem(source: str, collection: str, data: Any, issue: Any) -> ConfigProblem:
    """A pydantic issue in a registry file (data/*.yaml), named by the entry's `name`: `<source>: <collection>[name].field`."""
    loc = list(issue["loc"])
    where = source
    if len(loc) >= 2 and loc[0] == collection and isinstance(loc[1], int):
        entries = data.get(collection) if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where += f": {collection}[{name if name else f'#{loc[1] + 1}'}]"
        loc = loc[2:]
    elif loc:
        where += f": {loc[0]}"
        loc = loc[1:]
    if loc:
        where += "." + ".".join(str(p) for p in loc)
    found = "nothing" if issue["type"] == "missing" else repr(issue.get("input"))
    return ConfigProblem(where, found, re.sub(r"^(Value error, |Input should be )", "", issue["msg"]))


class ConfigErrors(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(f"{len(problems)} configuration problem(s)")
        self.problems = problems

    def report(self) -> str:
        lines = [f"invalid stack configuration ({len(self.problems)} problem(s)); nothing was deployed:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class KubernetesTarget(_Section):
    mode: Literal["render", "cluster"]
    render_directory: str | None = None
    context: str | None = None
    kubeconfig: str | None = None


class Operators(_Section):
    install: Literal["managed", "external"]


class Images(_Section):
    registry: Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$")]
    tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


class Topology(_Section):
    zones: Annotated[list[DnsLabel], Field(min_length=1)]
    racks: Count
    nodes: Count
    zone_label: str


class Workloads(_Section):
    replicas: Count
    max_replicas: Count
    cpu_request: Quantity
    memory_request: Quantity
    cpu_limit: Quantity
    memory_limit: Quantity


class Ceph(_Section):
    mon_count: Annotated[int, Field(ge=1, le=9)]
    mgr_count: Annotated[int, Field(ge=1, le=2)]
    allow_multiple_mons_per_node: bool


class BlockPool(_Section):
    failure_domain: FailureDomain
    replicas: Annotated[int, Field(ge=1, le=7)]
    device_class: DnsLabel | None = None     # OSD device class the pool is pinned to; None: any


class ObjectStore(_Section):
    failure_domain: FailureDomain
    data_chunks: Annotated[int, Field(ge=2, le=16)] | None = None
    coding_chunks: Annotated[int, Field(ge=1, le=8)] | None = None
    replicas: Annotated[int, Field(ge=1, le=7)] | None = None
    gateway_instances: Count
    device_class: DnsLabel | None = None     # of the data pool; the metadata pool follows blockPool.deviceClass


Cron5 = Annotated[str, StringConstraints(pattern=r"^\S+( \S+){4}$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$")]
Days = Annotated[int, Field(ge=1, le=3650)]


class Maintenance(_Section):
    """Iceberg table maintenance: compaction, snapshot expiry, orphan-file cleanup."""

    engine: Literal["flink", "cronjob"]       # a FlinkDeployment running TableMaintenance, or a CronJob
    schedule: Cron5 = "30 2 * * *"             # the CronJob's
    rewrite_interval_minutes: Annotated[int, Field(ge=5, le=10_080)] = 60
    snapshot_retention_days: Days = 7
    orphan_file_retention_days: Days = 3


class Lakehouse(_Section):
    warehouse: DnsLabel = "openfoundry"
    catalog_replicas: Count
    openid_provider_uri: HttpsUrl | None = None
    maintenance: Maintenance


class Vespa(_Section):
    mode: Literal["single", "cluster"]
    config_servers: Count = 3
    content_nodes: Count = 1
    container_nodes: Count = 1
    storage_size: Quantity
    cpu: Quantity
    memory: Quantity


class Storage(_Section):
    ceph: Ceph
    block_pool: BlockPool
    object_store: ObjectStore
    block_storage_class: DnsLabel = "ceph-fast-rbd"
    bucket_storage_class: DnsLabel = "ceph-bucket"
    object_store_name: DnsLabel = "lake"
    bucket_max_size: Quantity                # quota of every ObjectBucketClaim
    lakehouse: Lakehouse
    vespa: Vespa

    @property
    def rgw_endpoint(self) -> str:
        """Rook serves an object store's gateway as rook-ceph-rgw-<store> in the Rook namespace."""
        return f"http://rook-ceph-rgw-{self.object_store_name}.rook-ceph.svc:80"


class Kafka(_Section):
    controllers: Count
    brokers: Count
    replication_factor: Count
    min_insync_replicas: Count
    storage_size: Quantity = "100Gi"


class Ingestion(_Section):
    kafka: Kafka


class Nats(_Section):
    servers: Count
    stream_replicas: Annotated[int, Field(ge=1, le=5)]
    storage_size: Quantity = "20Gi"


class Control(_Section):
    nats: Nats


Cron6 = Annotated[str, StringConstraints(pattern=r"^\S+( \S+){5}$")]
Timestamp = Annotated[str, StringConstraints(
    pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")]


class RecoverFrom(_Section):
    cluster: DnsLabel
    target_time: Timestamp


class Postgres(_Section):
    instances: Count
    synchronous_replicas: Annotated[int, Field(ge=0, le=98)]
    backup_retention_days: Annotated[int, Field(ge=1, le=3650)]
    backup_schedule: Cron6 = "0 0 2 * * *"
    storage_size: Quantity = "20Gi"
    pooler_instances: Count = 2
    parameters: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_.]+$")], str] = {}
    recover_from: RecoverFrom | None = None


class Relational(_Section):
    postgres: Postgres


class Trino(_Section):
    """Trino, the Iceberg analytics backend behind sql-bi-gateway-service (ADR-0029); left out of development."""

    enabled: bool
    workers: Count = 2
    coordinator_cpu: Quantity = "2"
    coordinator_memory: Quantity = "8Gi"
    worker_cpu: Quantity = "4"
    worker_memory: Quantity = "16Gi"
    # the OAuth2 token endpoint Trino gets its catalog token from, when Lakekeeper requires OIDC
    catalog_token_uri: HttpsUrl | None = None
    # the client scope Trino asks for (one the identity provider defines; Lakekeeper's examples use `lakekeeper`)
    catalog_scope: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$")] = "lakekeeper"


class Compute(_Section):
    # Analytical pools (DataFusion, Flight SQL) need more than the platform-wide workload sizing.
    workloads: Workloads | None = None
    trino: Trino = Trino(enabled=False)


class Cache(_Section):
    """Valkey for the gateway's caching and coordination: one node, or a primary, replicas and Sentinels."""

    nodes: Count
    memory: Quantity


class Edge(_Section):
    host: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    ingress_class: DnsLabel
    ingress_namespace: DnsLabel = "ingress-nginx"
    cors_origins: list[Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+$")]]
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)]
    request_id_header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9-]*$")]
    tls_cluster_issuer: DnsLabel | None = None   # cert-manager ClusterIssuer; None: self-signed (dev only)
    cache: Cache


class Monitoring(_Section):
    # the labels Prometheus selects PrometheusRules by (kube-prometheus-stack: release: <its release>)
    rule_labels: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9./_-]+$")], DnsLabel] = {
        "release": "kube-prometheus-stack"}


class StackConfig(_Section):
    environment: Environment
    kubernetes: KubernetesTarget
    operators: Operators
    images: Images
    topology: Topology
    workloads: Workloads
    storage: Storage
    ingestion: Ingestion
    control: Control
    relational: Relational
    compute: Compute = Compute()
    edge: Edge
    monitoring: Monitoring = Monitoring()

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def workloads_for(self, plane: str) -> Workloads:
        """A plane's own workload sizing where it has one, else the platform-wide one."""
        if plane == "compute" and self.compute.workloads is not None:
            return self.compute.workloads
        return self.workloads

    def failure_domains(self, domain: FailureDomain) -> int:
        return {"host": self.topology.nodes, "rack": self.topology.racks, "zone": len(self.topology.zones)}[domain]


# --- reading ---------------------------------------------------------------------------------------------


def parse_raw_config(raw: Mapping[str, str]) -> dict[str, Any]:
    """Pulumi hands structured values to the program as JSON strings: decode those of our namespace."""
    values: dict[str, Any] = {}
    prefix = f"{NAMESPACE}:"
    for key, text in raw.items():
        if not key.startswith(prefix):
            continue
        try:
            values[key[len(prefix):]] = json.loads(text)
        except (TypeError, ValueError):
            values[key[len(prefix):]] = text
    return values


def load_stack_config(values: Mapping[str, Any], stack: str) -> StackConfig:
    environment = values.get("environment", stack if stack in ENVIRONMENTS else None)
    if environment not in ENVIRONMENTS:
        raise ConfigErrors([ConfigProblem(f"{NAMESPACE}:environment", _show(environment),
                                          " or ".join(repr(e) for e in ENVIRONMENTS))])
    merged = deep_merge(defaults_for(str(environment)), {**values, "environment": environment})
    try:
        config = StackConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigErrors(list(_problems_from_pydantic(err))) from None
    problems = list(cross_field_problems(config))
    if problems:
        raise ConfigErrors(problems)
    return config


def _problems_from_pydantic(err: ValidationError) -> Iterable[ConfigProblem]:
    for issue in err.errors(include_url=False):
        path = _config_path(issue["loc"])
        if issue["type"] == "extra_forbidden":
            yield ConfigProblem(path, f"unknown key {issue['loc'][-1]!s}", _allowed_keys(issue["loc"]))
        elif issue["type"] == "missing":
            yield ConfigProblem(path, "nothing (the key is required)", "a value for this key")
        else:
            yield ConfigProblem(path, _show(issue.get("input")), _lowercase_first(issue["msg"]))


def _config_path(loc: tuple[int | str, ...]) -> str:
    head, *rest = [str(part) for part in loc] or [""]
    path = f"{NAMESPACE}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _allowed_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = StackConfig
    for part in loc[:-1]:
        field = next((f for name, f in model.model_fields.items() if f.alias == part or name == part), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "the documented keys (README: Configuration)"
        model = annotation
    return "one of " + ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]


# --- rules across fields --------------------------------------------------------------------------------


def cross_field_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    yield from _kubernetes_target_problems(cfg)
    yield from _image_problems(cfg)
    yield from _workload_problems(cfg)
    yield from _ceph_problems(cfg)
    yield from _pool_problems(cfg)
    yield from _kafka_problems(cfg)
    yield from _lakehouse_problems(cfg)
    yield from _vespa_problems(cfg)
    yield from _edge_problems(cfg)
    yield from _cache_problems(cfg)
    yield from _trino_problems(cfg)
    yield from _nats_problems(cfg)
    yield from _postgres_problems(cfg)


def _kubernetes_target_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    target = cfg.kubernetes
    if target.mode == "render" and not target.render_directory:
        yield ConfigProblem("openfoundry:kubernetes.renderDirectory", "nothing",
                            "a directory when kubernetes.mode is 'render'")
    if target.mode == "cluster" and not target.context:
        yield ConfigProblem("openfoundry:kubernetes.context", "nothing",
                            "the kubeconfig context to deploy to when kubernetes.mode is 'cluster'")


def _image_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    if cfg.images.tag.lower() == "latest":
        yield ConfigProblem("openfoundry:images.tag", "'latest'", "a pinned release tag, never 'latest'")


def _workload_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    yield from _sizing_problems("openfoundry:workloads", cfg.workloads, cfg.is_prod)
    if cfg.compute.workloads is not None:
        yield from _sizing_problems("openfoundry:compute.workloads", cfg.compute.workloads, cfg.is_prod)


def _sizing_problems(path: str, w: Workloads, prod: bool) -> Iterable[ConfigProblem]:
    if w.max_replicas < w.replicas:
        yield ConfigProblem(f"{path}.maxReplicas", str(w.max_replicas), f"at least replicas ({w.replicas})")
    if prod and w.replicas < 2:
        yield ConfigProblem(f"{path}.replicas", str(w.replicas),
                            "at least 2 in prod (a PodDisruptionBudget needs a spare replica)")
    if _millicores(w.cpu_limit) < _millicores(w.cpu_request):
        yield ConfigProblem(f"{path}.cpuLimit", repr(w.cpu_limit), f"at least cpuRequest ({w.cpu_request})")
    if _bytes(w.memory_limit) < _bytes(w.memory_request):
        yield ConfigProblem(f"{path}.memoryLimit", repr(w.memory_limit), f"at least memoryRequest ({w.memory_request})")


def _ceph_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    ceph = cfg.storage.ceph
    path = "openfoundry:storage.ceph"
    yield from _odd_quorum(f"{path}.monCount", ceph.mon_count, "Ceph monitors")
    if cfg.is_prod and ceph.mon_count < 3:
        yield ConfigProblem(f"{path}.monCount", str(ceph.mon_count), "3 or more in prod")
    if cfg.is_prod and ceph.allow_multiple_mons_per_node:
        yield ConfigProblem(f"{path}.allowMultipleMonsPerNode", "true", "false in prod (one node must not hold two mons)")
    if not ceph.allow_multiple_mons_per_node and ceph.mon_count > cfg.topology.nodes:
        yield ConfigProblem(f"{path}.monCount", str(ceph.mon_count),
                            f"at most topology.nodes ({cfg.topology.nodes}) with one mon per node")


def _pool_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    block, store = cfg.storage.block_pool, cfg.storage.object_store
    if block.replicas > cfg.failure_domains(block.failure_domain):
        yield _too_wide("openfoundry:storage.blockPool.replicas", block.replicas, block.failure_domain, cfg)
    if cfg.is_prod and block.replicas < 3:
        yield ConfigProblem("openfoundry:storage.blockPool.replicas", str(block.replicas), "3 or more in prod")
    if cfg.is_prod:
        for pool, domain in (("blockPool", block.failure_domain), ("objectStore", store.failure_domain)):
            if domain == "host":
                yield ConfigProblem(f"openfoundry:storage.{pool}.failureDomain", "'host'", "'rack' or 'zone' in prod")
    yield from _object_store_layout_problems(cfg, store)


def _lakehouse_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    lake = cfg.storage.lakehouse
    path = "openfoundry:storage.lakehouse"
    if cfg.is_prod and lake.catalog_replicas < 2:
        yield ConfigProblem(f"{path}.catalogReplicas", str(lake.catalog_replicas), "2 or more in prod (HA catalog)")
    if lake.catalog_replicas > cfg.topology.nodes:
        yield ConfigProblem(f"{path}.catalogReplicas", str(lake.catalog_replicas),
                            f"at most topology.nodes ({cfg.topology.nodes}): one replica per node")
    if cfg.is_prod and lake.openid_provider_uri is None:
        yield ConfigProblem(f"{path}.openidProviderUri", "nothing", "the OIDC issuer URL Lakekeeper trusts, in prod")


def _edge_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    if cfg.is_prod and cfg.edge.tls_cluster_issuer is None:
        yield ConfigProblem("openfoundry:edge.tlsClusterIssuer", "nothing",
                            "the cert-manager ClusterIssuer of the edge certificates, in prod (self-signed is dev only)")


def _cache_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    nodes = cfg.edge.cache.nodes
    path = "openfoundry:edge.cache.nodes"
    if cfg.is_prod and nodes < 3:
        yield ConfigProblem(path, str(nodes), "3 or more in prod (a primary, replicas and a Sentinel majority)")
    elif nodes == 2:
        yield ConfigProblem(path, "2", "1, or 3 or more: two Sentinels cannot elect a leader once one is gone")
    if nodes > cfg.topology.nodes:
        yield ConfigProblem(path, str(nodes), f"at most topology.nodes ({cfg.topology.nodes}): one per node")


def _trino_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    trino = cfg.compute.trino
    if not trino.enabled:
        return
    path = "openfoundry:compute.trino"
    if cfg.storage.lakehouse.openid_provider_uri and trino.catalog_token_uri is None:
        yield ConfigProblem(f"{path}.catalogTokenUri", "nothing",
                            "the OAuth2 token endpoint of storage.lakehouse.openidProviderUri's issuer "
                            "(Lakekeeper requires OIDC, so Trino needs a token)")
    if cfg.is_prod and trino.workers < 2:
        yield ConfigProblem(f"{path}.workers", str(trino.workers), "2 or more in prod (a PodDisruptionBudget needs a spare)")


def _vespa_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    vespa = cfg.storage.vespa
    path = "openfoundry:storage.vespa"
    if cfg.is_prod and vespa.mode != "cluster":
        yield ConfigProblem(f"{path}.mode", repr(vespa.mode), "'cluster' in prod (single is development only)")
    if vespa.mode == "cluster":
        yield from _odd_quorum(f"{path}.configServers", vespa.config_servers, "the config servers' ZooKeeper")
        if vespa.config_servers > cfg.topology.nodes:
            yield ConfigProblem(f"{path}.configServers", str(vespa.config_servers),
                                f"at most topology.nodes ({cfg.topology.nodes}): each on its own node")


def _object_store_layout_problems(cfg: StackConfig, store: ObjectStore) -> Iterable[ConfigProblem]:
    path = "openfoundry:storage.objectStore"
    erasure_coded = store.data_chunks is not None or store.coding_chunks is not None
    if erasure_coded and store.replicas is not None:
        yield ConfigProblem(f"{path}.replicas", str(store.replicas),
                            "nothing when dataChunks/codingChunks are set (a pool is either erasure-coded or replicated)")
        return
    if erasure_coded:
        if store.data_chunks is None or store.coding_chunks is None:
            missing = "dataChunks" if store.data_chunks is None else "codingChunks"
            yield ConfigProblem(f"{path}.{missing}", "nothing", "both dataChunks and codingChunks for erasure coding")
            return
        width = store.data_chunks + store.coding_chunks
        if width > cfg.failure_domains(store.failure_domain):
            yield _too_wide(f"{path}.dataChunks", width, store.failure_domain, cfg,
                            found=f"{store.data_chunks} (+ codingChunks {store.coding_chunks} = {width} chunks)")
        if cfg.is_prod and store.coding_chunks < 2:
            yield ConfigProblem(f"{path}.codingChunks", str(store.coding_chunks), "2 or more in prod")
    elif store.replicas is None:
        yield ConfigProblem(f"{path}.replicas", "nothing", "replicas, or dataChunks and codingChunks")
    else:
        if store.replicas > cfg.failure_domains(store.failure_domain):
            yield _too_wide(f"{path}.replicas", store.replicas, store.failure_domain, cfg)
        if cfg.is_prod:
            yield ConfigProblem(f"{path}.replicas", str(store.replicas),
                                "an erasure-coded data pool in prod (dataChunks 4, codingChunks 2)")


def _odd_quorum(path: str, count: int, quorum: str) -> Iterable[ConfigProblem]:
    if count % 2 == 0:
        yield ConfigProblem(path, str(count), f"an odd number ({quorum} needs a strict majority)")


def _too_wide(path: str, width: int, domain: FailureDomain, cfg: StackConfig, found: str | None = None) -> ConfigProblem:
    source = {"host": "topology.nodes", "rack": "topology.racks", "zone": "the number of topology.zones"}[domain]
    return ConfigProblem(path, found or str(width),
                         f"at most {cfg.failure_domains(domain)} {domain} failure domains ({source})")


def _kafka_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    k = cfg.ingestion.kafka
    path = "openfoundry:ingestion.kafka"
    yield from _odd_quorum(f"{path}.controllers", k.controllers, "the KRaft controller quorum")
    if k.replication_factor > k.brokers:
        yield ConfigProblem(f"{path}.replicationFactor", str(k.replication_factor), f"at most brokers ({k.brokers})")
    isr_too_high = k.min_insync_replicas >= k.replication_factor if k.replication_factor > 1 else k.min_insync_replicas > 1
    if isr_too_high:
        yield ConfigProblem(f"{path}.minInsyncReplicas", str(k.min_insync_replicas),
                            f"less than replicationFactor ({k.replication_factor})")
    if cfg.is_prod and k.replication_factor < 3:
        yield ConfigProblem(f"{path}.replicationFactor", str(k.replication_factor), "3 or more in prod")


def _nats_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    n = cfg.control.nats
    yield from _odd_quorum("openfoundry:control.nats.servers", n.servers, "the JetStream RAFT quorum")
    if n.stream_replicas > n.servers:
        yield ConfigProblem("openfoundry:control.nats.streamReplicas", str(n.stream_replicas),
                            f"at most control.nats.servers ({n.servers})")


def _postgres_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    pg = cfg.relational.postgres
    path = "openfoundry:relational.postgres"
    if pg.synchronous_replicas >= pg.instances:
        yield ConfigProblem(f"{path}.synchronousReplicas", str(pg.synchronous_replicas),
                            f"less than instances ({pg.instances})")
    if cfg.is_prod and pg.instances < 3:
        yield ConfigProblem(f"{path}.instances", str(pg.instances), "3 or more in prod")
    if cfg.is_prod and pg.synchronous_replicas < 1:
        yield ConfigProblem(f"{path}.synchronousReplicas", str(pg.synchronous_replicas), "1 or more in prod")


_UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _millicores(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(m?)", quantity)
    if match is None:
        return float("inf")
    return float(match.group(1)) * (1 if match.group(2) else 1000)


def _bytes(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti)?", quantity)
    return float(match.group(1)) * _UNITS[match.group(2) or ""] if match else float("inf")
