"""The whole platform, top to bottom as the runtime topology: the cluster's operators and plane namespaces, the
five planes, the catalog's services of every plane wired to them, the edge in front, and the SLOs over it all.

Each plane reads only its own settings (and the site: environment and failure domains); what one plane needs
of another (a database, a bucket, a principal, an endpoint) is handed over here, by value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.namespaces import PlaneNamespaces, PlaneNamespacesArgs
from components.cluster.operators import Operators, OperatorsArgs
from components.cluster.rehearsal import rehearse
from components.cluster.trust import PlatformTrust, PlatformTrustArgs
from components.common.endpoints import PlatformEndpoint
from components.common.kube import Pods
from components.common.site import Site
from components.compute.plane import (
    GATEWAY,
    ComputePlane,
    ComputePlaneArgs,
    sql_backends,
    sql_gateway_endpoints,
    sql_reader,
)
from components.compute.trino import trino_object_user, trino_pods
from components.control.nats import nats_endpoint, nats_url
from components.control.plane import ControlPlane, ControlPlaneArgs
from components.edge.cache import GatewayCache, GatewayCacheArgs, cache_endpoint
from components.edge.ingress import Edge, EdgeArgs, flight_sql_host
from components.ingestion.clients import KafkaClient, bootstrap_servers, kafka_clients
from components.ingestion.plane import IngestionPlane, IngestionPlaneArgs
from components.lakehouse.clickhouse import clickhouse_object_user, clickhouse_pods
from components.lakehouse.lakekeeper import kubernetes_principal
from components.lakehouse.plane import Lakehouse, LakehouseArgs, catalog_endpoints, lakehouse_buckets
from components.lakehouse.table_health import NAME as TABLE_EXPORTER
from components.lakehouse.table_health import exporter_pods
from components.lakehouse.writers import writer_kafka_clients, writer_pods
from components.observability.slos import ServiceLevelObjectives, ServiceLevelObjectivesArgs
from components.relational.database import Database, databases
from components.relational.outbox import slot_wal_cap_mb
from components.relational.plane import RelationalStatePlane, RelationalStatePlaneArgs
from components.services.environment import Endpoints, needs_jwt_secret
from components.services.jwt import PlatformJwt, PlatformJwtArgs
from components.services.planes import PlaneServices, PlaneServicesArgs
from components.storage.cassandra import OperationalStore, OperationalStoreArgs, cassandra_clients
from components.storage.cassandra_ops import backup_bucket, medusa_object_user
from components.storage.ceph import Bucket, ObjectGateway, StorageAccess, catalog_buckets, single_site_exemption
from components.storage.offsite import OffsiteCopy, OffsiteCopyArgs, copier_user
from components.storage.plane import StoragePlane, StoragePlaneArgs, search_endpoints
from components.storage.vespa import vespa_query_url
from foundry.binaries import Running, runner_of, running
from foundry.catalog import NAMESPACED_PLANES, PLANES, Catalog, Service
from foundry.config import KubernetesTarget, StackConfig
from foundry.labels import namespace_for, selector_labels
from foundry.lakehouse import load_tables
from foundry.outboxes import load_outboxes
from foundry.slos import load_slos
from foundry.streams import ControlBus, StreamRegistry
from foundry.topics import TopicRegistry
from foundry.upstream import Contracts

T = TypeVar("T")


def kubernetes_provider(target: KubernetesTarget) -> k8s.Provider:
    """Render mode writes manifests to a directory and needs no cluster; cluster mode targets a context."""
    if target.mode == "render":
        return k8s.Provider("kubernetes", render_yaml_to_directory=target.render_directory)
    return k8s.Provider("kubernetes", context=target.context, kubeconfig=target.kubeconfig,
                        enable_server_side_apply=True, delete_unreachable=False)


def build_platform(cfg: StackConfig, catalog: Catalog, registry: TopicRegistry, streams: StreamRegistry,
                   contracts: Contracts) -> dict[str, PlaneServices]:
    if cfg.kubernetes.local:
        rehearse()
    provider = kubernetes_provider(cfg.kubernetes)
    site, access = Site.of(cfg), StorageAccess.of(cfg.storage)
    trino, analytics = cfg.compute.trino, cfg.storage.lakehouse.analytics

    # the cluster: operators (official charts) and a namespace per plane
    namespaces = PlaneNamespaces("planes", PlaneNamespacesArgs(planes=NAMESPACED_PLANES, provider=provider))
    operators = Operators("operators", OperatorsArgs(operators=cfg.operators, provider=provider,
                                                     plane_namespaces=namespaces.namespaces))
    trust = PlatformTrust("trust", PlatformTrustArgs(
        provider=provider, cert_manager_ready=operators.ready("cert-manager", "trust-manager")))
    namespaces_ready = list(namespaces.namespaces.values())

    # the planes
    outboxes = load_outboxes().outboxes
    all_databases = databases(catalog, cfg.relational.postgres, outboxes={o.name for o in outboxes})
    backup_buckets = [*(db.bucket for db in all_databases), backup_bucket().name]
    copier = [copier_user(backup_buckets)] if cfg.storage.backups.offsite else []
    storage = StoragePlane("storage", StoragePlaneArgs(
        storage=cfg.storage, site=site, catalog=catalog, provider=provider,
        object_users=[*_warehouse_readers(cfg, trino_object_user(), clickhouse_object_user()), medusa_object_user(),
                      *copier],
        platform_buckets=[*lakehouse_buckets(cfg.storage.lakehouse), backup_bucket()],
        rook_ready=operators.ready("rook-ceph", "ceph-csi-drivers"), namespaces_ready=namespaces_ready,
    ))
    lakehouse = Lakehouse("lakehouse", LakehouseArgs(
        lakehouse=cfg.storage.lakehouse, gateway=access.gateway, site=site, images=cfg.images, catalog=catalog,
        provider=provider, lakekeeper_database=next(db for db in all_databases if db.owner == "lakekeeper"),
        openfga_database=next(db for db in all_databases if db.owner == "openfga"),
        query_engines=[*_warehouse_readers(cfg, trino_pods(), clickhouse_pods()),
                       *([writer_pods(), exporter_pods()] if analytics.enabled else [])],
        catalog_writers=[str(analytics.writer.catalog_principal)] if analytics.enabled else [],
        catalog_readers=[principal for principal in _warehouse_readers(
            cfg, trino.catalog_principal, cfg.storage.lakehouse.analytics.clickhouse.catalog_principal) if principal]
        + ([kubernetes_principal(namespace_for("storage"), TABLE_EXPORTER)] if analytics.enabled else []),
        sql_gateway=Pods(namespace_for(catalog.by_name(GATEWAY).plane), selector_labels(GATEWAY)), tables=load_tables(),
        flink_ready=operators.ready("flink-kubernetes-operator"), depends_on=[*namespaces_ready, storage.ceph],
    ), opts=pulumi.ResourceOptions(parent=storage))
    RelationalStatePlane("relational", RelationalStatePlaneArgs(
        postgres=cfg.relational.postgres, storage=access, site=site, databases=all_databases, provider=provider,
        cnpg_ready=operators.ready("cloudnative-pg", "plugin-barman-cloud"),
        buckets_ready=[storage.ceph],
        namespaces_ready=namespaces_ready,
        sql_reader=sql_reader(catalog),
        bucket_readers=copier, bucket_annotations=single_site_exemption(cfg.storage.backups),
    ))
    if cfg.storage.backups.offsite:
        OffsiteCopy("offsite-copy", OffsiteCopyArgs(
            offsite=cfg.storage.backups.offsite, buckets=backup_buckets, gateway=access.gateway, site=site,
            provider=provider, depends_on=[*namespaces_ready, storage.ceph]), opts=pulumi.ResourceOptions(parent=storage))
    runs = running(catalog, contracts)
    store_clients = cassandra_clients(runs)
    operational = OperationalStore("operational-store", OperationalStoreArgs(
        cassandra=cfg.relational.cassandra, clients=store_clients, zones=cfg.topology.zones,
        block_class=access.block_class, gateway=access.gateway, site=site, provider=provider,
        operator_ready=operators.ready("k8ssandra-operator"), trust_ready=[trust.issuer], namespaces_ready=namespaces_ready,
    ), opts=pulumi.ResourceOptions(parent=storage))
    scram, plaintext = _kafka_clients(catalog, runs)
    ingestion = IngestionPlane("ingestion", IngestionPlaneArgs(
        kafka=cfg.ingestion.kafka, site=site, block_storage_class=access.block_class, catalog=catalog,
        registry=registry, provider=provider, strimzi_ready=operators.ready("strimzi"), trust_ready=[trust.issuer],
        namespaces_ready=namespaces_ready, plaintext_clients=plaintext,
        clients=[*scram, *(writer_kafka_clients(load_tables()) if analytics.enabled else [])],
        relay=cfg.ingestion.outbox_relay, images=cfg.images, outboxes=outboxes,
        outbox_databases={db.owner: db for db in all_databases if db.outbox},
        wal_cap_bytes=slot_wal_cap_mb(cfg.relational.postgres.storage_size) * 2**20,
    ))
    control = ControlPlane("control", ControlPlaneArgs(
        nats=cfg.control.nats, site=site, block_storage_class=access.block_class, catalog=catalog,
        bus=ControlBus.of(streams, catalog, contracts),
        provider=provider, nack_ready=operators.ready("nack"), streams_as_code=not cfg.kubernetes.local,
        namespaces_ready=namespaces_ready,
    ))
    backends = sql_backends(catalog, all_databases, trino, cfg.storage.lakehouse.analytics.enabled)
    compute = ComputePlane("compute", ComputePlaneArgs(
        trino=trino, lakehouse=cfg.storage.lakehouse, gateway=access.gateway, site=site, catalog=catalog,
        backends=backends, provider=provider, depends_on=[*namespaces_ready, storage.ceph]))
    GatewayCache("gateway-cache", GatewayCacheArgs(
        cache=cfg.edge.cache, site=site, catalog=catalog, provider=provider, depends_on=namespaces_ready))

    # every plane's catalog services that run a binary, wired to what they use of the planes and what their binary
    # reads (data/upstream/binaries/)
    _report_waiting(runs)
    jwt_planes = sorted({run.service.plane for run in runs if needs_jwt_secret(run.binary)})
    jwt = PlatformJwt("jwt", PlatformJwtArgs(planes=jwt_planes, namespaces={p: namespaces.name_of(p) for p in jwt_planes},
                                             provider=provider, depends_on=namespaces_ready))
    endpoints = _service_endpoints(cfg, catalog, runs, all_databases)
    for client in store_clients:
        endpoints.setdefault(client.service, []).append(client.endpoint())
    clients: dict[str, KafkaClient] = {c.service: c for c in scram}
    buckets: dict[str, list[Bucket]] = {}
    for bucket in catalog_buckets(catalog):
        buckets.setdefault(bucket.owner, []).append(bucket)
    planes: dict[str, PlaneServices] = {
        plane: PlaneServices(
            plane,
            PlaneServicesArgs(plane=plane, running=runs, catalog=catalog, sizing=cfg.workloads_for(plane),
                              images=cfg.images, site=site,
                              gateway=access.gateway, ingress_namespace=cfg.edge.ingress_namespace,
                              namespace=namespaces.name_of(plane), provider=provider,
                              databases={db.owner: db for db in all_databases},
                              kafka_clients=clients, buckets=buckets, endpoints=endpoints,
                              platform=_platform_endpoints(cfg, catalog, contracts),
                              depends_on=[namespaces, ingestion, control, storage.ceph, jwt, operational]),
        )
        for plane in PLANES
    }

    # the way in, and the objectives over it all
    Edge("edge", EdgeArgs(edge=cfg.edge, catalog=catalog, provider=provider,
                          cert_manager_ready=operators.ready("cert-manager"), depends_on=[planes["edge"], planes["compute"]]))
    if cfg.is_prod:  # ADR-0012: development stacks are out of SLO scope
        ServiceLevelObjectives("slos", ServiceLevelObjectivesArgs(
            monitoring=cfg.monitoring, slos=load_slos(), catalog=catalog, topics=registry, provider=provider,
            depends_on=namespaces_ready))

    pulumi.export("environment", cfg.environment)
    pulumi.export("endpoints", {
        "gateway": f"https://{cfg.edge.host}",
        "flightSql": f"grpc+tls://{flight_sql_host(cfg.edge)}:443",
        "icebergCatalog": lakehouse.outputs["icebergCatalogUri"],
        "kafkaBootstrap": bootstrap_servers(),
        "nats": nats_url(),
    })
    pulumi.export("operators", {"install": operators.install, "charts": sorted(operators.charts)})
    pulumi.export("namespaces", {plane: namespaces.name_of(plane) for plane in NAMESPACED_PLANES})
    pulumi.export("databases", {db.owner: f"{db.cluster} ({db.host})" for db in all_databases})
    pulumi.export("storage", {**storage.outputs, **lakehouse.outputs})
    pulumi.export("nats", {"url": nats_url(), "streams": sorted(control.streams)})
    pulumi.export("kafka", {"topics": sorted(ingestion.topics), "principals": sorted(ingestion.users)})
    pulumi.export("services", {plane: sorted(p.workloads) for plane, p in planes.items()})
    pulumi.export("sqlBackends", compute.routes)
    return planes


def _warehouse_readers(cfg: StackConfig, trino: T, clickhouse: T) -> list[T]:
    """What a Trino and a ClickHouse reading the warehouse contribute, for the engines the stack deploys."""
    return ([trino] if cfg.compute.trino.enabled else []) + ([clickhouse] if cfg.storage.lakehouse.analytics.enabled else [])


def _platform_endpoints(cfg: StackConfig, catalog: Catalog, contracts: Contracts) -> Endpoints:
    """What the binaries' `platform.sets` sources resolve to in this stack."""
    def locate(binary: str) -> Service:
        found = runner_of(catalog, contracts, binary)
        if found is None:   # binary_problems (foundry/binaries.py) refuses such a contract before anything runs
            raise KeyError(binary)
        return found

    # the Foundry-internal warehouse (ADR-0041): the bucket its catalog service owns
    warehouse = locate("iceberg-catalog-service").buckets[0]
    return Endpoints(public_host=cfg.edge.host, cors_origins=",".join(cfg.edge.cors_origins),
                     anonymous_rate_limit=cfg.edge.rate_limit_per_minute, search_url=vespa_query_url(),
                     iceberg_warehouse=f"s3://{warehouse}", locate=locate)


