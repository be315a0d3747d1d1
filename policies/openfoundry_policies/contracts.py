"""The architecture's contracts (the seed's ADRs and the operators' production guidance), as plain checks.

A resource check takes one Resource and yields violation messages; a stack check takes every resource and
yields (resource or None, message). They read inputs the program knows at preview time only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from openfoundry_policies.flink import FLINK_DEPLOYMENT
from openfoundry_policies.resources import Resource, containers, pod_labels, pod_spec, pods

KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
CONNECT = "kubernetes:kafka.strimzi.io/v1:KafkaConnect"
PG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
BARMAN_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
CEPH_CLUSTER = "kubernetes:ceph.rook.io/v1:CephCluster"
BLOCK_POOL = "kubernetes:ceph.rook.io/v1:CephBlockPool"
OBJECT_STORE = "kubernetes:ceph.rook.io/v1:CephObjectStore"
STREAM = "kubernetes:jetstream.nats.io/v1beta2:Stream"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SECRET = "kubernetes:core/v1:Secret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
PLANE_LABEL = "openfoundry.io/plane"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
POSTGRES_IMAGE = re.compile(r"(^|/)(postgres|postgresql|bitnami/postgresql|cloudnative-pg/postgresql)(:|@|$)")
EDGE_BACKENDS = {"gateway", "web"}
STATEFUL_KINDS = {KAFKA, NODE_POOL, TOPIC, PG_CLUSTER, CEPH_CLUSTER, BLOCK_POOL, OBJECT_STORE, STATEFUL_SET,
                  "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim", "kubernetes:k8ssandra.io/v1alpha1:K8ssandraCluster"}


CNPG_INSTANCES_DEFAULT = 1   # a CloudNativePG Cluster's `instances` unless set
KAFKA_MIN_ISR_DEFAULT = 1    # Kafka's topic config min.insync.replicas, when neither topic nor brokers set it
NATS_REPLICAS_DEFAULT = 1    # a JetStream stream's num_replicas unless set (NACK's Stream `replicas`)


def _int(value: object) -> int | None:
    """Numbers arrive as floats from the engine (protobuf Struct), strings from Kafka configs."""
    try:
        return int(float(str(value)))
    except ValueError:
        return None


# --- relational state (ADR-0010) ----------------------------------------------------------------------------

def postgres_only_through_cloudnativepg(r: Resource) -> Iterator[str]:
    for where, pod in pods(r):
        for container in containers(pod):
            if POSTGRES_IMAGE.search(str(container.get("image", ""))):
                yield f"{where} runs Postgres ({container.get('image')}) outside CloudNativePG"


def postgres_synchronous_replicas(r: Resource) -> Iterator[str]:
    if r.type != PG_CLUSTER:
        return
    instances = _int(r.spec.get("instances")) or CNPG_INSTANCES_DEFAULT
    synchronous = (r.spec.get("postgresql") or {}).get("synchronous") or {}
    if instances < 3:
        yield f"{r.label} has {instances} instance(s); production needs 3 or more"
    if not synchronous.get("number"):
        yield f"{r.label} has no synchronous replication (postgresql.synchronous)"


def postgres_wal_archiving(r: Resource) -> Iterator[str]:
    if r.type != PG_CLUSTER:
        return
    plugins = r.spec.get("plugins") or []
    if not any(p.get("name") == BARMAN_PLUGIN and p.get("isWALArchiver") for p in plugins):
        yield f"{r.label} archives no WAL (a Barman Cloud plugin entry with isWALArchiver: true)"
    if r.spec.get("backup", {}).get("barmanObjectStore"):
        yield f"{r.label} uses the deprecated in-tree barmanObjectStore"


def postgres_backup_retention(r: Resource) -> Iterator[str]:
    if r.type == BARMAN_STORE and not r.spec.get("retentionPolicy"):
        yield f"{r.label} keeps backups forever: set retentionPolicy"


def postgres_scheduled_backups(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    backed_up = {(b.metadata.get("namespace"), (b.spec.get("cluster") or {}).get("name"))
                 for b in resources if b.type == SCHEDULED_BACKUP}
    for cluster in (r for r in resources if r.type == PG_CLUSTER):
        if "recovery" in (cluster.spec.get("bootstrap") or {}):
            continue  # a point-in-time restore is a temporary copy
        if (cluster.metadata.get("namespace"), cluster.metadata.get("name")) not in backed_up:
            yield cluster, f"{cluster.label} has no ScheduledBackup"


def postgres_pod_monitors(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    monitored = {((m.spec.get("selector") or {}).get("matchLabels") or {}).get("cnpg.io/cluster")
                 for m in resources if m.type == POD_MONITOR}
    for cluster in (r for r in resources if r.type == PG_CLUSTER):
        if cluster.metadata.get("name") not in monitored:
            yield cluster, f"{cluster.label} has no PodMonitor"


# --- the lakehouse and search (ADR-0008, ADR-0041, ADR-0007) -------------------------------------------------

def _runs_image(r: Resource, fragment: str) -> bool:
    pod = pod_spec(r)
    return pod is not None and any(fragment in str(c.get("image", "")) for c in containers(pod, with_init=False))


def _serves_catalog(r: Resource) -> bool:
    """A long-running Lakekeeper; a Job running its image (`lakekeeper migrate`) serves nothing."""
    return r.type in (DEPLOYMENT, STATEFUL_SET) and _runs_image(r, "lakekeeper/catalog")


def one_iceberg_rest_catalog(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    catalogs = [r for r in resources if _serves_catalog(r)]
    if len(catalogs) > 1:
        for extra in catalogs[1:]:
            yield extra, f"{extra.label} is a second Iceberg REST catalog (Lakekeeper is the one, {catalogs[0].label})"


def lakekeeper_production_ready(r: Resource) -> Iterator[str]:
    if not _serves_catalog(r):
        return
    if (_int(r.spec.get("replicas", 1)) or 1) < 2:
        yield f"{r.label} runs one replica; Lakekeeper's production guidance is several, on different nodes"
    pod = pod_spec(r) or {}
    env = {e.get("name"): e for c in containers(pod, with_init=False) for e in c.get("env") or []}
    if "LAKEKEEPER__OPENID_PROVIDER_URI" not in env:
        yield f"{r.label} has no OIDC provider (LAKEKEEPER__OPENID_PROVIDER_URI)"
    key = env.get("LAKEKEEPER__PG_ENCRYPTION_KEY") or {}
    if "valueFrom" not in key:
        yield f"{r.label} takes its encryption key from a literal or not at all (use a Secret)"


def vespa_config_server_quorum(r: Resource) -> Iterator[str]:
    if r.type != STATEFUL_SET or not _runs_image(r, "vespaengine/vespa"):
        return
    pod = pod_spec(r) or {}
    if not any("configserver" in str(c.get("args")) for c in containers(pod, with_init=False)):
        return
    replicas = _int(r.spec.get("replicas", 1)) or 1
    if replicas != 3:
        yield f"{r.label} runs {replicas} config servers; production runs a quorum of 3"
    anti = ((pod.get("affinity") or {}).get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" for t in anti or []):
        yield f"{r.label} may put two config servers on one node (required pod anti-affinity on the hostname)"


# --- compute and edge (ADR-0014, ADR-0029) ---------------------------------------------------------------------

def _is_trino(name: object) -> bool:
    return "trino" in str(name or "")


def trino_never_exposed(r: Resource) -> Iterator[str]:
    if r.type == SERVICE and r.spec.get("type") in ("LoadBalancer", "NodePort"):
        selector = r.spec.get("selector") or {}
        if _is_trino(r.metadata.get("name")) or any(_is_trino(v) for v in selector.values()):
            yield f"{r.label} exposes Trino through a {r.spec.get('type')}: Trino is an internal backend only"
    if r.type == INGRESS:
        for backend in _ingress_backends(r):
            if _is_trino(backend):
                yield f"{r.label} routes to Trino ({backend}): Trino is an internal backend only"


def edge_sql_only_through_sql_bi_gateway(r: Resource) -> Iterator[str]:
    """The Ingress reaches the edge services only; SQL from outside enters through sql-bi-gateway-service."""
    if r.type != INGRESS:
        return
    for backend in _ingress_backends(r):
        if backend not in EDGE_BACKENDS and backend != "sql-bi-gateway-service":
            yield f"{r.label} routes to {backend}: only the edge services and sql-bi-gateway-service face outside"


def _ingress_backends(r: Resource) -> Iterator[str]:
    default = ((r.spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        yield default
    for rule in r.spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            name = ((path.get("backend") or {}).get("service") or {}).get("name")
            if name:
                yield name


# --- the buses (ADR-0011) -----------------------------------------------------------------------------------

def kafka_no_automatic_topic_creation(r: Resource) -> Iterator[str]:
    if r.type == KAFKA:
        config = (r.spec.get("kafka") or {}).get("config") or {}
        if str(config.get("auto.create.topics.enable", "true")).lower() != "false":
            yield f"{r.label} lets brokers create topics (auto.create.topics.enable must be false)"


def kafka_no_wildcard_acls(r: Resource) -> Iterator[str]:
    if r.type == USER:
        for acl in ((r.spec.get("authorization") or {}).get("acls")) or []:
            resource = acl.get("resource") or {}
            name = str(resource.get("name") or "").strip()
            if name in ("", "*") or resource.get("type") == "cluster":
                yield f"{r.label} holds a wildcard or cluster-wide ACL ({resource.get('type')} {name or '(no name)'})"
            if "All" in (acl.get("operations") or []):
                yield f"{r.label} holds operation All on {resource.get('name')}"
    if r.type == KAFKA and ((r.spec.get("kafka") or {}).get("authorization") or {}).get("superUsers"):
        yield f"{r.label} names super users: only the operator's identities may bypass the ACLs"


def kafka_rack_awareness(r: Resource) -> Iterator[str]:
    if r.type == KAFKA and not (((r.spec.get("kafka") or {}).get("rack")) or {}).get("topologyKey"):
        yield f"{r.label} is not rack-aware (spec.kafka.rack.topologyKey)"
    if r.type == NODE_POOL:
        spread = (((r.spec.get("template") or {}).get("pod")) or {}).get("topologySpreadConstraints") or []
        if not any("zone" in str(c.get("topologyKey")) for c in spread):
            yield f"{r.label} has no zone topology spread (Strimzi no longer adds zone anti-affinity)"


def kafka_durability(r: Resource) -> Iterator[str]:
    if r.type != KAFKA:
        return
    config = (r.spec.get("kafka") or {}).get("config") or {}
    rf = _int(config.get("default.replication.factor", 1)) or 1
    isr = _int(config.get("min.insync.replicas", 1)) or 1
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor"):
        if (_int(config.get(key, 1)) or 1) < 3:
            yield f"{r.label}: {key} is {config.get(key, 'unset')}, production needs 3"
    if not 2 <= isr < rf:
        yield f"{r.label}: min.insync.replicas {isr} with replication factor {rf} (want 2 <= min ISR < RF)"
    if str(config.get("unclean.leader.election.enable", "false")).lower() != "false":
        yield f"{r.label} allows unclean leader election"


# The listeners a Kafka resource declares open without authentication, each a written exception: clients whose code
# cannot authenticate (components/ingestion/anonymous.py).
UNAUTHENTICATED_LISTENERS = "policy.openfoundry.dev/unauthenticated-listeners"


def kafka_listeners_authenticated(r: Resource) -> Iterator[str]:
    """Every listener authenticates, but one the resource names as an exception, and that only if NetworkPolicy
    peers narrow who may open it (without any, every pod of the cluster could)."""
    if r.type != KAFKA:
        return
    kafka = r.spec.get("kafka") or {}
    excepted = {name.strip() for name in str(r.annotations.get(UNAUTHENTICATED_LISTENERS, "")).split(",") if name.strip()}
    for listener in kafka.get("listeners") or []:
        if (listener.get("authentication") or {}).get("type"):
            continue
        if listener.get("name") not in excepted:
            yield f"{r.label}: listener {listener.get('name')} accepts unauthenticated clients"
        elif not listener.get("networkPolicyPeers"):
            yield (f"{r.label}: listener {listener.get('name')} is excepted from authentication but names no "
                   "networkPolicyPeers: every pod of the cluster could open it")
    if not (kafka.get("authorization") or {}).get("type"):
        yield f"{r.label} has no authorization: clients would have no restrictions"


def kafka_topic_replicas(r: Resource) -> Iterator[str]:
    if r.type != TOPIC:
        return
    replicas = _int(r.spec.get("replicas"))
    if replicas is None:   # the Topic Operator then uses the brokers' default.replication.factor
        yield f"{r.label} leaves its replica count to the brokers' default; production topics state 3 or more"
        return
    isr = _int((r.spec.get("config") or {}).get("min.insync.replicas")) or KAFKA_MIN_ISR_DEFAULT
    if replicas < 3:
        yield f"{r.label} has {replicas} replicas; production topics need 3 or more"
    if isr >= replicas:
        yield f"{r.label}: min.insync.replicas {isr} leaves no replica to lose ({replicas} replicas)"


def bus_credentials_follow_the_contract(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """A service (or a platform job, such as an Iceberg writer or the PLAINTEXT listener's ACL steward) holds
    credentials only for the buses its workload is labelled for (catalog `buses`); a Kafka Connect cluster (the
    outbox relay) is a client of the data bus as the principal it authenticates as."""
    buses = {}
    for r in resources:
        if r.type in (DEPLOYMENT, FLINK_DEPLOYMENT, JOB):
            labels = pod_labels(r)
            buses[labels.get(NAME_LABEL)] = set(str(labels.get("openfoundry.io/buses", "")).split("."))
        if r.type == CONNECT and (r.spec.get("authentication") or {}).get("username"):
            buses[r.spec["authentication"]["username"]] = {"data"}
    for r in resources:
        if r.type == USER and "data" not in buses.get(r.metadata.get("name"), set()):
            yield r, f"{r.label}: {r.metadata.get('name')} is not on the data bus but holds a Kafka principal"
        if r.type == SECRET:
            name = str(r.metadata.get("name", ""))
            for prefix, bus in (("kafka-client-", "data"), ("nats-client-", "control")):
                service = name.removeprefix(prefix)
                if name.startswith(prefix) and bus not in buses.get(service, set()):
                    yield r, f"{r.label}: {service} is not on the {bus} bus but gets its credentials"


def jetstream_file_storage(r: Resource) -> Iterator[str]:
    if r.type == STREAM and r.spec.get("storage") != "file":
        yield f"{r.label} keeps its stream in {r.spec.get('storage', 'memory (the default)')}: durable streams use file"


def jetstream_replicas(r: Resource) -> Iterator[str]:
    replicas = _int(r.spec.get("replicas")) or NATS_REPLICAS_DEFAULT
    if r.type == STREAM and replicas < 3:
        yield f"{r.label} has {replicas} replica(s); production streams need 3"


# --- Ceph -----------------------------------------------------------------------------------------------------

def ceph_erasure_coding_layout(r: Resource) -> Iterator[str]:
    if r.type != OBJECT_STORE:
        return
    data = r.spec.get("dataPool") or {}
    coded = data.get("erasureCoded") or {}
    if (coded.get("dataChunks"), coded.get("codingChunks")) != (4, 2):
        yield f"{r.label}: data pool is not erasure-coded 4+2 ({coded or 'replicated'})"
    if data.get("failureDomain") not in ("rack", "zone"):
        yield f"{r.label}: data pool failure domain {data.get('failureDomain', 'host')}; EC needs racks or zones"
    if "erasureCoded" in (r.spec.get("metadataPool") or {}):
        yield f"{r.label}: the metadata pool must be replicated"


def ceph_mon_quorum(r: Resource) -> Iterator[str]:
    if r.type != CEPH_CLUSTER:
        return
    mon = r.spec.get("mon") or {}
    count = _int(mon.get("count", 3)) or 0
    if count < 3 or count % 2 == 0:
        yield f"{r.label} runs {count} mons: an odd number, 3 or more"
    if mon.get("allowMultiplePerNode"):
        yield f"{r.label} may put several mons on one node"


def ceph_replicated_pools(r: Resource) -> Iterator[str]:
    if r.type != BLOCK_POOL:
        return
    size = _int((r.spec.get("replicated") or {}).get("size")) or 0   # an erasure-coded pool has none
    if size < 3:
        yield f"{r.label} keeps {size} copies; production pools keep 3"
    # Rook's default failure domain is `host` (CephBlockPool docs): an absent one spreads copies only over nodes
    domain = r.spec.get("failureDomain") or "host"
    if domain in ("osd", "host"):
        yield f"{r.label}: failure domain {domain}; production pools spread over racks or zones"


# --- placement and protection ---------------------------------------------------------------------------------

def services_in_their_plane_namespace(r: Resource) -> Iterator[str]:
    if r.type != DEPLOYMENT:
        return
    plane = pod_labels(r).get(PLANE_LABEL)
    if plane and r.metadata.get("namespace") != f"openfoundry-{plane}":
        yield f"{r.label} belongs to the {plane} plane but runs in {r.metadata.get('namespace')}"


def one_workload_per_service(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """One Deployment per application part: its name, and its component where it has several (Trino)."""
    seen: dict[tuple[str, str], Resource] = {}
    for r in resources:
        if r.type == DEPLOYMENT:
            labels = pod_labels(r)
            part = (str(labels.get(NAME_LABEL)), str(labels.get(COMPONENT_LABEL, "")))
            if part in seen:
                shown = part[0] + (f" ({part[1]})" if part[1] else "")
                yield r, f"{r.label} runs {shown} a second time ({seen[part].label})"
            seen[part] = r


def stateful_resources_protected(r: Resource) -> Iterator[str]:
    if r.type in STATEFUL_KINDS and not r.protected:
        yield f"{r.label} holds state but is not protected from deletion"
