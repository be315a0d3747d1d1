"""Trino (ADR-0029): the Iceberg analytics backend behind sql-bi-gateway-service, never an edge of its own.

A coordinator and a pool of workers reading and writing the external warehouse through Lakekeeper's Iceberg
REST catalog, with data in Ceph RGW through Trino's native S3 file system. Trino runs without authentication
("the default installation of Trino has no security features enabled"), so it is ClusterIP only and a
NetworkPolicy admits sql-bi-gateway-service alone; the nodes sign their internal calls with a generated secret.
Its S3 keys belong to its own RGW user, granted the warehouse bucket by the bucket's policy (components/ceph.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.credentials import GeneratedPassword
from components.common.endpoints import PlatformEndpoint
from components.common.kube import EXTERNAL_SECRETS, peer, secret_env, service_peer, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.lakehouse.lakekeeper import BUCKET as WAREHOUSE_BUCKET
from components.lakehouse.lakekeeper import REST_PORT, catalog_uri
from components.storage.ceph import ObjectGateway, ObjectUser
from foundry.catalog import Catalog
from foundry.config import Lakehouse
from foundry.config import Trino as TrinoSettings
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import TRINO_IMAGE

NAME = "trino"
PLANE = "compute"
HTTP_PORT = 8080
TRINO_USER = 1000          # the image's `trino` user
ROLE_LABEL = "app.kubernetes.io/component"
CATALOG = "iceberg"
DATA_DIR = "/data/trino"
SHARED_SECRET = "trino-internal"
# Created by the identity team when Lakekeeper requires OIDC: key `credential`, "<client id>:<client secret>".
CATALOG_CREDENTIAL_SECRET = "trino-catalog-oauth2"
# The seed: sql-bi-gateway-service routes Iceberg analytics statements to Trino. Nothing else may call it.
QUERY_CLIENTS = ("sql-bi-gateway-service",)
# Trino's recommended JVM flags (trino.io/docs/current/installation/deployment, "JVM config"); the heap follows
# the container's memory limit. No heap dumps: a worker's heap is larger than its scratch volume.
JVM_FLAGS = (
    "-server",
    "-XX:InitialRAMPercentage=80",
    "-XX:MaxRAMPercentage=80",
    "-XX:G1HeapRegionSize=32M",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=512M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    "-XX:+EnableDynamicAgentLoading",
)


WORKER_DRAIN_SECONDS = 600
# Trino does not drain on SIGTERM: ask the worker to shut down gracefully (it finishes its tasks, then exits)
# and hold the stop until it has (trino.io/docs/current/admin/graceful-shutdown).
DRAIN_USER = "openfoundry-drain"
DRAIN_WORKER = (
    f"curl -fsS -X PUT -H 'Content-Type: application/json' -H 'X-Trino-User: {DRAIN_USER}' "
    f"-d '\"SHUTTING_DOWN\"' http://localhost:{HTTP_PORT}/v1/info/state "
    "|| { echo 'trino refused the graceful shutdown' >&2; exit 1; }; "
    f"while curl -fsS -o /dev/null http://localhost:{HTTP_PORT}/v1/info; do sleep 5; done"
)


def graceful_shutdown() -> k8s.core.v1.LifecycleArgs:
    return k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=["sh", "-c", DRAIN_WORKER])))


def trino_pods() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Every Trino node, as a peer for the policies of what it calls (Lakekeeper)."""
    return peer(namespace_for(PLANE), selector_labels(NAME))


def trino_object_user() -> ObjectUser:
    """Trino's own RGW user, in Trino's namespace, granted the warehouse bucket Lakekeeper registers."""
    return ObjectUser(name=NAME, namespace=namespace_for(PLANE), buckets=(WAREHOUSE_BUCKET,))


def trino_endpoint() -> PlatformEndpoint:
    """The gateway's way to the coordinator: open for a Flight SQL front of Trino (TRINO_FLIGHT_SQL_URL), which
    neither OpenFoundry nor this platform runs at the pin (data/upstream/binaries/sql-bi-gateway-service.yaml)."""
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=(*selector_labels(NAME).items(), (ROLE_LABEL, "coordinator")),
                            ports=(HTTP_PORT,), env=())


def service_url() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{HTTP_PORT}"


def properties(values: Mapping[str, str | int | bool]) -> str:
    """A Java properties file, keys in the order given."""
    return "".join(f"{key}={str(value).lower() if isinstance(value, bool) else value}\n" for key, value in values.items())


