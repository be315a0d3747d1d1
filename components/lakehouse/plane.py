"""The Iceberg lakehouse of the storage plane (seed 002; ADR-0008), as one component: OpenFGA and Lakekeeper (the
REST catalog of the external warehouse), the table maintenance, and, when `storage.lakehouse.analytics` is on, the
Flink writers, the table-health exporter and the read path (ClickHouse, Grafana).

It is built as a child of the storage plane's component. Stacks created before it existed registered its parts
directly under the storage plane: each part carries that parent as an alias, so those stacks keep every URN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.endpoints import PlatformEndpoint
from components.common.kube import Pods
from components.common.site import Site
from components.lakehouse.analytics import LakehouseAnalytics, LakehouseAnalyticsArgs
from components.lakehouse.lakekeeper import (
    CATALOG_CLIENTS,
    Lakekeeper,
    LakekeeperArgs,
    authorization_clients,
    catalog_uri,
    lakekeeper_endpoint,
)
from components.lakehouse.maintenance import IcebergMaintenance, IcebergMaintenanceArgs
from components.lakehouse.openfga import OpenFga, OpenFgaArgs
from components.lakehouse.table_health import IcebergTableHealth, IcebergTableHealthArgs
from components.lakehouse.writers import IcebergWriters, IcebergWritersArgs, checkpoint_bucket
from components.relational.database import Database
from components.storage.ceph import Bucket, ObjectGateway
from foundry.catalog import Catalog
from foundry.config import Images
from foundry.config import Lakehouse as LakehouseSettings
from foundry.lakehouse import LakehouseRegistry


def catalog_endpoints(lakehouse: LakehouseSettings, gateway: ObjectGateway) -> dict[str, list[PlatformEndpoint]]:
    """Which catalog services reach the lakehouse catalog."""
    endpoint = lakekeeper_endpoint(lakehouse.warehouse, lakehouse.audience, gateway)
    return {service: [endpoint] for service in CATALOG_CLIENTS}


def lakehouse_buckets(lakehouse: LakehouseSettings) -> list[Bucket]:
    """The buckets the lakehouse's own components claim beyond the catalog's (the writers' checkpoints)."""
    return [checkpoint_bucket()] if lakehouse.analytics.enabled else []


@dataclass(frozen=True)
class LakehouseArgs:
    lakehouse: LakehouseSettings
    gateway: ObjectGateway
    site: Site
    images: Images                     # the maintenance job's and the writers' image
    catalog: Catalog
    lakekeeper_database: Database
    openfga_database: Database
    provider: k8s.Provider
    sql_gateway: Pods                  # the Flight SQL gateway's pods (ClickHouse's caller)
    query_engines: Sequence[k8s.networking.v1.NetworkPolicyPeerArgs] = ()     # other readers of the warehouse
    catalog_readers: Sequence[str] = ()                                       # and their identities
    catalog_writers: Sequence[str] = ()                                       # the Iceberg writers' identity
    tables: LakehouseRegistry | None = None        # the lakehouse registry's tables, which the analytics dashboard shows
    flink_ready: Sequence[pulumi.Resource] = ()
    depends_on: Sequence[pulumi.Resource] = ()     # the namespaces and the storage it stands on


class Lakehouse(pulumi.ComponentResource):
    """Built with `parent=` the storage plane's component (its parts' former parent, which their aliases name)."""

    def __init__(self, name: str, args: LakehouseArgs, opts: pulumi.ResourceOptions) -> None:
        super().__init__("openfoundry:storage:Lakehouse", name, None, opts)
        lake, site, gateway = args.lakehouse, args.site, args.gateway
        child = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=opts.parent)])
        ready = list(args.depends_on)
        tables = args.tables or LakehouseRegistry(tables=[])
        authorizer = OpenFga("openfga", OpenFgaArgs(
            replicas=lake.catalog_replicas, database=args.openfga_database, site=site,
            provider=args.provider, clients=authorization_clients(), depends_on=ready), opts=child)
        lakekeeper = Lakekeeper("lakekeeper", LakekeeperArgs(
            lakehouse=lake, gateway=gateway, site=site, catalog=args.catalog,
            database=args.lakekeeper_database, provider=args.provider, query_engines=args.query_engines,
            catalog_readers=args.catalog_readers, catalog_writers=args.catalog_writers,
            depends_on=[*ready, authorizer]), opts=child)
        IcebergMaintenance("iceberg-maintenance", IcebergMaintenanceArgs(
            lakehouse=lake, gateway=gateway, images=args.images, site=site, provider=args.provider,
            flink_ready=args.flink_ready, depends_on=[*ready, lakekeeper]), opts=child)
        if lake.analytics.enabled:
            IcebergWriters("iceberg-writers", IcebergWritersArgs(
                lakehouse=lake, tables=tables, gateway=gateway, images=args.images, site=site, provider=args.provider,
                flink_ready=args.flink_ready, depends_on=[*ready, lakekeeper]), opts=child)
            IcebergTableHealth("iceberg-table-health", IcebergTableHealthArgs(
                lakehouse=lake, site=site, provider=args.provider, depends_on=[*ready, lakekeeper]), opts=child)
            LakehouseAnalytics("analytics", LakehouseAnalyticsArgs(
                lakehouse=lake, tables=tables, gateway=gateway, site=site, sql_gateway=args.sql_gateway,
                provider=args.provider, depends_on=[*ready, lakekeeper]), opts=child)
        self.outputs = {"icebergCatalogUri": catalog_uri(), "icebergWarehouse": lake.warehouse}
        self.register_outputs(self.outputs)
