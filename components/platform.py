"""The whole platform: the Kubernetes provider, the operators, the plane namespaces and every plane's services."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.cache import GatewayCache, GatewayCacheArgs, cache_endpoint
from components.ceph import Bucket, catalog_buckets
from components.compute import ComputePlane, ComputePlaneArgs, sql_gateway_endpoints, sql_reader, sql_routing_settings
from components.control import ControlPlane, ControlPlaneArgs, nats_endpoint, nats_url
from components.edge import Edge, EdgeArgs, flight_sql_host, gateway_settings
from components.ingestion import IngestionPlane, IngestionPlaneArgs, KafkaClient, bootstrap_servers, kafka_clients
from components.namespaces import PlaneNamespaces, PlaneNamespacesArgs
from components.operators import Operators, OperatorsArgs
from components.plane import PlaneServices, PlaneServicesArgs
from components.relational import RelationalStatePlane, RelationalStatePlaneArgs, databases
from components.slos import ServiceLevelObjectives, ServiceLevelObjectivesArgs
from components.storage import StoragePlane, StoragePlaneArgs, endpoints_for
from foundry.catalog import NAMESPACED_PLANES, PLANES, Catalog
from foundry.config import StackConfig
from foundry.slos import load_slos
from foundry.streams import StreamRegistry
from foundry.topics import TopicRegistry


def kubernetes_provider(cfg: StackConfig) -> k8s.Provider:
    """Render mode writes manifests to a directory and needs no cluster; cluster mode targets a context."""
    target = cfg.kubernetes
    if target.mode == "render":
        return k8s.Provider("kubernetes", render_yaml_to_directory=target.render_directory)
    return k8s.Provider("kubernetes", context=target.context, kubeconfig=target.kubeconfig,
                        enable_server_side_apply=True, delete_unreachable=False)


def build_platform(cfg: StackConfig, catalog: Catalog, registry: TopicRegistry,
                   streams: StreamRegistry) -> dict[str, PlaneServices]:
    provider = kubernetes_provider(cfg)
    operators = Operators("operators", OperatorsArgs(config=cfg, provider=provider))
    namespaces = PlaneNamespaces("planes", PlaneNamespacesArgs(planes=NAMESPACED_PLANES, provider=provider))
    all_databases = databases(catalog)
    storage = StoragePlane("storage", StoragePlaneArgs(
        config=cfg, catalog=catalog, provider=provider,
        lakekeeper_database=next(db for db in all_databases if db.owner == "lakekeeper"),
        rook_ready=operators.ready("rook-ceph", "ceph-csi-drivers"), flink_ready=operators.ready("flink-kubernetes-operator"),
        namespaces_ready=list(namespaces.namespaces.values()),
    ))
    RelationalStatePlane("relational", RelationalStatePlaneArgs(
        config=cfg, databases=all_databases, provider=provider,
        cnpg_ready=operators.ready("cloudnative-pg", "plugin-barman-cloud"),
        buckets_ready=[storage.ceph],
        namespaces_ready=list(namespaces.namespaces.values()),
        sql_reader=sql_reader(catalog),
    ))
    ingestion = IngestionPlane("ingestion", IngestionPlaneArgs(
        config=cfg, catalog=catalog, registry=registry, provider=provider,
        strimzi_ready=operators.ready("strimzi"), namespaces_ready=list(namespaces.namespaces.values()),
    ))
    control = ControlPlane("control", ControlPlaneArgs(
        config=cfg, catalog=catalog, streams=streams, provider=provider, nack_ready=operators.ready("nack"),
        namespaces_ready=list(namespaces.namespaces.values()),
    ))
    endpoints = endpoints_for(cfg)
    for service in (s for s in catalog.services if s.uses_nats):
        endpoints.setdefault(service.name, []).append(nats_endpoint(service.name))
    endpoints.setdefault("sql-bi-gateway-service", []).extend(sql_gateway_endpoints(cfg, all_databases))
    endpoints.setdefault("gateway", []).append(cache_endpoint(cfg))
    compute = ComputePlane("compute", ComputePlaneArgs(
        config=cfg, catalog=catalog, databases=all_databases, provider=provider,
        depends_on=[*namespaces.namespaces.values(), storage.ceph]))
    GatewayCache("gateway-cache", GatewayCacheArgs(
        config=cfg, catalog=catalog, provider=provider, depends_on=list(namespaces.namespaces.values())))
    clients: dict[str, KafkaClient] = {c.service: c for c in kafka_clients(catalog)}
    buckets: dict[str, list[Bucket]] = {}
    for bucket in catalog_buckets(catalog):
        buckets.setdefault(bucket.owner, []).append(bucket)
    planes: dict[str, PlaneServices] = {
        plane: PlaneServices(
            plane,
            PlaneServicesArgs(plane=plane, catalog=catalog, config=cfg, namespace=namespaces.name_of(plane),
                              provider=provider, databases={db.owner: db for db in all_databases},
                              kafka_clients=clients, buckets=buckets, endpoints=endpoints,
                              settings={"gateway": gateway_settings(cfg),
                                        "sql-bi-gateway-service": sql_routing_settings(cfg, catalog, all_databases)},
                              depends_on=[namespaces, ingestion, control, storage.ceph]),
        )
        for plane in PLANES
    }
    Edge("edge", EdgeArgs(config=cfg, catalog=catalog, provider=provider,
                          cert_manager_ready=operators.ready("cert-manager"), depends_on=[planes["edge"], planes["compute"]]))
    if cfg.is_prod:  # ADR-0012: development stacks are out of SLO scope
        ServiceLevelObjectives("slos", ServiceLevelObjectivesArgs(
            config=cfg, slos=load_slos(), provider=provider, depends_on=list(namespaces.namespaces.values())))
    pulumi.export("environment", cfg.environment)
    pulumi.export("endpoints", {
        "gateway": f"https://{cfg.edge.host}",
        "flightSql": f"grpc+tls://{flight_sql_host(cfg)}:443",
        "icebergCatalog": storage.outputs["icebergCatalogUri"],
        "kafkaBootstrap": bootstrap_servers(),
        "nats": nats_url(),
    })
    pulumi.export("operators", {"install": operators.install, "charts": sorted(operators.charts)})
    pulumi.export("namespaces", {plane: namespaces.name_of(plane) for plane in NAMESPACED_PLANES})
    pulumi.export("databases", {db.owner: f"{db.cluster} ({db.host})" for db in all_databases})
    pulumi.export("storage", storage.outputs)
    pulumi.export("nats", {"url": nats_url(), "streams": sorted(control.streams)})
    pulumi.export("kafka", {"topics": sorted(ingestion.topics), "principals": sorted(ingestion.users)})
    pulumi.export("services", {plane: sorted(p.workloads) for plane, p in planes.items()})
    pulumi.export("sqlBackends", compute.routes)
    return planes