def node_config(coordinator: bool) -> str:
    values: dict[str, str | int | bool] = {"coordinator": coordinator}
    if coordinator:
        values["node-scheduler.include-coordinator"] = False
    values.update({
        "http-server.http.port": HTTP_PORT,
        # the coordinator announces to itself: through the Service, a rollout's two coordinators would split the
        # workers between them (the official chart does the same)
        "discovery.uri": f"http://localhost:{HTTP_PORT}" if coordinator else service_url(),
        "internal-communication.shared-secret": "${ENV:TRINO_SHARED_SECRET}",
    })
    return properties(values)


# Trino's default system access control refuses a graceful shutdown to everyone (trino.io/docs/current/admin/
# graceful-shutdown.html): a worker's file-based rules let the drain user, alone, write system information. As the
# official chart does for workers only: the coordinator keeps the default, which authorizes the queries.
WORKER_RULES = "graceful-shutdown-rules.json"


def worker_access_control() -> dict[str, str]:
    rules = {"system_information": [{"user": DRAIN_USER, "allow": ["read", "write"]}]}
    return {"access-control.properties": properties({"access-control.name": "file",
                                                      "security.config-file": f"/etc/trino/{WORKER_RULES}"}),
            WORKER_RULES: json.dumps(rules, indent=1, sort_keys=True) + "\n"}


def node_properties(environment: str) -> str:
    # node.environment: lowercase letters, digits and underscores; every node of one cluster shares it
    return properties({"node.environment": f"openfoundry_{environment}", "node.data-dir": DATA_DIR,
                       "plugin.dir": "/usr/lib/trino/plugin"})


def uses_oauth2(trino: TrinoSettings, lakehouse: Lakehouse) -> bool:
    """Lakekeeper requires OIDC and Trino has a token endpoint: the catalog login is OAuth2 client credentials."""
    return bool(lakehouse.openid_provider_uri and trino.catalog_token_uri)


def iceberg_catalog(trino: TrinoSettings, lakehouse: Lakehouse, object_store_endpoint: str) -> str:
    """The Iceberg REST catalog on Lakekeeper, Parquet + ZSTD (seed 002), data on RGW through native S3."""
    values: dict[str, str | int | bool] = {
        "connector.name": "iceberg",
        "iceberg.catalog.type": "rest",
        "iceberg.rest-catalog.uri": catalog_uri(),
        "iceberg.rest-catalog.warehouse": lakehouse.warehouse,
        "iceberg.file-format": "PARQUET",
        "iceberg.compression-codec": "ZSTD",
        "fs.s3.enabled": True,   # fs.native-s3.enabled until 481, a deprecated alias since
        "s3.endpoint": object_store_endpoint,
        "s3.region": "us-east-1",
        "s3.path-style-access": True,
        "s3.aws-access-key": "${ENV:AWS_ACCESS_KEY_ID}",
        "s3.aws-secret-key": "${ENV:AWS_SECRET_ACCESS_KEY}",
        # Lakekeeper and the other readers hold the bucket owner's keys: Trino's objects must be theirs too
        "s3.canned-acl": "BUCKET_OWNER_FULL_CONTROL",
    }
    if uses_oauth2(trino, lakehouse):
        values.update({
            "iceberg.rest-catalog.security": "OAUTH2",
            "iceberg.rest-catalog.oauth2.server-uri": str(trino.catalog_token_uri),
            "iceberg.rest-catalog.oauth2.credential": "${ENV:ICEBERG_OAUTH2_CREDENTIAL}",
            # a scope the identity provider knows (Iceberg's default, `catalog`, is refused by Keycloak)
            "iceberg.rest-catalog.oauth2.scope": trino.catalog_scope,
            # renew with client credentials: Keycloak does not do the token exchange Iceberg tries first
            "iceberg.rest-catalog.oauth2.token-exchange-enabled": False,
        })
    return properties(values)


@dataclass(frozen=True)
class TrinoArgs:
    trino: TrinoSettings
    lakehouse: Lakehouse
    gateway: ObjectGateway
    site: Site
    catalog: Catalog
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class _Role:
    component: str       # coordinator | worker (app.kubernetes.io/component)
    replicas: int
    cpu: str
    memory: str

    @property
    def name(self) -> str:
        return f"{NAME}-{self.component}"

    @property
    def coordinator(self) -> bool:
        return self.component == "coordinator"

    @property
    def pods(self) -> dict[str, str]:
        return {ROLE_LABEL: self.component, **selector_labels(NAME)}


