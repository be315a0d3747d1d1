"""The Iceberg blueprint's write path (seed 002: "Flink writes streaming and batch data into Iceberg tables"): for each
table of the lakehouse registry, a FlinkDeployment streaming its topic into it through Lakekeeper.

A writer is a platform client like any other: its own Kafka principal (Read on its one topic, its own consumer
group; made by the ingestion plane), its own OAuth2 client at the issuer (granted create and modify on the
warehouse), S3 requests to the tables signed by Lakekeeper, its checkpoints in its own bucket, and pods the
restricted Pod Security level admits. Exactly once: Iceberg's Flink sink commits the files of a checkpoint when the
checkpoint completes, and the Kafka offsets are part of that checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.namespaces import api_server_egress
from components.cluster.trust import CA, CA_DIRECTORY, CA_FILE, CA_KEY
from components.common.kube import EXTERNAL_SECRETS, peer, pod_monitor, scrape_ingress
from components.common.site import Site
from components.ingestion.clients import TLS_PORT, KafkaClient, bootstrap_servers, broker_peer
from components.lakehouse.lakekeeper import FLINK_ACCOUNT, catalog_uri, lakekeeper_endpoint
from components.lakehouse.maintenance import (
    FLINK_OPERATOR_NAMESPACE,
    FLINK_REST_PORT,
    FLINK_ROOT_EXEMPTION,
    METRICS_PORT,
    restricted_flink_pod,
)
from components.lakehouse.writer_sql import WriterEndpoints, script
from components.storage.ceph import Bucket, ObjectGateway
from foundry.config import Images, Lakehouse
from foundry.config.base import millicores
from foundry.labels import BUSES_LABEL, common_labels, namespace_for, selector_labels
from foundry.lakehouse import LakehouseRegistry, Table
from foundry.versions import FLINK_VERSION

PLANE = "storage"
IMAGE = "iceberg-writer"         # OpenFoundry's Flink 1.20 image with the Iceberg and Kafka connectors (docs/storage.md)
ENTRY_CLASS = "dev.openfoundry.iceberg.writer.SqlRunner"
JAR = "local:///opt/flink/usrlib/iceberg-writer.jar"
SCRIPT_DIRECTORY = "/opt/flink/usrlib/sql"
CHECKPOINT_BUCKET = "iceberg-writer-checkpoints"
OWNER = "iceberg-writer"
# Created by the identity team: key `credential`, "<client id>:<client secret>" of the writers' OAuth2 client
CATALOG_CREDENTIAL_SECRET = "iceberg-writer-catalog-oauth2"


def writer_name(table: Table) -> str:
    """A table's writer: `iceberg-writer-<namespace>-<table>`, a DNS label."""
    return f"{OWNER}-{table.namespace}-{table.table}".replace("_", "-")


def writer_kafka_clients(registry: LakehouseRegistry) -> list[KafkaClient]:
    """Each writer's principal: its topic to read, its own group (ingestion plane: KafkaUser and credentials)."""
    return [KafkaClient(writer_name(t), namespace_for(PLANE), groups=(writer_name(t),), reads=(t.source.topic,))
            for t in registry.tables]


def checkpoint_bucket() -> Bucket:
    return Bucket(CHECKPOINT_BUCKET, OWNER, namespace_for(PLANE))


def writer_pods() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Every writer's JobManager and TaskManagers, as Lakekeeper admits them."""
    return peer(namespace_for(PLANE), {"openfoundry.io/component": OWNER})


def flink_memory(quantity: str) -> str:
    """A Kubernetes quantity as Flink's memory size (megabytes, `m`)."""
    units = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return f"{int(float(quantity.removesuffix(suffix)) * factor)}m"
    return f"{int(float(quantity) / 2**20)}m"


@dataclass(frozen=True)
class IcebergWritersArgs:
    lakehouse: Lakehouse
    tables: LakehouseRegistry
    gateway: ObjectGateway
    images: Images
    site: Site
    provider: k8s.Provider
    flink_ready: Sequence[pulumi.Resource] = ()
    depends_on: Sequence[pulumi.Resource] = ()


