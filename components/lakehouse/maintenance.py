"""Iceberg table maintenance for Lakekeeper's warehouse: compaction (rewrite data files), snapshot expiry and
orphan-file cleanup, the small-file and snapshot-growth costs the Iceberg blueprint names.

flink (prod): a FlinkDeployment running OpenFoundry's maintenance job, which drives Iceberg's Flink
TableMaintenance API (RewriteDataFiles, ExpireSnapshots, DeleteOrphanFiles) as a long-lived streaming job and
exports the blueprint's table metrics (iceberg_table_snapshot_count, _data_files, _total_records,
_total_size_bytes, iceberg_compaction_duration_seconds) through Flink's Prometheus reporter.
cronjob (dev, where no Flink operator runs): the same image runs one maintenance pass per schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.namespaces import api_server_egress
from components.common.endpoints import ServiceAccountToken
from components.common.kube import peer, pod_monitor, scrape_ingress, secret_env
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.lakehouse.lakekeeper import (
    BUCKET,
    FLINK_ACCOUNT,
    MAINTENANCE_JOB,
    catalog_token,
    catalog_uri,
    lakekeeper_endpoint,
)
from components.storage.ceph import ObjectGateway
from foundry.config import Images, Lakehouse
from foundry.labels import common_labels, namespace_for
from foundry.versions import FLINK_VERSION

NAME = MAINTENANCE_JOB
PLANE = "storage"
FLINK_OPERATOR_NAMESPACE = "flink-system"
FLINK_REST_PORT = 8081
METRICS_PORT = 9249
FLINK_USER = 9999   # the flink user of the official Flink images
JAR = "local:///opt/flink/usrlib/iceberg-maintenance.jar"
ENTRY_CLASS = "dev.openfoundry.iceberg.maintenance.TableMaintenanceJob"
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# a Flink job's pods write their plugins and temp files below their image's root
FLINK_ROOT_EXEMPTION = {"policy.openfoundry.dev/exempt": "read-only-root-filesystem",
                        "policy.openfoundry.dev/exempt-reason": "Flink writes its plugins and temp files below /opt/flink"}


def restricted_flink_pod(env: list[dict[str, Any]], mounts: list[dict[str, Any]],
                         volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """A FlinkDeployment's pod spec the restricted Pod Security level admits: neither the operator nor Flink's
    native mode adds a container securityContext, so all of it comes from the template (the root stays writable:
    FLINK_ROOT_EXEMPTION)."""
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": FLINK_USER, "runAsGroup": FLINK_USER,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "flink-main-container", "env": env,
                        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
                        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                            "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": mounts}],
        "volumes": volumes,
    }


@dataclass(frozen=True)
class IcebergMaintenanceArgs:
    lakehouse: Lakehouse
    gateway: ObjectGateway
    images: Images
    site: Site
    provider: k8s.Provider
    flink_ready: Sequence[pulumi.Resource] = ()
    depends_on: Sequence[pulumi.Resource] = ()


class IcebergMaintenance(pulumi.ComponentResource):
    def __init__(self, name: str, args: IcebergMaintenanceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:IcebergMaintenance", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        if args.lakehouse.maintenance.engine == "flink":
            self._flink_deployment()
        else:
            self._cron_job()
        self._network_policy()
        self.register_outputs({"engine": args.lakehouse.maintenance.engine})

    def _job_args(self, once: bool) -> list[str]:
        lake = self._args.lakehouse
        m = lake.maintenance
        return ["--catalog-uri", catalog_uri(), "--warehouse", lake.warehouse,
                "--rewrite-interval", f"{m.rewrite_interval_minutes}m",
                "--snapshot-retention", f"{m.snapshot_retention_days}d",
                "--orphan-file-retention", f"{m.orphan_file_retention_days}d",
                *(["--once"] if once else [])]

    def _image(self) -> str:
        return self._args.images.of(NAME)

    def _s3_env(self) -> list[dict[str, Any]]:
        """The warehouse bucket's claim: the job reads and rewrites the table files; and its catalog token's file."""
        token = self._token()
        return [{"name": "S3_ENDPOINT", "value": self._args.gateway.endpoint},
                *({"name": key, "valueFrom": {"secretKeyRef": {"name": BUCKET, "key": key}}} for key in S3_KEYS),
                {"name": token.variable, "value": token.path}]

    def _token(self) -> ServiceAccountToken:
        """The job signs its catalog calls with its ServiceAccount's token (read afresh for each call: the kubelet
        renews the file), which Lakekeeper reviews: no identity-provider secret to hand over."""
        return catalog_token(self._args.lakehouse.audience)

    def _flink_deployment(self) -> None:
        token = self._token()
        spec = {
            "image": self._image(),
            "flinkVersion": FLINK_VERSION,
            "serviceAccount": FLINK_ACCOUNT,
            "flinkConfiguration": {
                "taskmanager.numberOfTaskSlots": "2",
                "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
                "metrics.reporter.prom.port": str(METRICS_PORT),
            },
            "podTemplate": {"spec": restricted_flink_pod(
                self._s3_env(),
                [{"name": f"token-{token.audience}", "mountPath": token.directory, "readOnly": True}],
                [{"name": f"token-{token.audience}", "projected": {"sources": [{"serviceAccountToken": {
                    "audience": token.audience, "expirationSeconds": token.expiration_seconds, "path": "token"}}]}}])},
            "jobManager": {"resource": {"memory": "2048m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "4096m", "cpu": 2}},
            # maintenance passes are idempotent: a restart needs no savepoint
            "job": {"jarURI": JAR, "entryClass": ENTRY_CLASS, "args": self._job_args(once=False),
                    "parallelism": 2, "upgradeMode": "stateless"},
        }
        opts = self._child(depends_on=[*self._args.flink_ready])
        k8s.apiextensions.CustomResource(f"{NAME}-flinkdeployment", api_version="flink.apache.org/v1beta1",
                                         kind="FlinkDeployment", metadata=self._metadata(), spec=spec, opts=opts)
        pod_monitor(NAME, self._namespace, common_labels(PLANE), {"app": NAME}, self._args.site, self._child(),
                    resource_name=f"{NAME}-podmonitor")

    def _cron_job(self) -> None:
        m = self._args.lakehouse.maintenance
        token = self._token()
        env = [k8s.core.v1.EnvVarArgs(name="S3_ENDPOINT", value=self._args.gateway.endpoint),
               *(secret_env(key, BUCKET, key) for key in S3_KEYS), token.env()]
        account = k8s.core.v1.ServiceAccount(NAME, metadata=self._metadata(), automount_service_account_token=False,
                                             opts=self._child())
        container = k8s.core.v1.ContainerArgs(
            name=NAME, image=self._image(), env=env, volume_mounts=[token.mount()],
            # the job's main class on a local Flink environment: one maintenance pass, then exit
            command=["java", "-cp", f"{JAR.removeprefix('local://')}:/opt/flink/lib/*", ENTRY_CLASS],
            args=self._job_args(once=True),
            security_context=restricted_container(read_only_root=False),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "500m", "memory": "1Gi"},
                                                           limits={"cpu": "2", "memory": "2Gi"}))
        k8s.batch.v1.CronJob(NAME, metadata=self._metadata(), spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=m.schedule,
            concurrency_policy="Forbid",
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=2,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app": NAME, **common_labels(PLANE)}),
                    spec=k8s.core.v1.PodSpecArgs(restart_policy="Never", service_account_name=account.metadata.name,
                                                 automount_service_account_token=False, volumes=[token.volume()],
                                                 security_context=restricted_pod(FLINK_USER), containers=[container]),
                ),
            )),
        ), opts=self._child())

    def _network_policy(self) -> None:
        own_pods = peer(pods={"app": NAME})
        operator = peer(FLINK_OPERATOR_NAMESPACE)
        lake = self._args.lakehouse
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": NAME}),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[own_pods]),
                     scrape_ingress(self._args.site, [METRICS_PORT]),
                     k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[operator], ports=[
                         k8s.networking.v1.NetworkPolicyPortArgs(port=FLINK_REST_PORT, protocol="TCP")])],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[own_pods]),
                *lakekeeper_endpoint(lake.warehouse, lake.audience, self._args.gateway).egress_rules(),
                api_server_egress(),  # Flink's native Kubernetes mode starts its TaskManagers itself
            ],
        ), opts=self._child())

    def _metadata(self) -> k8s.meta.v1.ObjectMetaArgs:
        # the job unpacks Flink's plugins and temp files below its root
        exempt = FLINK_ROOT_EXEMPTION
        return k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=self._namespace, labels=common_labels(PLANE),
                                          annotations=exempt)

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])
