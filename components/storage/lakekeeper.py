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

from components.cluster.namespaces import api_server_egress
from components.common.credentials import GeneratedPassword
from components.common.endpoints import PlatformEndpoint, ServiceAccountToken
from components.common.kube import (
    config_map_env,
    peer,
    pod_monitor,
    scrape_ingress,
    secret_env,
    service_peer,
    spread,
)
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
NONROOT = 65532   # the distroless image's nonroot user
CURL_USER = 100   # curlimages/curl's curl_user
# The seed's internal sinks that write the external warehouse through Lakekeeper.
CATALOG_CLIENTS = ("audit-sink", "ai-sink", "lineage-service", "dataset-versioning-service",
                   "event-streaming-service", "pipeline-runner")
SETUP_JOB = "lakekeeper-warehouse-setup"
MAINTENANCE_JOB = "iceberg-maintenance"     # components/storage/maintenance.py


def catalog_uri() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{REST_PORT}/catalog"


def catalog_token(audience: str) -> ServiceAccountToken:
    """How the platform's own Iceberg clients authenticate: their ServiceAccount's token for Lakekeeper's audience,
    which Lakekeeper reviews with the API server (its Kubernetes authentication)."""
    return ServiceAccountToken(audience=audience, variable="ICEBERG_TOKEN_FILE")


