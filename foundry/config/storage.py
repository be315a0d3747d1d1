"""The storage plane's settings: Ceph, its pools and object store, the lakehouse catalog and its maintenance,
and Vespa."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field

from foundry.config.backups import Backups
from foundry.config.base import (
    CatalogClient,
    ConfigProblem,
    Count,
    Cron5,
    Days,
    DnsLabel,
    FailureDomain,
    HttpsUrl,
    Quantity,
    Resources,
    Section,
    catalog_client_problems,
    odd_quorum,
    quantity_bytes,
)
from foundry.config.platform import Topology


class CephResources(Section):
    """Each Ceph daemon's pod (Rook's CephCluster `resources` and the object store's gateway)."""

    mon: Resources
    mgr: Resources
    osd: Resources
    rgw: Resources


class Ceph(Section):
    mon_count: Annotated[int, Field(ge=1, le=9)]
    mgr_count: Annotated[int, Field(ge=1, le=2)]
    allow_multiple_mons_per_node: bool
    resources: CephResources


class BlockPool(Section):
    failure_domain: FailureDomain
    replicas: Annotated[int, Field(ge=1, le=7)]
    device_class: DnsLabel | None = None     # OSD device class the pool is pinned to; None: any


class ObjectStore(Section):
    failure_domain: FailureDomain
    data_chunks: Annotated[int, Field(ge=2, le=16)] | None = None
    coding_chunks: Annotated[int, Field(ge=1, le=8)] | None = None
    replicas: Annotated[int, Field(ge=1, le=7)] | None = None
    gateway_instances: Count
    device_class: DnsLabel | None = None     # of the data pool; the metadata pool follows blockPool.deviceClass


class Maintenance(Section):
    """Iceberg table maintenance: compaction, snapshot expiry, orphan-file cleanup."""

    engine: Literal["flink", "cronjob"]       # a FlinkDeployment running TableMaintenance, or a CronJob
    schedule: Cron5 = "30 2 * * *"             # the CronJob's
    rewrite_interval_minutes: Annotated[int, Field(ge=5, le=10_080)] = 60
    snapshot_retention_days: Days = 7
    orphan_file_retention_days: Days = 3


class ClickHouse(CatalogClient):
    """ClickHouse, the blueprint's SQL reader of the warehouse: stateless replicas over Lakekeeper's catalog."""

    replicas: Count = 2
    cpu: Quantity = "2"
    memory: Quantity = "8Gi"


class Writer(CatalogClient):
    """The Flink jobs that stream the lakehouse registry's topics into its tables (one per table)."""

    parallelism: Annotated[int, Field(ge=1, le=64)] = 2
    # a table's commit interval: Iceberg's Flink sink commits each completed checkpoint, exactly once
    checkpoint_seconds: Annotated[int, Field(ge=10, le=3600)] = 60
    cpu: Quantity = "1"
    memory: Quantity = "2Gi"       # each JobManager's and TaskManager's


class Analytics(Section):
    """The Iceberg blueprint's write and read paths: Flink writers from the topics into the warehouse, ClickHouse over
    it, and Grafana over ClickHouse."""

    enabled: bool
    writer: Writer = Writer()
    clickhouse: ClickHouse = ClickHouse()


class Lakehouse(Section):
    warehouse: DnsLabel = "openfoundry"
    catalog_replicas: Count
    # the OIDC issuer whose tokens Lakekeeper accepts (beside the cluster's ServiceAccount tokens); prod requires it
    openid_provider_uri: HttpsUrl | None = None
    # the audience tokens must carry: the issuer's (unset, Lakekeeper skips the check and accepts any token of the
    # realm) and the cluster's ServiceAccount tokens the platform's own clients present
    audience: DnsLabel = "lakekeeper"
    maintenance: Maintenance
    analytics: Analytics = Analytics(enabled=False)


