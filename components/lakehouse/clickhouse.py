"""ClickHouse, the Iceberg blueprint's SQL reader (seed 002, "Read Path": CH --> Catalog, Grafana --> CH).

Stateless replicas over the warehouse: each pod's init container writes the `lake` database's definition
(Lakekeeper's REST catalog) where the server reads it at start, and the pod keeps nothing else, so a replica is
replaced like any Deployment's pod. It reads the tables' files from
RGW with its own read-only object user, logs in to the catalog as its own OAuth2 client (granted `select`), and
serves SQL over HTTP to exactly two callers: Grafana and sql-bi-gateway-service, each as a read-only user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.credentials import GeneratedPassword
from components.common.endpoints import PlatformEndpoint
from components.common.kube import EXTERNAL_SECRETS, Pods, peer, pod_monitor, scrape_ingress, secret_env, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.lakehouse.clickhouse_config import (
    CATALOG_CREDENTIAL_ENV,
    DATA_DIR,
    GATEWAY,
    HTTP_PORT,
    METADATA_DIR,
    METRICS_PORT,
    S3_KEY_ENV,
    SQL_USERS,
    init_script,
    server_config,
    users_config,
)
from components.lakehouse.lakekeeper import BUCKET as WAREHOUSE_BUCKET
from components.lakehouse.lakekeeper import catalog_uri, lakekeeper_endpoint
from components.storage.ceph import ObjectGateway, ObjectUser
from foundry.config import Lakehouse
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import CLICKHOUSE_IMAGE

NAME = "clickhouse"
PLANE = "storage"
CLICKHOUSE_USER = 101      # the official image's clickhouse user and group
# Created by the identity team: key `credential`, "<client id>:<client secret>" of ClickHouse's OAuth2 client
CATALOG_CREDENTIAL_SECRET = "clickhouse-catalog-oauth2"
PASSWORDS_SECRET = "clickhouse-users"
GATEWAY_SECRET = "clickhouse-gateway"          # in sql-bi-gateway-service's namespace
GRAFANA_POD_LABELS = {"app.kubernetes.io/name": "grafana"}   # kube-prometheus-stack's Grafana


def clickhouse_object_user() -> ObjectUser:
    """ClickHouse's own RGW user: it reads the warehouse bucket and may write nothing."""
    return ObjectUser(name=NAME, namespace=namespace_for(PLANE), buckets=(WAREHOUSE_BUCKET,), read_only=True)


def clickhouse_pods() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """ClickHouse's pods, as Lakekeeper admits them."""
    return peer(namespace_for(PLANE), selector_labels(NAME))


def service_url() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{HTTP_PORT}"


def clickhouse_endpoint() -> PlatformEndpoint:
    """sql-bi-gateway-service's way to ClickHouse (HTTP, as its read-only user, whose password is in the Secret beside
    it): open for a Flight SQL front of ClickHouse, as the binary reaches a backend only through one
    (*_FLIGHT_SQL_URL, data/upstream/binaries/sql-bi-gateway-service.yaml); none runs at the pin, so no variable
    points the binary here."""
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(HTTP_PORT,), env=())


