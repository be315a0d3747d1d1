"""OpenFGA: Lakekeeper's authorization backend (LAKEKEEPER__AUTHZ_BACKEND=openfga).

Lakekeeper's default backend, `allowall`, lets any identity it authenticates do anything, and the backend cannot
be switched freely once the catalog is bootstrapped (Lakekeeper docs/configuration.md), so it is chosen here, in
every environment. OpenFGA keeps its tuples in its own CloudNativePG database (`pg-openfga`, beside it in the
storage plane), migrates that database in an init container before every start (`openfga migrate`, the official
chart's `migrationType: initContainer`; two first starts racing leave the loser to fail and restart, not a broken
schema: goose records each version once), and admits only callers presenting the pre-shared key it
shares with Lakekeeper, a generated Pulumi secret. Only Lakekeeper may reach it. `lakekeeper migrate` then writes
the store and its authorization model; `lakekeeper serve` refuses to start without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.credentials import GeneratedPassword
from components.common.kube import peer, pod_monitor, scrape_ingress, secret_env, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.relational.access import CA_DIRECTORY, database_ca_mount, database_ca_volume, database_egress
from components.relational.database import POSTGRES_PORT, Database
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import OPENFGA_IMAGE

NAME = "openfga"
PLANE = "storage"
GRPC_PORT = 8081      # the API Lakekeeper speaks (gRPC); OpenFGA's HTTP gateway is switched off
METRICS_PORT = 2112
NONROOT = 65532       # the chainguard static base image's nonroot user (OpenFGA's Dockerfile sets none)
KEY_SECRET = "openfga-preshared-key"
KEY = "key"


def openfga_endpoint() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{GRPC_PORT}"


def openfga_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[peer(pods=selector_labels(NAME))],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=GRPC_PORT, protocol="TCP")])


@dataclass(frozen=True)
class OpenFgaArgs:
    replicas: int
    database: Database
    site: Site
    provider: k8s.Provider
    clients: Sequence[k8s.networking.v1.NetworkPolicyPeerArgs]    # Lakekeeper's pods
    depends_on: Sequence[pulumi.Resource] = ()


class OpenFga(pulumi.ComponentResource):
    """Pre-shared key, Deployment, Service, NetworkPolicy, PodMonitor and (prod) a disruption budget."""

    def __init__(self, name: str, args: OpenFgaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:OpenFga", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        self._labels = {**common_labels(PLANE), **selector_labels(NAME)}
        key = GeneratedPassword(KEY_SECRET, opts=pulumi.ResourceOptions(parent=self))
        self.key_secret = k8s.core.v1.Secret(KEY_SECRET, metadata=self._metadata(KEY_SECRET), type="Opaque",
                                             string_data={KEY: key.value}, opts=self._child())
        self.deployment = k8s.apps.v1.Deployment(NAME, metadata=self._metadata(NAME), spec=self._deployment_spec(),
                                                 opts=self._child(depends_on=[self.key_secret]))
        k8s.core.v1.Service(NAME, metadata=self._metadata(NAME), spec=k8s.core.v1.ServiceSpecArgs(
            selector=selector_labels(NAME),
            ports=[k8s.core.v1.ServicePortArgs(name="grpc", port=GRPC_PORT, target_port="grpc", app_protocol="grpc"),
                   k8s.core.v1.ServicePortArgs(name="metrics", port=METRICS_PORT, target_port="metrics")]),
            opts=self._child())
        self._network_policy()
        if args.site.prod:
            k8s.policy.v1.PodDisruptionBudget(NAME, metadata=self._metadata(NAME), spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME))),
                opts=self._child())
        pod_monitor(NAME, self._namespace, self._labels, selector_labels(NAME), args.site, self._child())
        self.register_outputs({"endpoint": openfga_endpoint()})

    def _deployment_spec(self) -> k8s.apps.v1.DeploymentSpecArgs:
        return k8s.apps.v1.DeploymentSpecArgs(
            replicas=self._args.replicas,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate", rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(NONROOT),
                    volumes=[database_ca_volume(self._args.database),
                             k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())],
                    init_containers=[self._container("migrate", ["migrate"], serving=False)],
                    containers=[self._container(NAME, ["run"], serving=True)],
                    topology_spread_constraints=[
                        spread(self._args.site.zone_label, selector_labels(NAME), hard=self._args.site.prod, per_revision=True),
                        spread("kubernetes.io/hostname", selector_labels(NAME), hard=self._args.site.prod,
                               per_revision=True)],
                ),
            ),
        )

    def _container(self, name: str, args: list[str], serving: bool) -> k8s.core.v1.ContainerArgs:
        # the gRPC health service answers without the key and reports NOT_SERVING until the schema is migrated
        ready = k8s.core.v1.ProbeArgs(grpc=k8s.core.v1.GRPCActionArgs(port=GRPC_PORT), period_seconds=10,
                                      timeout_seconds=2, failure_threshold=3)
        # the health service pings the database: alive only means the port answers (a Postgres failover must not
        # restart every replica, and Lakekeeper's readiness with them)
        alive = k8s.core.v1.ProbeArgs(tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=GRPC_PORT), period_seconds=10,
                                      timeout_seconds=2, failure_threshold=6)
        return k8s.core.v1.ContainerArgs(
            name=name, image=OPENFGA_IMAGE, args=args, env=self._datastore_env() + (self._server_env() if serving else []),
            ports=[k8s.core.v1.ContainerPortArgs(name="grpc", container_port=GRPC_PORT),
                   k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)] if serving else None,
            readiness_probe=ready if serving else None,
            liveness_probe=alive if serving else None,
            volume_mounts=[database_ca_mount(), k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "128Mi"},
                                                           limits={"cpu": "1", "memory": "512Mi"}),
            security_context=restricted_container(),
        )

    def _datastore_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """The credentials apart from the URI (OpenFGA's --datastore-username/--datastore-password override the
        URI's), so a password is never pasted into a URL; the server's certificate and name are verified."""
        db = self._args.database
        uri = (f"postgres://{db.host}:{POSTGRES_PORT}/{db.name}"
               f"?sslmode=verify-full&sslrootcert={CA_DIRECTORY}/ca.crt")
        return [
            k8s.core.v1.EnvVarArgs(name="OPENFGA_DATASTORE_ENGINE", value="postgres"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_DATASTORE_URI", value=uri),
            secret_env("OPENFGA_DATASTORE_USERNAME", f"{db.cluster}-app", "username"),
            secret_env("OPENFGA_DATASTORE_PASSWORD", f"{db.cluster}-app", "password"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_LOG_FORMAT", value="json"),
        ]

    @staticmethod
    def _server_env() -> list[k8s.core.v1.EnvVarArgs]:
        return [
            k8s.core.v1.EnvVarArgs(name="OPENFGA_AUTHN_METHOD", value="preshared"),
            secret_env("OPENFGA_AUTHN_PRESHARED_KEYS", KEY_SECRET, KEY),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_GRPC_ADDR", value=f"0.0.0.0:{GRPC_PORT}"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_HTTP_ENABLED", value="false"),
            # the playground refuses any authentication but `none` (pkg/server/config/config.go)
            k8s.core.v1.EnvVarArgs(name="OPENFGA_PLAYGROUND_ENABLED", value="false"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_METRICS_ENABLED", value="true"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_METRICS_ADDR", value=f"0.0.0.0:{METRICS_PORT}"),
            # the caches the lakekeeper chart turns on for Lakekeeper's check-heavy traffic (charts/lakekeeper/values.yaml)
            k8s.core.v1.EnvVarArgs(name="OPENFGA_CACHE_CONTROLLER_ENABLED", value="true"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_CHECK_QUERY_CACHE_ENABLED", value="true"),
            k8s.core.v1.EnvVarArgs(name="OPENFGA_CHECK_ITERATOR_CACHE_ENABLED", value="true"),
        ]

    def _network_policy(self) -> None:
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(NAME), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=list(self._args.clients),
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=GRPC_PORT, protocol="TCP")]),
                scrape_ingress(self._args.site, [METRICS_PORT])],
            egress=[database_egress(self._args.database)]), opts=self._child())

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=self._labels)

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])
