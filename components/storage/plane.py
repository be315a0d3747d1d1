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

from components.common.endpoints import PlatformEndpoint
from components.common.site import Site
from components.relational.plane import Database
from components.storage.analytics import LakehouseAnalytics, LakehouseAnalyticsArgs
from components.storage.ceph import CephStorage, CephStorageArgs, ObjectGateway, ObjectUser
from components.storage.lakekeeper import (
    CATALOG_CLIENTS,
    Lakekeeper,
    LakekeeperArgs,
    authorization_clients,
    catalog_uri,
    lakekeeper_endpoint,
)
from components.storage.maintenance import IcebergMaintenance, IcebergMaintenanceArgs
from components.storage.openfga import OpenFga, OpenFgaArgs
from components.storage.table_health import IcebergTableHealth, IcebergTableHealthArgs
from components.storage.vespa import SEARCH_CLIENTS, Vespa, VespaArgs, vespa_endpoint, vespa_query_url
from components.storage.writers import IcebergWriters, IcebergWritersArgs, checkpoint_bucket
from foundry.catalog import Catalog
from foundry.config import Images, Lakehouse, Storage
from foundry.lakehouse import LakehouseRegistry


def endpoints_for(lakehouse: Lakehouse, gateway: ObjectGateway) -> dict[str, list[PlatformEndpoint]]:
    """Which catalog services reach which storage-plane component."""
    endpoints: dict[str, list[PlatformEndpoint]] = {}
    for service in CATALOG_CLIENTS:
        endpoints.setdefault(service, []).append(lakekeeper_endpoint(lakehouse.warehouse, lakehouse.audience, gateway))
    for service in SEARCH_CLIENTS:
        endpoints.setdefault(service, []).append(vespa_endpoint())
    return endpoints


@dataclass(frozen=True)
class StoragePlaneArgs:
    storage: Storage
    site: Site
    images: Images                     # the maintenance job's image
    catalog: Catalog
    lakekeeper_database: Database
    openfga_database: Database
    provider: k8s.Provider
    object_users: Sequence[ObjectUser] = ()                                   # other planes' RGW users (Trino)
    query_engines: Sequence[k8s.networking.v1.NetworkPolicyPeerArgs] = ()     # other readers of the warehouse
    catalog_readers: Sequence[str] = ()                                       # and their identities
    catalog_writers: Sequence[str] = ()                                       # the Iceberg writers' identity
    tables: LakehouseRegistry | None = None        # the lakehouse registry's tables, which the analytics dashboard shows
    sql_gateway: tuple[str, dict[str, str]] = ("", {})   # the Flight SQL gateway's namespace and pods (ClickHouse's caller)
    rook_ready: Sequence[pulumi.Resource] = ()
    flink_ready: Sequence[pulumi.Resource] = ()
    namespaces_ready: Sequence[pulumi.Resource] = ()


class StoragePlane(pulumi.ComponentResource):
    ceph: CephStorage

    def __init__(self, name: str, args: StoragePlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:StoragePlane", name, None, opts)
        storage, site, gateway = args.storage, args.site, ObjectGateway.of(args.storage)
        child = pulumi.ResourceOptions(parent=self)
        self.ceph = CephStorage("ceph", CephStorageArgs(
            storage=storage, site=site, catalog=args.catalog, provider=args.provider, rook_ready=args.rook_ready,
            namespaces_ready=args.namespaces_ready, object_users=args.object_users,
            platform_buckets=[checkpoint_bucket()] if storage.lakehouse.analytics.enabled else []), opts=child)
        ready = [*args.namespaces_ready, self.ceph]
        authorizer = OpenFga("openfga", OpenFgaArgs(
            replicas=storage.lakehouse.catalog_replicas, database=args.openfga_database, site=site,
            provider=args.provider, clients=authorization_clients(), depends_on=ready), opts=child)
        lakekeeper = Lakekeeper("lakekeeper", LakekeeperArgs(
            lakehouse=storage.lakehouse, gateway=gateway, site=site, catalog=args.catalog,
            database=args.lakekeeper_database, provider=args.provider, query_engines=args.query_engines,
            catalog_readers=args.catalog_readers, catalog_writers=args.catalog_writers,
            depends_on=[*ready, authorizer]), opts=child)
        Vespa("vespa", VespaArgs(vespa=storage.vespa, block_storage_class=storage.block_storage_class, site=site,
                                 catalog=args.catalog, provider=args.provider, depends_on=ready), opts=child)
        IcebergMaintenance("iceberg-maintenance", IcebergMaintenanceArgs(
            lakehouse=storage.lakehouse, gateway=gateway, images=args.images, site=site, provider=args.provider,
            flink_ready=args.flink_ready, depends_on=[*ready, lakekeeper]), opts=child)
        if storage.lakehouse.analytics.enabled:
            IcebergWriters("iceberg-writers", IcebergWritersArgs(
                lakehouse=storage.lakehouse, tables=args.tables or LakehouseRegistry(tables=[]), gateway=gateway,
                images=args.images, site=site, provider=args.provider, flink_ready=args.flink_ready,
                depends_on=[*ready, lakekeeper]), opts=child)
            IcebergTableHealth("iceberg-table-health", IcebergTableHealthArgs(
                lakehouse=storage.lakehouse, site=site, provider=args.provider, depends_on=[*ready, lakekeeper]),
                opts=child)
            LakehouseAnalytics("analytics", LakehouseAnalyticsArgs(
                lakehouse=storage.lakehouse, tables=args.tables or LakehouseRegistry(tables=[]), gateway=gateway, site=site,
                sql_gateway=args.sql_gateway, provider=args.provider, depends_on=[*ready, lakekeeper]), opts=child)
        self.outputs = {
            "blockStorageClass": storage.block_storage_class,
            "bucketStorageClass": storage.bucket_storage_class,
            "rgwEndpoint": storage.rgw_endpoint,
            "buckets": {bucket: f"{bucket} (ConfigMap and Secret {bucket})" for bucket in sorted(self.ceph.claims)},
            "icebergCatalogUri": catalog_uri(),
            "icebergWarehouse": storage.lakehouse.warehouse,
            "vespa": vespa_query_url(),
        }
        self.register_outputs(self.outputs)