@dataclass(frozen=True)
class ClickHouseArgs:
    lakehouse: Lakehouse
    gateway: ObjectGateway
    site: Site
    sql_gateway: Pods                           # sql-bi-gateway-service's pods: its caller, handed its password
    grafana_namespace: str
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class ClickHouse(pulumi.ComponentResource):
    """Passwords, configuration, the Deployment, its Service, disruption budget, NetworkPolicy and PodMonitor."""

    def __init__(self, name: str, args: ClickHouseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:ClickHouse", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        self._labels = {**common_labels(PLANE), **selector_labels(NAME)}
        self.passwords = {user.name: GeneratedPassword(f"{NAME}-{user.name}", length=32,
                                                       opts=pulumi.ResourceOptions(parent=self))
                          for user in SQL_USERS}
        k8s.core.v1.Secret(PASSWORDS_SECRET, metadata=self._metadata(PASSWORDS_SECRET), type="Opaque",
                           string_data={user.name: self.passwords[user.name].value for user in SQL_USERS},
                           opts=self._child())
        k8s.core.v1.Secret(GATEWAY_SECRET, metadata=k8s.meta.v1.ObjectMetaArgs(
            name=GATEWAY_SECRET, namespace=args.sql_gateway.namespace, labels=common_labels(PLANE)), type="Opaque",
            string_data={"username": GATEWAY.name, "password": self.passwords[GATEWAY.name].value},
            opts=self._child())
        files = {"openfoundry.xml": server_config(), "users.xml": users_config(), "init.sh": init_script()}
        k8s.core.v1.ConfigMap(NAME, metadata=self._metadata(NAME), data=files, opts=self._child())
        self._deployment(hashlib.sha256("".join(files.values()).encode()).hexdigest())
        k8s.core.v1.Service(NAME, metadata=self._metadata(NAME), spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP", selector=selector_labels(NAME),
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http", protocol="TCP")],
        ), opts=self._child())
        if args.site.prod:
            k8s.policy.v1.PodDisruptionBudget(NAME, metadata=self._metadata(NAME), spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME))),
                opts=self._child())
        self._network_policy()
        pod_monitor(NAME, self._namespace, common_labels(PLANE), selector_labels(NAME), args.site, self._child())
        self.register_outputs({"uri": service_url(), "users": [user.name for user in SQL_USERS]})

    def _deployment(self, config_sha: str) -> None:
        lake, site = self._args.lakehouse, self._args.site
        settings = lake.analytics.clickhouse
        pods = selector_labels(NAME)
        annotations = {EXTERNAL_SECRETS: CATALOG_CREDENTIAL_SECRET,
                       f"{EXTERNAL_SECRETS}-reason": "the identity team issues ClickHouse's OAuth2 client in the "
                                                     "catalog's realm"}
        keys = clickhouse_object_user().secret(self._args.gateway.store)
        database_env = [
            k8s.core.v1.EnvVarArgs(name="CATALOG_URI", value=catalog_uri()),
            k8s.core.v1.EnvVarArgs(name="WAREHOUSE", value=lake.warehouse),
            k8s.core.v1.EnvVarArgs(name="STORAGE_ENDPOINT", value=self._args.gateway.endpoint),
            k8s.core.v1.EnvVarArgs(name="CATALOG_OAUTH_SERVER_URI", value=str(settings.catalog_token_uri)),
            k8s.core.v1.EnvVarArgs(name="CATALOG_SCOPE", value=settings.catalog_scope),
            secret_env(CATALOG_CREDENTIAL_ENV, CATALOG_CREDENTIAL_SECRET, "credential"),
            secret_env(S3_KEY_ENV[0], keys, "AccessKey"),
            secret_env(S3_KEY_ENV[1], keys, "SecretKey"),
        ]
        metadata = k8s.core.v1.VolumeMountArgs(name="metadata", mount_path=METADATA_DIR)
        init = k8s.core.v1.ContainerArgs(
            name="warehouse-database", image=CLICKHOUSE_IMAGE, image_pull_policy="IfNotPresent",
            command=["/bin/bash", "/openfoundry/init.sh"], env=database_env,
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "10m", "memory": "16Mi"},
                                                           limits={"memory": "64Mi"}),
            security_context=restricted_container(),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="config", mount_path="/openfoundry/init.sh",
                                                       sub_path="init.sh", read_only=True), metadata])
        mounts = [("/etc/clickhouse-server/config.d/openfoundry.xml", "openfoundry.xml"),
                  ("/etc/clickhouse-server/users.d/openfoundry.xml", "users.xml")]
        container = k8s.core.v1.ContainerArgs(
            name=NAME, image=CLICKHOUSE_IMAGE, image_pull_policy="IfNotPresent",
            # the server itself, not the image's entrypoint (which writes below /etc and runs init scripts)
            command=["/usr/bin/clickhouse-server", "--config-file=/etc/clickhouse-server/config.xml"],
            env=[secret_env(user.password_env, PASSWORDS_SECRET, user.name) for user in SQL_USERS]
            # the server is PID 1 and Kubernetes restarts it: no watchdog process (the image's entrypoint sets this)
            + [k8s.core.v1.EnvVarArgs(name="CLICKHOUSE_WATCHDOG_ENABLE", value="0")],
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=HTTP_PORT, protocol="TCP"),
                   k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT, protocol="TCP")],
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": settings.cpu, "memory": settings.memory},
                                                           limits={"memory": settings.memory}),
            readiness_probe=k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/ping", port="http"),
                                                  period_seconds=5, failure_threshold=3),
            liveness_probe=k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/ping", port="http"),
                                                 initial_delay_seconds=30, period_seconds=20, failure_threshold=3),
            security_context=restricted_container(),
            volume_mounts=[*(k8s.core.v1.VolumeMountArgs(name="config", mount_path=path, sub_path=key, read_only=True)
                             for path, key in mounts),
                           k8s.core.v1.VolumeMountArgs(name="data", mount_path=DATA_DIR), metadata])
        k8s.apps.v1.Deployment(NAME, metadata=self._metadata(NAME, annotations), spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=settings.replicas,
            revision_history_limit=5,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels,
                                                    annotations={"openfoundry.io/config-sha256": config_sha}),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(CLICKHOUSE_USER),
                    topology_spread_constraints=[spread(site.zone_label, pods, hard=site.prod, per_revision=True),
                                                 spread("kubernetes.io/hostname", pods, hard=False, per_revision=True)],
                    init_containers=[init],
                    containers=[container],
                    volumes=[k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                 name=NAME)),
                             # caches and scratch of a stateless reader: gone with the pod
                             k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                 size_limit="20Gi")),
                             # the databases' definitions, the warehouse's with its credentials: in memory only
                             k8s.core.v1.VolumeArgs(name="metadata", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                 medium="Memory", size_limit="16Mi"))],
                ),
            ),
        ), opts=self._child())

    def _network_policy(self) -> None:
        """In: Grafana and the Flight SQL gateway (HTTP), Prometheus (metrics). Out: the catalog, RGW, the issuer."""
        http = [k8s.networking.v1.NetworkPolicyPortArgs(port=HTTP_PORT, protocol="TCP")]
        lake = self._args.lakehouse
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(NAME), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                         from_=[peer(self._args.grafana_namespace, GRAFANA_POD_LABELS),
                                self._args.sql_gateway.peer()], ports=http),
                     scrape_ingress(self._args.site, [METRICS_PORT])],
            # the catalog, and RGW for the tables' files
            egress=[*lakekeeper_endpoint(lake.warehouse, lake.audience, self._args.gateway).egress_rules(),
                    # the OAuth2 token endpoint, over HTTPS
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")])],
        ), opts=self._child())

    def _metadata(self, name: str, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=self._labels,
                                          annotations=annotations)

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=list(self._args.depends_on))
