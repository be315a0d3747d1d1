"""The Iceberg blueprint's read path, an add-on of the storage plane (storage.lakehouse.analytics): ClickHouse over
the warehouse, and Grafana over ClickHouse: its data source (a Secret Grafana's sidecar provisions, with the
read-only user's password) and a dashboard of the lakehouse registry's tables (data/lakehouse.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.common.grafana import DASHBOARD_LABEL, DATASOURCE_LABEL, dashboard, panel
from components.common.kube import Pods
from components.common.site import Site
from components.lakehouse.clickhouse import ClickHouse, ClickHouseArgs, service_url
from components.lakehouse.clickhouse_config import DATABASE, GRAFANA, HTTP_PORT
from components.storage.ceph import ObjectGateway
from foundry.config import Lakehouse
from foundry.labels import common_labels, namespace_for
from foundry.lakehouse import LakehouseRegistry, Table

PLANE = "storage"
GRAFANA_OBJECTS_PLANE = "control"     # dashboards beside the SLO dashboards (components/observability/slos.py)
DATASOURCE_TYPE = "grafana-clickhouse-datasource"
DATASOURCE_UID = "openfoundry-lakehouse"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
# the plugin treats a target without a 4.x version as a v3 query and migrates it (src/data/migration.ts)
PLUGIN_VERSION = "4.20.0"


def datasource_provisioning(password: str) -> str:
    """Grafana's provisioning file for ClickHouse: HTTP, as the read-only `grafana` user, the warehouse database."""
    host = service_url().removeprefix("http://").rsplit(":", 1)[0]
    return yaml.safe_dump({"apiVersion": 1, "datasources": [{
        "name": "OpenFoundry lakehouse (ClickHouse)", "uid": DATASOURCE_UID, "type": DATASOURCE_TYPE,
        "editable": False,
        "jsonData": {"host": host, "port": HTTP_PORT, "protocol": "http", "secure": False,
                     "username": GRAFANA.name, "defaultDatabase": DATABASE},
        "secureJsonData": {"password": password},
    }]}, sort_keys=False)


def table_reference(table: Table) -> str:
    """How ClickHouse names a warehouse table: `lake`.`<namespace>.<table>`."""
    return f"{DATABASE}.`{table.name}`"


def table_queries(table: Table) -> list[tuple[str, str, str]]:
    """Each panel's title, kind (timeseries or table) and SQL, with the plugin's macros for the time range."""
    source, time, dimension = table_reference(table), table.time, table.dimension
    window = f"WHERE $__timeFilter({time})"
    return [
        (f"{table.name}: rows by {dimension}", "timeseries",
         f"SELECT $__timeInterval({time}) AS time, {dimension}, count() AS rows FROM {source} {window} "
         f"GROUP BY time, {dimension} ORDER BY time"),
        (f"{table.name}: top {dimension}", "table",
         f"SELECT {dimension}, count() AS rows FROM {source} {window} GROUP BY {dimension} ORDER BY rows DESC LIMIT 20"),
    ]


# the plugin's query formats (src/data/utils.ts): 0 a time series, 1 a table
FORMATS = {"timeseries": 0, "table": 1}


def analytics_dashboard(registry: LakehouseRegistry) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    for table in registry.tables:
        for title, kind, sql in table_queries(table):
            target = {"editorType": "sql", "rawSql": sql, "pluginVersion": PLUGIN_VERSION, "queryType": kind,
                      "format": FORMATS[kind]}
            panels.append(panel(len(panels) + 1, title, [target], kind=kind, datasource=DATASOURCE))
    return dashboard("openfoundry-lakehouse-analytics", "Lakehouse analytics (ClickHouse over Iceberg)", panels,
                     tags=("openfoundry", "lakehouse"), variables=[])


@dataclass(frozen=True)
class LakehouseAnalyticsArgs:
    lakehouse: Lakehouse
    tables: LakehouseRegistry
    gateway: ObjectGateway
    site: Site
    sql_gateway: Pods                           # sql-bi-gateway-service's pods (ClickHouse's caller)
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class LakehouseAnalytics(pulumi.ComponentResource):
    """ClickHouse, and Grafana's data source and dashboard over it."""

    def __init__(self, name: str, args: LakehouseAnalyticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:LakehouseAnalytics", name, None, opts)
        clickhouse = ClickHouse("clickhouse", ClickHouseArgs(
            lakehouse=args.lakehouse, gateway=args.gateway, site=args.site, sql_gateway=args.sql_gateway,
            grafana_namespace=args.site.monitoring.namespace, provider=args.provider, depends_on=args.depends_on),
            opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        namespace, labels = namespace_for(GRAFANA_OBJECTS_PLANE), common_labels(PLANE)
        # Grafana's data source sidecar watches its own namespace unless told otherwise (kube-prometheus-stack:
        # sidecar.datasources has no searchNamespace), so the data source goes where Grafana runs
        k8s.core.v1.Secret("grafana-datasource-lakehouse", metadata=k8s.meta.v1.ObjectMetaArgs(
            name="grafana-datasource-lakehouse", namespace=args.site.monitoring.namespace,
            labels={**labels, **DATASOURCE_LABEL}),
            type="Opaque", string_data={"lakehouse-clickhouse.yaml": clickhouse.passwords[GRAFANA.name].value.apply(
                datasource_provisioning)}, opts=child)
        k8s.core.v1.ConfigMap("dashboard-lakehouse-analytics", metadata=k8s.meta.v1.ObjectMetaArgs(
            name="dashboard-lakehouse-analytics", namespace=namespace, labels={**labels, **DASHBOARD_LABEL}),
            data={"lakehouse-analytics.json": json.dumps(analytics_dashboard(args.tables), indent=1, sort_keys=True)},
            opts=child)
        self.register_outputs({"clickhouse": service_url(), "datasource": DATASOURCE_UID,
                               "tables": [t.name for t in args.tables.tables]})