class Trino(pulumi.ComponentResource):
    """The coordinator and worker Deployments, their configuration, the ClusterIP Service and the policies."""

    def __init__(self, name: str, args: TrinoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:compute:Trino", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        site = args.site
        secret = GeneratedPassword(SHARED_SECRET, length=64, opts=pulumi.ResourceOptions(parent=self))
        k8s.core.v1.Secret(SHARED_SECRET, metadata=self._metadata(SHARED_SECRET), type="Opaque",
                           string_data={"shared-secret": secret.value}, opts=self._child())
        catalog_text = iceberg_catalog(args.trino, args.lakehouse, args.gateway.endpoint)
        k8s.core.v1.ConfigMap(f"{NAME}-catalog", metadata=self._metadata(f"{NAME}-catalog"),
                              data={f"{CATALOG}.properties": catalog_text}, opts=self._child())
        for role in self._roles():
            files = {"config.properties": node_config(role.coordinator), "node.properties": node_properties(site.environment),
                     "jvm.config": "\n".join(JVM_FLAGS) + "\n", "log.properties": "io.trino=INFO\n",
                     **({} if role.coordinator else worker_access_control())}
            k8s.core.v1.ConfigMap(role.name, metadata=self._metadata(role.name, role), data=files, opts=self._child())
            self._deployment(role, config_hash(files, catalog_text))
            if site.prod and not role.coordinator:
                self._disruption_budget(role)
        k8s.core.v1.Service(NAME, metadata=self._metadata(NAME), spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP", selector={**selector_labels(NAME), ROLE_LABEL: "coordinator"},
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http", protocol="TCP")],
        ), opts=self._child())
        self._network_policies()
        self.register_outputs({"uri": service_url(), "catalog": CATALOG})

    def _roles(self) -> list[_Role]:
        trino = self._args.trino
        return [_Role("coordinator", 1, trino.coordinator_cpu, trino.coordinator_memory),
                _Role("worker", trino.workers, trino.worker_cpu, trino.worker_memory)]

    @staticmethod
    def _labels(role: _Role | None = None) -> dict[str, str]:
        return {**common_labels(PLANE), **(role.pods if role else selector_labels(NAME))}

    def _deployment(self, role: _Role, config_sha: str) -> None:
        site = self._args.site
        labels, role_selector = self._labels(role), role.pods
        spreading = [spread(site.zone_label, role_selector, hard=site.prod, per_revision=True),
                     spread("kubernetes.io/hostname", role_selector, hard=False, per_revision=True)]
        metadata = self._metadata(role.name, role)
        if uses_oauth2(self._args.trino, self._args.lakehouse):
            metadata = k8s.meta.v1.ObjectMetaArgs(name=metadata.name, namespace=metadata.namespace, labels=metadata.labels,
                                                  annotations={EXTERNAL_SECRETS: CATALOG_CREDENTIAL_SECRET,
                                                               f"{EXTERNAL_SECRETS}-reason": "the identity team issues "
                                                               "Trino's OAuth2 client in the catalog's realm"})
        k8s.apps.v1.Deployment(role.name, metadata=metadata, spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=role.replicas,
            revision_history_limit=5,
            # one coordinator at a time: a second behind the Service during a rollout takes queries with no workers
            strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate") if role.coordinator else None,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=role_selector),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations={"openfoundry.io/config-sha256": config_sha}),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(TRINO_USER),
                    # a worker drains before it stops (see _graceful_shutdown): up to twice shutdown.grace-period
                    # (2 minutes each) around its running tasks
                    termination_grace_period_seconds=60 if role.coordinator else WORKER_DRAIN_SECONDS,
                    topology_spread_constraints=spreading,
                    containers=[self._container(role)],
                    volumes=self._volumes(role),
                ),
            ),
        ), opts=pulumi.ResourceOptions.merge(self._child(), _strategy_change(role)))

    def _container(self, role: _Role) -> k8s.core.v1.ContainerArgs:
        health = k8s.core.v1.ExecActionArgs(command=["/usr/lib/trino/bin/health-check"])
        return k8s.core.v1.ContainerArgs(
            name=NAME, image=TRINO_IMAGE, image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=HTTP_PORT, protocol="TCP")],
            env=self._env(),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": role.cpu, "memory": role.memory}, limits={"memory": role.memory}),
            startup_probe=k8s.core.v1.ProbeArgs(exec_=health, period_seconds=10, failure_threshold=30, timeout_seconds=5),
            readiness_probe=k8s.core.v1.ProbeArgs(exec_=health, period_seconds=10, failure_threshold=3, timeout_seconds=5),
            liveness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path="/v1/info", port="http"),
                period_seconds=20, failure_threshold=3, timeout_seconds=5),
            lifecycle=None if role.coordinator else graceful_shutdown(),
            security_context=restricted_container(),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="config", mount_path="/etc/trino", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="data", mount_path=DATA_DIR),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
        )

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        keys = trino_object_user().secret(self._args.gateway.store)
        sources = [("TRINO_SHARED_SECRET", SHARED_SECRET, "shared-secret"),
                   ("AWS_ACCESS_KEY_ID", keys, "AccessKey"), ("AWS_SECRET_ACCESS_KEY", keys, "SecretKey")]
        if uses_oauth2(self._args.trino, self._args.lakehouse):
            sources.append(("ICEBERG_OAUTH2_CREDENTIAL", CATALOG_CREDENTIAL_SECRET, "credential"))
        return [secret_env(variable, secret, key) for variable, secret, key in sources]

    @staticmethod
    def _volumes(role: _Role) -> list[k8s.core.v1.VolumeArgs]:
        # one projected volume: /etc/trino with the role's files and catalog/ (no mount nested in a read-only one)
        catalog_file = f"{CATALOG}.properties"
        return [
            k8s.core.v1.VolumeArgs(name="config", projected=k8s.core.v1.ProjectedVolumeSourceArgs(sources=[
                k8s.core.v1.VolumeProjectionArgs(config_map=k8s.core.v1.ConfigMapProjectionArgs(name=role.name)),
                k8s.core.v1.VolumeProjectionArgs(config_map=k8s.core.v1.ConfigMapProjectionArgs(
                    name=f"{NAME}-catalog", items=[k8s.core.v1.KeyToPathArgs(key=catalog_file,
                                                                             path=f"catalog/{catalog_file}")])),
            ])),
            k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="10Gi")),
            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Gi")),
        ]

    def _disruption_budget(self, role: _Role) -> None:
        k8s.policy.v1.PodDisruptionBudget(role.name, metadata=self._metadata(role.name, role),
                                          spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                                              max_unavailable=1,
                                              selector=k8s.meta.v1.LabelSelectorArgs(match_labels=role.pods)),
                                          opts=self._child())

    def _network_policies(self) -> None:
        """Nodes talk to each other; only the Flight SQL gateway reaches the coordinator; out: catalog and RGW."""
        nodes = peer(pods=selector_labels(NAME))
        http = [k8s.networking.v1.NetworkPolicyPortArgs(port=HTTP_PORT, protocol="TCP")]
        egress = [
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[nodes], ports=http),
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[peer(namespace_for("storage"), selector_labels("lakekeeper"))],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REST_PORT, protocol="TCP")]),
            self._args.gateway.egress_rule(),
        ]
        if uses_oauth2(self._args.trino, self._args.lakehouse):
            egress.append(k8s.networking.v1.NetworkPolicyEgressRuleArgs(   # the OAuth2 token endpoint, over HTTPS
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")]))
        self._policy(NAME, selector_labels(NAME), ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[nodes], ports=http)], egress=egress)
        clients = [service_peer(self._args.catalog.by_name(c)) for c in QUERY_CLIENTS]
        self._policy(f"{NAME}-coordinator", {**selector_labels(NAME), ROLE_LABEL: "coordinator"}, ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=clients, ports=http)], egress=None)

    def _policy(self, name: str, pods: dict[str, str], ingress: list[k8s.networking.v1.NetworkPolicyIngressRuleArgs],
                egress: list[k8s.networking.v1.NetworkPolicyEgressRuleArgs] | None) -> None:
        k8s.networking.v1.NetworkPolicy(name, metadata=self._metadata(name), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods),
            policy_types=["Ingress", "Egress"] if egress is not None else ["Ingress"],
            ingress=ingress, egress=egress), opts=self._child())

    def _metadata(self, name: str, role: _Role | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=self._labels(role))

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=list(self._args.depends_on))


def _strategy_change(role: _Role) -> pulumi.ResourceOptions:
    """A coordinator whose strategy changes is replaced, not updated. Its Deployment from before Recreate holds the
    API server's defaulted spec.strategy.rollingUpdate, which no field manager owns, so a server-side apply of
    `type: Recreate` keeps it and is refused ("may not be specified when strategy `type` is 'Recreate'",
    kubernetes/kubernetes#24198; pulumi-kubernetes#2843, open). One coordinator stops either way; the upgrade
    rehearsal met it (tests/cluster/test_rehearsal.py)."""
    if not role.coordinator:
        return pulumi.ResourceOptions()
    return pulumi.ResourceOptions(replace_on_changes=["spec.strategy"], delete_before_replace=True)


def config_hash(files: Mapping[str, str], *more: str) -> str:
    """Pods roll when their configuration changes (a ConfigMap update alone does not restart Trino)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\0".encode())
    for text in more:
        digest.update(text.encode())
    return digest.hexdigest()
