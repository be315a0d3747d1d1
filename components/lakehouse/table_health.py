"""The warehouse's table health (seed 002, "Monitoring"): an exporter of every table's metrics
(components/lakehouse/table_exporter.py) and the alerts of the blueprint's two costs, small files from streaming
writes and snapshots that accumulate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import custom_resource, peer, pod_monitor, scrape_ingress
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.lakehouse.lakekeeper import NAME as LAKEKEEPER
from components.lakehouse.lakekeeper import REST_PORT, catalog_token, catalog_uri
from foundry.config import Lakehouse
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import PYTHON_IMAGE

NAME = "iceberg-table-exporter"
PLANE = "storage"
PORT = 9464
NOBODY = 65534
REFRESH_SECONDS = 60
PROGRAM = Path(__file__).with_name("table_exporter.py").read_text(encoding="utf-8")
# implied: Iceberg writes data files of 512 MiB by default (write.target-file-size-bytes); a table whose files
# average under a sixteenth of that, and has more than a hundred, is paying the small-file cost the blueprint names
SMALL_FILE_BYTES = 32 * 2**20
SMALL_FILE_MIN_FILES = 100


def exporter_pods() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return peer(namespace_for(PLANE), selector_labels(NAME))


def alert_rules(snapshot_retention_days: int) -> list[dict[str, Any]]:
    """Small files, snapshots kept past their retention (expiry not running), and an exporter gone quiet."""
    table = "{{ $labels.iceberg_namespace }}.{{ $labels.table }}"
    return [
        {"alert": "IcebergSmallFiles",
         "expr": f"iceberg_table_data_files > {SMALL_FILE_MIN_FILES} and "
                 f"iceberg_table_average_file_size_bytes < {SMALL_FILE_BYTES}",
         "for": "6h", "labels": {"severity": "warning"},
         "annotations": {"summary": f"{table}: many small data files",
                         "description": f"{table} keeps {{{{ $value }}}} data files averaging under 32 MiB: compaction "
                                        "(the Iceberg maintenance's rewrite) is not keeping up with streaming writes."}},
        {"alert": "IcebergSnapshotsNotExpiring",
         "expr": f"time() - iceberg_table_oldest_snapshot_timestamp_seconds > {(snapshot_retention_days + 1) * 86400}"
                 " and iceberg_table_oldest_snapshot_timestamp_seconds > 0",
         "for": "1h", "labels": {"severity": "warning"},
         "annotations": {"summary": f"{table}: snapshots older than their retention",
                         "description": f"{table} keeps snapshots older than {snapshot_retention_days} days and one: "
                                        "snapshot expiry is not running, and the metadata keeps growing."}},
        {"alert": "IcebergTableHealthStale",
         "expr": "time() - iceberg_table_exporter_last_refresh_timestamp_seconds > 600 "
                 "or iceberg_table_exporter_errors > 0",
         "for": "15m", "labels": {"severity": "warning"},
         "annotations": {"summary": "Iceberg table health is not being read",
                         "description": "The table exporter has not read the catalog for ten minutes, or some tables "
                                        "could not be read (its log says which)."}},
    ]


@dataclass(frozen=True)
class IcebergTableHealthArgs:
    lakehouse: Lakehouse
    site: Site
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class IcebergTableHealth(pulumi.ComponentResource):
    """The exporter (ServiceAccount, program, Deployment, NetworkPolicy, PodMonitor) and its alerts."""

    def __init__(self, name: str, args: IcebergTableHealthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:IcebergTableHealth", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        account = k8s.core.v1.ServiceAccount(NAME, metadata=self._metadata(NAME), automount_service_account_token=False,
                                             opts=self._child())
        k8s.core.v1.ConfigMap(NAME, metadata=self._metadata(NAME), data={"table_exporter.py": PROGRAM},
                              opts=self._child())
        self._deployment(account)
        self._network_policy()
        pod_monitor(NAME, self._namespace, common_labels(PLANE), selector_labels(NAME), args.site, self._child())
        rule_labels = {**common_labels(PLANE), **args.site.scrape_labels}
        custom_resource("monitoring.coreos.com/v1", "PrometheusRule", "iceberg-table-health", self._namespace, rule_labels,
                        {"groups": [{"name": "iceberg-table-health",
                                     "rules": alert_rules(args.lakehouse.maintenance.snapshot_retention_days)}]},
                        self._child())
        self.register_outputs({"metrics": f"http://{NAME}.{self._namespace}.svc:{PORT}/metrics"})

    def _deployment(self, account: k8s.core.v1.ServiceAccount) -> None:
        token = catalog_token(self._args.lakehouse.audience)
        env = [k8s.core.v1.EnvVarArgs(name="CATALOG_URL", value=catalog_uri()),
               k8s.core.v1.EnvVarArgs(name="WAREHOUSE", value=self._args.lakehouse.warehouse),
               k8s.core.v1.EnvVarArgs(name="REFRESH_SECONDS", value=str(REFRESH_SECONDS)),
               k8s.core.v1.EnvVarArgs(name="PORT", value=str(PORT)),
               k8s.core.v1.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1"), token.env()]
        probe = k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/healthz", port="metrics"),
                                      period_seconds=20)
        labels = {**common_labels(PLANE), **selector_labels(NAME)}
        k8s.apps.v1.Deployment(NAME, metadata=self._metadata(NAME), spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,   # a scrape target: two would report every table twice
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=account.metadata.name, automount_service_account_token=False,
                    security_context=restricted_pod(NOBODY),
                    volumes=[token.volume(), k8s.core.v1.VolumeArgs(
                        name="program", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=NAME))],
                    containers=[k8s.core.v1.ContainerArgs(
                        name=NAME, image=PYTHON_IMAGE, command=["python", "/program/table_exporter.py"], env=env,
                        ports=[k8s.core.v1.ContainerPortArgs(name="metrics", container_port=PORT, protocol="TCP")],
                        readiness_probe=probe, liveness_probe=probe, security_context=restricted_container(),
                        volume_mounts=[token.mount(), k8s.core.v1.VolumeMountArgs(
                            name="program", mount_path="/program", read_only=True)],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "20m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "256Mi"}),
                    )],
                ),
            ),
        ), opts=self._child())

    def _network_policy(self) -> None:
        catalog = peer(self._namespace, selector_labels(LAKEKEEPER))
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(NAME), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[scrape_ingress(self._args.site, [PORT])],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[catalog], ports=[
                k8s.networking.v1.NetworkPolicyPortArgs(port=REST_PORT, protocol="TCP")])],
        ), opts=self._child())

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=common_labels(PLANE))

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=list(self._args.depends_on))