def _kafka_clients(catalog: Catalog, runs: Sequence[Running]) -> tuple[list[KafkaClient], list[KafkaClient]]:
    """The data bus's clients: SCRAM principals for the catalog's data-bus services, and apart the services whose
    binary's Kafka client speaks only PLAINTEXT (they reach the brokers as ANONYMOUS: components/ingestion/anonymous.py)."""
    plain = {run.service.name for run in runs if run.binary.kafka and run.binary.kafka.security == "plaintext"}
    clients = kafka_clients(catalog)
    groups = {s.name: tuple(s.consumer_groups) for s in catalog.services}
    plaintext = [KafkaClient(run.service.name, namespace_for(run.service.plane), groups[run.service.name])
                 for run in runs if run.service.name in plain]
    return [c for c in clients if c.service not in plain], plaintext


def _report_waiting(runs: Sequence[Running]) -> None:
    waiting = sorted(run.service.name for run in runs if run.waiting)
    if waiting:
        pulumi.log.info(f"waiting for the operational store (Cassandra, ADR-0020), scaled to zero: {', '.join(waiting)}")


def _service_endpoints(cfg: StackConfig, catalog: Catalog, runs: Sequence[Running],
                       all_databases: Sequence[Database]) -> dict[str, list[PlatformEndpoint]]:
    """What each catalog service reaches beyond other catalog services: the lakehouse catalog and search, NATS,
    the Flight SQL gateway's backends, the gateway's cache."""
    endpoints = catalog_endpoints(cfg.storage.lakehouse, ObjectGateway.of(cfg.storage))
    for name, found in search_endpoints().items():
        endpoints.setdefault(name, []).extend(found)
    # NATS for the binaries with a NATS client (their contracts' `nats`); a service the seed puts on the control bus
    # whose binary has none at the pin keeps its account and subjects, and is handed no connection it would not open
    for run in (r for r in runs if r.service.uses_nats and r.binary.nats):
        endpoints.setdefault(run.service.name, []).append(nats_endpoint(run.service.name))
    endpoints.setdefault("sql-bi-gateway-service", []).extend(
        sql_gateway_endpoints(all_databases, cfg.compute.trino, cfg.storage.lakehouse.analytics.enabled))
    endpoints.setdefault("gateway", []).append(cache_endpoint(cfg.edge.cache))
    return endpoints
