"""The storage plane (seed: STORAGE PLANE; the Iceberg blueprint): Ceph, the lakehouse catalog, search,
and the maintenance that keeps Iceberg tables healthy, as one component built of smaller ones.

The services of the plane (iceberg-catalog-service, dataset-service, ...) are catalog workloads like any
other; what they need from here reaches them as environment variables and egress rules (`endpoints_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.ceph import CephStorage, CephStorageArgs
from components.endpoints import PlatformEndpoint
from components.lakekeeper import CATALOG_CLIENTS, Lakekeeper, LakekeeperArgs, catalog_uri, lakekeeper_endpoint
from components.maintenance import IcebergMaintenance, IcebergMaintenanceArgs
from components.relational import Database
from components.trino import trino_enabled, trino_object_user, trino_pods
from components.vespa import SEARCH_CLIENTS, Vespa, VespaArgs, vespa_endpoint, vespa_query_url
from foundry.catalog import Catalog
from foundry.config import StackConfig


def endpoints_for(cfg: StackConfig) -> dict[str, list[PlatformEndpoint]]:
    """Which catalog services reach which storage-plane component."""
    endpoints: dict[str, list[PlatformEndpoint]] = {}
    for service in CATALOG_CLIENTS:
        endpoints.setdefault(service, []).append(lakekeeper_endpoint(cfg.storage.lakehouse.warehouse))
    for service in SEARCH_CLIENTS:
        endpoints.setdefault(service, []).append(vespa_endpoint())
    return endpoints


@dataclass(frozen=True)
class StoragePlaneArgs:
    config: StackConfig
    catalog: Catalog
    lakekeeper_database: Database
    provider: k8s.Provider
    rook_ready: Sequence[pulumi.Resource] = ()
    flink_ready: Sequence[pulumi.Resource] = ()
    namespaces_ready: Sequence[pulumi.Resource] = ()


class StoragePlane(pulumi.ComponentResource):
    ceph: CephStorage

    def __init__(self, name: str, args: StoragePlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:StoragePlane", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.ceph = CephStorage("ceph", CephStorageArgs(
            config=cfg, catalog=args.catalog, provider=args.provider, rook_ready=args.rook_ready,
            namespaces_ready=args.namespaces_ready,
            object_users=[trino_object_user()] if trino_enabled(cfg) else []), opts=child)
        ready = [*args.namespaces_ready, self.ceph]
        lakekeeper = Lakekeeper("lakekeeper", LakekeeperArgs(
            config=cfg, catalog=args.catalog, database=args.lakekeeper_database, provider=args.provider,
            query_engines=[trino_pods()] if trino_enabled(cfg) else [], depends_on=ready), opts=child)
        Vespa("vespa", VespaArgs(config=cfg, catalog=args.catalog, provider=args.provider, depends_on=ready), opts=child)
        IcebergMaintenance("iceberg-maintenance", IcebergMaintenanceArgs(
            config=cfg, provider=args.provider, flink_ready=args.flink_ready, depends_on=[*ready, lakekeeper]),
            opts=child)
        self.outputs = {
            "blockStorageClass": cfg.storage.block_storage_class,
            "bucketStorageClass": cfg.storage.bucket_storage_class,
            "rgwEndpoint": cfg.storage.rgw_endpoint,
            "buckets": {bucket: f"{bucket} (ConfigMap and Secret {bucket})" for bucket in sorted(self.ceph.claims)},
            "icebergCatalogUri": catalog_uri(),
            "icebergWarehouse": cfg.storage.lakehouse.warehouse,
            "vespa": vespa_query_url(),
        }
        self.register_outputs(self.outputs)