def lakekeeper_endpoint(warehouse: str, audience: str, gateway: ObjectGateway) -> PlatformEndpoint:
    """The catalog, and the object store behind it: with STS off, Lakekeeper signs a client's S3 requests and the
    client sends them to RGW itself (remote signing)."""
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(REST_PORT,),
                            env=(("ICEBERG_REST_URI", catalog_uri()), ("ICEBERG_WAREHOUSE", warehouse)),
                            token=catalog_token(audience), also_egress=(gateway.egress_rule(),))


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
        account = self._token_reviewer()
        deployment = k8s.apps.v1.Deployment(NAME, metadata=self._metadata(NAME, annotations={
            "policy.openfoundry.dev/exempt": "no-automounted-service-account-token",
            "policy.openfoundry.dev/exempt-reason": "Lakekeeper reviews its clients' ServiceAccount tokens (TokenReview)",
        }), spec=self._deployment_spec(account), opts=self._child(depends_on=[secret]))
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
        pod_monitor(NAME, self._namespace, self._labels, selector_labels(NAME), args.site, self._child())
        self.job = self._warehouse_job(depends_on=[deployment, service])
        self.register_outputs({"catalogUri": catalog_uri(), "warehouse": args.lakehouse.warehouse})

    # --- the catalog ------------------------------------------------------------------------------------

    def _token_reviewer(self) -> k8s.core.v1.ServiceAccount:
        """Lakekeeper's own ServiceAccount, allowed to review tokens (system:auth-delegator) and nothing else."""
        account = k8s.core.v1.ServiceAccount(NAME, metadata=self._metadata(NAME), opts=self._child())
        k8s.rbac.v1.ClusterRoleBinding(
            f"{NAME}-token-review", metadata=k8s.meta.v1.ObjectMetaArgs(name=f"openfoundry-{NAME}-token-review",
                                                                         labels=self._labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                             name="system:auth-delegator"),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=NAME, namespace=self._namespace)],
            opts=self._child())
        return account

    def _deployment_spec(self, account: k8s.core.v1.ServiceAccount) -> k8s.apps.v1.DeploymentSpecArgs:
        over_nodes = spread("kubernetes.io/hostname", selector_labels(NAME), hard=self._args.site.prod)
        return k8s.apps.v1.DeploymentSpecArgs(
            replicas=self._args.lakehouse.catalog_replicas,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate", rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=account.metadata.name,
                    automount_service_account_token=True,   # for the TokenReview API
                    security_context=restricted_pod(NONROOT),
                    init_containers=[self._container("migrate", ["migrate"], ports=False)],
                    containers=[self._container(NAME, ["serve"], ports=True)],
                    topology_spread_constraints=[over_nodes],
                ),
            ),
        )

    def _container(self, name: str, args: list[str], ports: bool) -> k8s.core.v1.ContainerArgs:
        # /health includes the database: ready means serving, alive only means the process answers (a Postgres
        # failover must not restart every replica at once; Lakekeeper docs/production.md)
        ready = k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port="http"),
                                      period_seconds=10, timeout_seconds=2, failure_threshold=3)
        alive = k8s.core.v1.ProbeArgs(tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="http"),
                                      period_seconds=10, timeout_seconds=2, failure_threshold=6)
        return k8s.core.v1.ContainerArgs(
            name=name, image=LAKEKEEPER_IMAGE, args=args, env=self._env(),
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=REST_PORT),
                   k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)] if ports else None,
            readiness_probe=ready if ports else None,
            liveness_probe=alive if ports else None,
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "256Mi"},
                                                           limits={"cpu": "2", "memory": "1Gi"}),
            security_context=restricted_container(),
        )

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        db, lake = self._args.database, self._args.lakehouse

        env = [
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_HOST_W", value=f"{db.cluster}-rw.{db.namespace}.svc"),
            # its read pool connects at start: the replicas' -ro Service has no endpoint with one instance (dev)
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_HOST_R", value=db.read_only_host),
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_DATABASE", value=db.name),
            secret_env("LAKEKEEPER__PG_USER", f"{db.cluster}-app", "username"),
            secret_env("LAKEKEEPER__PG_PASSWORD", f"{db.cluster}-app", "password"),
            secret_env("LAKEKEEPER__PG_ENCRYPTION_KEY", ENCRYPTION_KEY_SECRET, "key"),
        ]
        # the platform's own clients: ServiceAccount tokens for the catalog's audience, reviewed by the API server
        env += [k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__ENABLE_KUBERNETES_AUTHENTICATION", value="true"),
                k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__KUBERNETES_AUTHENTICATION_AUDIENCE", value=lake.audience)]
        if lake.openid_provider_uri:
            # people and third-party engines: the issuer's tokens, for this audience only (unset, any token of the
            # realm passes; Lakekeeper docs/configuration.md), identified by their subject
            env += [k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__OPENID_PROVIDER_URI", value=lake.openid_provider_uri),
                    k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__OPENID_AUDIENCE", value=lake.audience),
                    k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__OPENID_SUBJECT_CLAIM", value="sub")]
        return env

    def _network_policies(self) -> None:
        clients = [service_peer(self._args.catalog.by_name(name)) for name in CATALOG_CLIENTS]
        setup = peer(self._namespace, {"app.kubernetes.io/name": SETUP_JOB})
        maintenance = peer(self._namespace, {"app": MAINTENANCE_JOB})   # its JobManager and TaskManagers, or the CronJob
        egress = [database_egress(self._args.database), self._args.gateway.egress_rule(), api_server_egress()]
        if self._args.lakehouse.openid_provider_uri:
            # the OIDC issuer's keys, over HTTPS
            egress.append(k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")]))
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(NAME), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[*clients, *self._args.query_engines, setup, maintenance],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REST_PORT, protocol="TCP")]),
                scrape_ingress(self._args.site, [METRICS_PORT])],
            egress=egress), opts=self._child())

    # --- the warehouse ----------------------------------------------------------------------------------

    def _warehouse_job(self, depends_on: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job:
        """The Job's own ServiceAccount bootstraps the catalog (as its operator) and registers the warehouse."""
        lake = self._args.lakehouse
        token = catalog_token(lake.audience)
        account = k8s.core.v1.ServiceAccount(SETUP_JOB, metadata=self._metadata(SETUP_JOB),
                                             automount_service_account_token=False, opts=self._child())
        env = [
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER_URL", value=f"http://{NAME}.{self._namespace}.svc:{REST_PORT}"),
            k8s.core.v1.EnvVarArgs(name="WAREHOUSE", value=lake.warehouse),
            k8s.core.v1.EnvVarArgs(name="S3_ENDPOINT", value=self._args.gateway.endpoint),
            config_map_env("BUCKET_NAME", BUCKET, "BUCKET_NAME"),
            secret_env("AWS_ACCESS_KEY_ID", BUCKET, "AWS_ACCESS_KEY_ID"),
            secret_env("AWS_SECRET_ACCESS_KEY", BUCKET, "AWS_SECRET_ACCESS_KEY"),
            token.env(),
        ]
        labels = {**common_labels(PLANE), "app.kubernetes.io/name": SETUP_JOB}
        k8s.networking.v1.NetworkPolicy(
            SETUP_JOB, metadata=self._metadata(SETUP_JOB), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": SETUP_JOB}),
            policy_types=["Ingress", "Egress"], ingress=[],
            egress=lakekeeper_endpoint(lake.warehouse, lake.audience, self._args.gateway).egress_rules()),
            opts=self._child())
        return k8s.batch.v1.Job(SETUP_JOB, metadata=self._metadata(SETUP_JOB), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=20,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="OnFailure",
                    service_account_name=account.metadata.name,
                    automount_service_account_token=False,
                    security_context=restricted_pod(CURL_USER),
                    volumes=[token.volume()],
                    containers=[k8s.core.v1.ContainerArgs(
                        name="register-warehouse", image=CURL_IMAGE, command=["/bin/sh", "-c", REGISTER_WAREHOUSE],
                        env=env, security_context=restricted_container(), volume_mounts=[token.mount()],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "10m", "memory": "16Mi"}, limits={"cpu": "200m", "memory": "64Mi"}),
                    )],
                ),
            ),
        ), opts=self._child(depends_on=depends_on))

    # --- plumbing ---------------------------------------------------------------------------------------

    def _metadata(self, name: str, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=self._labels,
                                          annotations=annotations)

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])


# Idempotent registration through the management API, as the Job's ServiceAccount (its token, read afresh for every
# call): wait for the catalog, bootstrap it unless it already is (this identity becomes its operator: full access to
# the management API; Lakekeeper docs/bootstrap.md), create the warehouse unless one of that name exists. S3 on RGW:
# path-style, no STS.
REGISTER_WAREHOUSE = r"""set -eu
api() { curl -sS --fail-with-body -H "Content-Type: application/json" \
          -H "Authorization: Bearer $(cat "$ICEBERG_TOKEN_FILE")" "$@"; }
until curl -fsS "$LAKEKEEPER_URL/health" > /dev/null; do echo "waiting for $LAKEKEEPER_URL"; sleep 5; done
case "$(api "$LAKEKEEPER_URL/management/v1/info")" in
  *'"bootstrapped":true'*) echo "catalog already bootstrapped" ;;
  *) api -X POST "$LAKEKEEPER_URL/management/v1/bootstrap" -d '{"accept-terms-of-use": true, "is-operator": true}' ;;
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