class Vespa(Section):
    mode: Literal["single", "cluster"]
    config_servers: Count = 3
    content_nodes: Count = 1
    container_nodes: Count = 1
    storage_size: Quantity
    cpu: Quantity
    memory: Quantity
    # the namespaces the search team deploys application packages from (its CI runners): admitted to the config
    # servers' deploy API (19071); without one, nothing outside Vespa can deploy and the container nodes stay unready
    deployer_namespaces: list[DnsLabel] = Field(default_factory=list)


class Storage(Section):
    ceph: Ceph
    block_pool: BlockPool
    object_store: ObjectStore
    block_storage_class: DnsLabel = "ceph-fast-rbd"
    bucket_storage_class: DnsLabel = "ceph-bucket"
    object_store_name: DnsLabel = "lake"
    bucket_max_size: Quantity                # quota of every ObjectBucketClaim
    lakehouse: Lakehouse
    vespa: Vespa
    backups: Backups = Backups()

    @property
    def rgw_endpoint(self) -> str:
        """Rook serves an object store's gateway as rook-ceph-rgw-<store> in the Rook namespace."""
        return f"http://rook-ceph-rgw-{self.object_store_name}.rook-ceph.svc:80"


# the only zone label Rook reads into the CRUSH map (rook v1.20.6 pkg/operator/ceph/cluster/osd/topology/topology.go)
ROOK_ZONE_LABEL = "topology.kubernetes.io/zone"


