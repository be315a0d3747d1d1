"""Lakekeeper (ADR-0008): the Iceberg REST catalog of the external warehouse surface.

Its database is the relational plane's `pg-lakekeeper` cluster; its encryption key is generated once as a
Pulumi secret (losing it loses every credential Lakekeeper stores); `lakekeeper migrate` runs as an init
container before every start; in prod the replicas are spread over nodes with a disruption budget. A Job
registers the warehouse on Lakekeeper's own bucket through the management API, idempotently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.credentials import GeneratedPassword
from components.common.endpoints import PlatformEndpoint
from components.common.kube import config_map_env, custom_resource, peer, pod_monitor_spec, secret_env, service_peer, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.relational.plane import Database, database_egress
from components.storage.ceph import ObjectGateway
from foundry.catalog import Catalog
from foundry.config import Lakehouse
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import CURL_IMAGE, LAKEKEEPER_IMAGE

NAME = "lakekeeper"
PLANE = "storage"
REST_PORT = 8181
METRICS_PORT = 9000
BUCKET = "lakekeeper-warehouse"
ENCRYPTION_KEY_SECRET = "lakekeeper-encryption-key"
# An optional bearer token for the warehouse Job when Lakekeeper requires OIDC (created by the identity team).
BOOTSTRAP_TOKEN_SECRET = "lakekeeper-bootstrap-token"
NONROOT = 65532   # the distroless image's nonroot user
CURL_USER = 100   # curlimages/curl's curl_user
# The seed's internal sinks that write the external warehouse through Lakekeeper.
CATALOG_CLIENTS = ("audit-sink", "ai-sink", "lineage-service", "dataset-versioning-service",
                   "event-streaming-service", "pipeline-runner")
SETUP_JOB = "lakekeeper-warehouse-setup"


def catalog_uri() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{REST_PORT}/catalog"


def lakekeeper_endpoint(warehouse: str) -> PlatformEndpoint:
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(REST_PORT,),
                            env=(("ICEBERG_REST_URI", catalog_uri()), ("ICEBERG_WAREHOUSE", warehouse)))


@dataclass(frozen=True)
class LakekeeperArgs:
    lakehouse: Lakehouse
    gateway: ObjectGateway
    site: Site
    catalog: Catalog
    database: Database
    provider: k8s.Provider
    query_engines: Sequence[k8s.networking.v1.NetworkPolicyPeerArgs] = ()   # Trino, reading the warehouse
    depends_on: Sequence[pulumi.Resource] = ()


class Lakekeeper(pulumi.ComponentResource):
    """Deployment, Service, encryption key, NetworkPolicies, PodMonitor and the warehouse registration Job."""

    def __init__(self, name: str, args: LakekeeperArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:Lakekeeper", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        self._labels = {**common_labels(PLANE), **selector_labels(NAME)}
        prod = args.site.prod
        key = GeneratedPassword(ENCRYPTION_KEY_SECRET, opts=pulumi.ResourceOptions(
            parent=self, protect=prod, retain_on_delete=prod))
        secret = k8s.core.v1.Secret(
            ENCRYPTION_KEY_SECRET, metadata=self._metadata(ENCRYPTION_KEY_SECRET), type="Opaque",
            string_data={"key": key.value}, opts=self._child())
        deployment = k8s.apps.v1.Deployment(NAME, metadata=self._metadata(NAME), spec=self._deployment_spec(),
                                            opts=self._child(depends_on=[secret]))
        service = k8s.core.v1.Service(NAME, metadata=self._metadata(NAME), spec=k8s.core.v1.ServiceSpecArgs(
            selector=selector_labels(NAME),
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=REST_PORT, target_port="http"),
                   k8s.core.v1.ServicePortArgs(name="metrics", port=METRICS_PORT, target_port="metrics")]),
            opts=self._child())
        self._network_policies()
        if prod:
            k8s.policy.v1.PodDisruptionBudget(NAME, metadata=self._metadata(NAME), spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME))),
                opts=self._child())
        custom_resource("monitoring.coreos.com/v1", "PodMonitor", NAME, self._namespace, self._labels,
                        pod_monitor_spec(selector_labels(NAME)), self._child())
        self.job = self._warehouse_job(depends_on=[deployment, service])
        self.register_outputs({"catalogUri": catalog_uri(), "warehouse": args.lakehouse.warehouse})

    # --- the catalog ------------------------------------------------------------------------------------

    def _deployment_spec(self) -> k8s.apps.v1.DeploymentSpecArgs:
        over_nodes = spread("kubernetes.io/hostname", selector_labels(NAME), hard=self._args.site.prod)
        return k8s.apps.v1.DeploymentSpecArgs(
            replicas=self._args.lakehouse.catalog_replicas,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate", rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(NONROOT),
                    init_containers=[self._container("migrate", ["migrate"], ports=False)],
                    containers=[self._container(NAME, ["serve"], ports=True)],
                    topology_spread_constraints=[over_nodes],
                ),
            ),
        )

    def _container(self, name: str, args: list[str], ports: bool) -> k8s.core.v1.ContainerArgs:
        probe = k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port="http"),
                                      period_seconds=10, timeout_seconds=2, failure_threshold=3)
        return k8s.core.v1.ContainerArgs(
            name=name, image=LAKEKEEPER_IMAGE, args=args, env=self._env(),
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=REST_PORT),
                   k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)] if ports else None,
            readiness_probe=probe if ports else None,
            liveness_probe=probe if ports else None,
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "256Mi"},
                                                           limits={"cpu": "2", "memory": "1Gi"}),
            security_context=restricted_container(),
        )

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        db, lake = self._args.database, self._args.lakehouse

        env = [
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_HOST_W", value=f"{db.cluster}-rw.{db.namespace}.svc"),
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_HOST_R", value=f"{db.cluster}-ro.{db.namespace}.svc"),
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_DATABASE", value=db.name),
            secret_env("LAKEKEEPER__PG_USER", f"{db.cluster}-app", "username"),
            secret_env("LAKEKEEPER__PG_PASSWORD", f"{db.cluster}-app", "password"),
            secret_env("LAKEKEEPER__PG_ENCRYPTION_KEY", ENCRYPTION_KEY_SECRET, "key"),
        ]
        if lake.openid_provider_uri:
            env.append(k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__OPENID_PROVIDER_URI", value=lake.openid_provider_uri))
        return env

    def _network_policies(self) -> None:
        clients = [service_peer(self._args.catalog.by_name(name)) for name in CATALOG_CLIENTS]
        setup = peer(self._namespace, {"app.kubernetes.io/name": SETUP_JOB})
        egress = [database_egress(self._args.database), self._args.gateway.egress_rule()]
        if self._args.lakehouse.openid_provider_uri:
            # the OIDC issuer's keys, over HTTPS
            egress.append(k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")]))
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(NAME), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[*clients, *self._args.query_engines, setup],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REST_PORT, protocol="TCP")])],
            egress=egress), opts=self._child())

    # --- the warehouse ----------------------------------------------------------------------------------

    def _warehouse_job(self, depends_on: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job:
        lake = self._args.lakehouse
        env = [
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER_URL", value=f"http://{NAME}.{self._namespace}.svc:{REST_PORT}"),
            k8s.core.v1.EnvVarArgs(name="WAREHOUSE", value=lake.warehouse),
            k8s.core.v1.EnvVarArgs(name="S3_ENDPOINT", value=self._args.gateway.endpoint),
            config_map_env("BUCKET_NAME", BUCKET, "BUCKET_NAME"),
            secret_env("AWS_ACCESS_KEY_ID", BUCKET, "AWS_ACCESS_KEY_ID"),
            secret_env("AWS_SECRET_ACCESS_KEY", BUCKET, "AWS_SECRET_ACCESS_KEY"),
            secret_env("LAKEKEEPER_TOKEN", BOOTSTRAP_TOKEN_SECRET, "token", optional=True),
        ]
        labels = {**common_labels(PLANE), "app.kubernetes.io/name": SETUP_JOB}
        k8s.networking.v1.NetworkPolicy(
            SETUP_JOB, metadata=self._metadata(SETUP_JOB), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": SETUP_JOB}),
            policy_types=["Ingress", "Egress"], ingress=[],
            egress=[lakekeeper_endpoint(lake.warehouse).egress_rule()]), opts=self._child())
        return k8s.batch.v1.Job(SETUP_JOB, metadata=self._metadata(SETUP_JOB), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=20,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="OnFailure",
                    automount_service_account_token=False,
                    security_context=restricted_pod(CURL_USER),
                    containers=[k8s.core.v1.ContainerArgs(
                        name="register-warehouse", image=CURL_IMAGE, command=["/bin/sh", "-c", REGISTER_WAREHOUSE],
                        env=env, security_context=restricted_container(),
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "10m", "memory": "16Mi"}, limits={"cpu": "200m", "memory": "64Mi"}),
                    )],
                ),
            ),
        ), opts=self._child(depends_on=depends_on))

    # --- plumbing ---------------------------------------------------------------------------------------

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=self._labels)

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])


# Idempotent registration through the management API: wait for the catalog, bootstrap it unless it already is,
# create the warehouse unless one of that name exists. S3 on RGW: path-style, no STS.
REGISTER_WAREHOUSE = r"""set -eu
auth=""
if [ -n "${LAKEKEEPER_TOKEN:-}" ]; then auth="Authorization: Bearer ${LAKEKEEPER_TOKEN}"; fi
api() { curl -sS --fail-with-body -H "Content-Type: application/json" ${auth:+-H "$auth"} "$@"; }
until curl -fsS "$LAKEKEEPER_URL/health" > /dev/null; do echo "waiting for $LAKEKEEPER_URL"; sleep 5; done
case "$(api "$LAKEKEEPER_URL/management/v1/info")" in
  *'"bootstrapped":true'*) echo "catalog already bootstrapped" ;;
  *) api -X POST "$LAKEKEEPER_URL/management/v1/bootstrap" -d '{"accept-terms-of-use": true}' ;;
esac
if api "$LAKEKEEPER_URL/management/v1/warehouse" | grep -q "\"name\":\"$WAREHOUSE\""; then
  echo "warehouse $WAREHOUSE already registered"; exit 0
fi
api -X POST "$LAKEKEEPER_URL/management/v1/warehouse" -d "$(cat <<JSON
{"warehouse-name": "$WAREHOUSE",
 "storage-profile": {"type": "s3", "bucket": "$BUCKET_NAME", "region": "us-east-1", "endpoint": "$S3_ENDPOINT",
                     "path-style-access": true, "flavor": "s3-compat", "sts-enabled": false},
 "storage-credential": {"type": "s3", "credential-type": "access-key",
                        "aws-access-key-id": "$AWS_ACCESS_KEY_ID", "aws-secret-access-key": "$AWS_SECRET_ACCESS_KEY"}}
JSON
)"
echo "warehouse $WAREHOUSE registered on bucket $BUCKET_NAME"
"""