class IcebergWriters(pulumi.ComponentResource):
    """Per table: the job's script, its FlinkDeployment, NetworkPolicy and PodMonitor."""

    def __init__(self, name: str, args: IcebergWritersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:IcebergWriters", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        for table in args.tables.tables:
            self._writer(table)
        self.register_outputs({"writers": {writer_name(t): f"{t.source.topic} -> {t.name}" for t in args.tables.tables}})

    def _endpoints(self, table: Table) -> WriterEndpoints:
        lake, writer = self._args.lakehouse, self._args.lakehouse.analytics.writer
        return WriterEndpoints(bootstrap_servers=bootstrap_servers(), ca_file=CA_FILE, group=writer_name(table),
                               catalog_uri=catalog_uri(), warehouse=lake.warehouse,
                               token_uri=str(writer.catalog_token_uri), scope=writer.catalog_scope,
                               object_store=self._args.gateway.endpoint)

    def _writer(self, table: Table) -> None:
        name = writer_name(table)
        text = script(table, self._endpoints(table))
        k8s.core.v1.ConfigMap(name, metadata=self._metadata(name), data={"job.sql": text}, opts=self._child())
        k8s.apiextensions.CustomResource(
            f"{name}-flinkdeployment", api_version="flink.apache.org/v1beta1", kind="FlinkDeployment",
            metadata=self._metadata(name, annotations={
                EXTERNAL_SECRETS: CATALOG_CREDENTIAL_SECRET,
                f"{EXTERNAL_SECRETS}-reason": "the identity team issues the writers' OAuth2 client in the catalog's realm",
                **FLINK_ROOT_EXEMPTION}),
            spec=self._spec(table, hashlib.sha256(text.encode()).hexdigest()),
            opts=self._child(depends_on=self._args.flink_ready))
        self._network_policy(name)
        pod_monitor(name, self._namespace, common_labels(PLANE), {"app": name}, self._args.site, self._child(),
                    resource_name=f"{name}-podmonitor")

    def _spec(self, table: Table, script_digest: str) -> dict[str, Any]:
        name, writer = writer_name(table), self._args.lakehouse.analytics.writer
        state = f"s3://{CHECKPOINT_BUCKET}/{name}"
        resources = {"memory": flink_memory(writer.memory), "cpu": millicores(writer.cpu) / 1000}
        return {
            "image": self._args.images.of(IMAGE),
            "flinkVersion": FLINK_VERSION,
            "serviceAccount": FLINK_ACCOUNT,
            "flinkConfiguration": {
                "taskmanager.numberOfTaskSlots": "2",
                "execution.checkpointing.interval": f"{writer.checkpoint_seconds}s",
                "execution.checkpointing.mode": "EXACTLY_ONCE",
                "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
                # one slow RGW write does not restart the job; three in a row do
                "execution.checkpointing.tolerable-failed-checkpoints": "3",
                "state.backend.type": "hashmap",
                # the heap state backend uses no managed memory: give it to the Parquet writers' heap instead
                "taskmanager.memory.managed.fraction": "0",
                "state.checkpoints.dir": f"{state}/checkpoints",
                "state.savepoints.dir": f"{state}/savepoints",
                # a JobManager that restarts resumes from the last checkpoint, not from the group's offsets
                "high-availability.type": "kubernetes",
                "high-availability.storageDir": f"{state}/ha",
                "s3.endpoint": self._args.gateway.endpoint,
                "s3.path.style.access": "true",
                "table.local-time-zone": "UTC",
                "restart-strategy.type": "exponential-delay",
                "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
                "metrics.reporter.prom.port": str(METRICS_PORT),
            },
            "podTemplate": self._pod_template(table, script_digest),
            "jobManager": {"resource": resources},
            "taskManager": {"resource": resources},
            "job": {"jarURI": JAR, "entryClass": ENTRY_CLASS, "args": [f"{SCRIPT_DIRECTORY}/job.sql"],
                    "parallelism": writer.parallelism, "upgradeMode": "savepoint", "state": "running"},
        }

    def _pod_template(self, table: Table, script_digest: str) -> dict[str, Any]:
        """Restricted pods with the script, the CA and their secrets; a new script changes the template, so the
        operator upgrades the job (by savepoint) rather than a restart picking it up unannounced."""
        name = writer_name(table)
        kafka = KafkaClient(name, self._namespace)
        secret_env = [(variable, secret, key) for variable, secret, key in (
            ("KAFKA_SASL_JAAS_CONFIG", kafka.secret, "sasl.jaas.config"),
            ("ICEBERG_OAUTH2_CREDENTIAL", CATALOG_CREDENTIAL_SECRET, "credential"),
            # Flink's S3 file system (checkpoints) takes the default AWS credential chain: the bucket claim's keys
            ("AWS_ACCESS_KEY_ID", CHECKPOINT_BUCKET, "AWS_ACCESS_KEY_ID"),
            ("AWS_SECRET_ACCESS_KEY", CHECKPOINT_BUCKET, "AWS_SECRET_ACCESS_KEY"))]
        labels = {**selector_labels(name), **common_labels(PLANE), "openfoundry.io/component": OWNER,
                  BUSES_LABEL: "data"}
        return {"metadata": {"labels": labels, "annotations": {"openfoundry.io/job-sql-sha256": script_digest}},
                "spec": restricted_flink_pod(
                    [{"name": v, "valueFrom": {"secretKeyRef": {"name": s, "key": k}}} for v, s, k in secret_env],
                    [{"name": "job", "mountPath": SCRIPT_DIRECTORY, "readOnly": True},
                     {"name": "openfoundry-ca", "mountPath": CA_DIRECTORY, "readOnly": True}],
                    [{"name": "job", "configMap": {"name": name}},
                     {"name": "openfoundry-ca", "configMap": {"name": CA, "items": [{"key": CA_KEY, "path": CA_KEY}]}}])}

    def _network_policy(self, name: str) -> None:
        """In: its own pods, the operator (REST), Prometheus. Out: its own pods, the brokers, the catalog and RGW, the
        issuer, and the API server (native Kubernetes mode starts the TaskManagers; HA keeps its leader there)."""
        lake = self._args.lakehouse
        own = peer(pods={"app": name})
        k8s.networking.v1.NetworkPolicy(name, metadata=self._metadata(name), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": name}),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[own]),
                     scrape_ingress(self._args.site, [METRICS_PORT]),
                     k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[peer(FLINK_OPERATOR_NAMESPACE)], ports=[
                         k8s.networking.v1.NetworkPolicyPortArgs(port=FLINK_REST_PORT, protocol="TCP")])],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[own]),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[broker_peer()], ports=[
                    k8s.networking.v1.NetworkPolicyPortArgs(port=TLS_PORT, protocol="TCP")]),
                *lakekeeper_endpoint(lake.warehouse, lake.audience, self._args.gateway).egress_rules(),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")]),
                api_server_egress(),
            ],
        ), opts=self._child())

    def _metadata(self, name: str, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=common_labels(PLANE),
                                          annotations=annotations)

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])