def ceph_problems(ceph: Ceph, topology: Topology, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:storage.ceph"
    yield from odd_quorum(f"{path}.monCount", ceph.mon_count, "Ceph monitors")
    if prod and ceph.mon_count < 3:
        yield ConfigProblem(f"{path}.monCount", str(ceph.mon_count), "3 or more in prod")
    if prod and ceph.allow_multiple_mons_per_node:
        yield ConfigProblem(f"{path}.allowMultipleMonsPerNode", "true", "false in prod (one node must not hold two mons)")
    osd = ceph.resources.osd
    if quantity_bytes(osd.memory_limit or osd.memory) < 2 * 2**30:
        field = "memoryLimit" if osd.memory_limit else "memory"
        yield ConfigProblem(f"{path}.resources.osd.{field}", osd.memory_limit or osd.memory,
                            "at least 2Gi: Rook's minimum for an OSD (Ceph derives osd_memory_target from 0.8 x the "
                            "limit and refuses one below 896Mi)")
    if not ceph.allow_multiple_mons_per_node and ceph.mon_count > topology.nodes:
        yield ConfigProblem(f"{path}.monCount", str(ceph.mon_count),
                            f"at most topology.nodes ({topology.nodes}) with one mon per node")


def pool_problems(storage: Storage, topology: Topology, prod: bool) -> Iterable[ConfigProblem]:
    block, store = storage.block_pool, storage.object_store
    if block.replicas > topology.failure_domains(block.failure_domain):
        yield _too_wide("openfoundry:storage.blockPool.replicas", block.replicas, block.failure_domain, topology)
    if prod and block.replicas < 3:
        yield ConfigProblem("openfoundry:storage.blockPool.replicas", str(block.replicas), "3 or more in prod")
    if prod:
        for pool, domain in (("blockPool", block.failure_domain), ("objectStore", store.failure_domain)):
            if domain == "host":
                yield ConfigProblem(f"openfoundry:storage.{pool}.failureDomain", "'host'", "'rack' or 'zone' in prod")
    metadata_replicas = store.replicas or 3   # the bucket index follows the block pool's failure domain
    if metadata_replicas > topology.failure_domains(block.failure_domain):
        yield _too_wide("openfoundry:storage.objectStore.replicas", metadata_replicas, block.failure_domain, topology)
    zoned = [pool for pool, domain in (("blockPool", block.failure_domain), ("objectStore", store.failure_domain))
             if domain == "zone"]
    if zoned and topology.zone_label != ROOK_ZONE_LABEL:
        yield ConfigProblem("openfoundry:topology.zoneLabel", repr(topology.zone_label),
                            f"{ROOK_ZONE_LABEL!r} while storage.{zoned[0]}.failureDomain is 'zone': Rook builds its "
                            "CRUSH zones from that label only")
    yield from _object_store_layout_problems(store, topology, prod)


def lakehouse_problems(lake: Lakehouse, topology: Topology, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:storage.lakehouse"
    if prod and lake.catalog_replicas < 2:
        yield ConfigProblem(f"{path}.catalogReplicas", str(lake.catalog_replicas), "2 or more in prod (HA catalog)")
    if lake.catalog_replicas > topology.nodes:
        yield ConfigProblem(f"{path}.catalogReplicas", str(lake.catalog_replicas),
                            f"at most topology.nodes ({topology.nodes}): one replica per node")
    if prod and lake.openid_provider_uri is None:
        yield ConfigProblem(f"{path}.openidProviderUri", "nothing", "the OIDC issuer URL Lakekeeper trusts, in prod")
    yield from _analytics_problems(lake, prod)


def _analytics_problems(lake: Lakehouse, prod: bool) -> Iterable[ConfigProblem]:
    if not lake.analytics.enabled:
        return
    path = "openfoundry:storage.lakehouse.analytics.clickhouse"
    clickhouse = lake.analytics.clickhouse
    if lake.openid_provider_uri is not None or not prod:   # prod reports a missing issuer once, above
        # one problem for a missing issuer, whichever engine finds it first
        problems = [*catalog_client_problems(path, clickhouse, lake.openid_provider_uri, "ClickHouse"),
                    *catalog_client_problems("openfoundry:storage.lakehouse.analytics.writer", lake.analytics.writer,
                                             lake.openid_provider_uri, "the Iceberg writers")]
        seen: set[str] = set()
        for problem in problems:   # a missing issuer once, though both need it
            if problem.path not in seen:
                seen.add(problem.path)
                yield problem
    if prod and clickhouse.replicas < 2:
        yield ConfigProblem(f"{path}.replicas", str(clickhouse.replicas),
                            "2 or more in prod (a PodDisruptionBudget needs a spare)")


def vespa_problems(vespa: Vespa, topology: Topology, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:storage.vespa"
    if prod and vespa.mode != "cluster":
        yield ConfigProblem(f"{path}.mode", repr(vespa.mode), "'cluster' in prod (single is development only)")
    if vespa.mode == "cluster":
        yield from odd_quorum(f"{path}.configServers", vespa.config_servers, "the config servers' ZooKeeper")
        if vespa.config_servers > topology.nodes:
            yield ConfigProblem(f"{path}.configServers", str(vespa.config_servers),
                                f"at most topology.nodes ({topology.nodes}): each on its own node")


def _object_store_layout_problems(store: ObjectStore, topology: Topology, prod: bool) -> Iterable[ConfigProblem]:
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
        if width > topology.failure_domains(store.failure_domain):
            yield _too_wide(f"{path}.dataChunks", width, store.failure_domain, topology,
                            found=f"{store.data_chunks} (+ codingChunks {store.coding_chunks} = {width} chunks)")
        if prod and store.coding_chunks < 2:
            yield ConfigProblem(f"{path}.codingChunks", str(store.coding_chunks), "2 or more in prod")
    elif store.replicas is None:
        yield ConfigProblem(f"{path}.replicas", "nothing", "replicas, or dataChunks and codingChunks")
    else:
        if store.replicas > topology.failure_domains(store.failure_domain):
            yield _too_wide(f"{path}.replicas", store.replicas, store.failure_domain, topology)
        if prod:
            yield ConfigProblem(f"{path}.replicas", str(store.replicas),
                                "an erasure-coded data pool in prod (dataChunks 4, codingChunks 2)")


def _too_wide(path: str, width: int, domain: FailureDomain, topology: Topology, found: str | None = None) -> ConfigProblem:
    source = {"host": "topology.nodes", "rack": "topology.racks", "zone": "the number of topology.zones"}[domain]
    return ConfigProblem(path, found or str(width),
                         f"at most {topology.failure_domains(domain)} {domain} failure domains ({source})")
