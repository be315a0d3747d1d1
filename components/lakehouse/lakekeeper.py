"""Lakekeeper (ADR-0008): the Iceberg REST catalog of the external warehouse surface.

Its database is the relational plane's `pg-lakekeeper` cluster; its encryption key is generated once as a
Pulumi secret (losing it loses every credential Lakekeeper stores); `lakekeeper migrate` runs as a Job before
the replicas start; in prod the replicas are spread over nodes with a disruption budget. A Job
registers the warehouse on Lakekeeper's own bucket through the management API, idempotently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
from components.lakehouse.openfga import KEY, KEY_SECRET, openfga_egress, openfga_endpoint
from components.relational.access import CA_DIRECTORY, database_ca_mount, database_ca_volume, database_egress
from components.relational.database import POSTGRES_PORT, Database
from components.storage.ceph import ObjectGateway
from foundry.catalog import PLATFORM_MIGRATORS, Catalog
from foundry.config import Lakehouse
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import LAKEKEEPER_IMAGE, PYTHON_IMAGE

NAME = "lakekeeper"
PLANE = "storage"
REST_PORT = 8181
METRICS_PORT = 9000
BUCKET = "lakekeeper-warehouse"
ENCRYPTION_KEY_SECRET = "lakekeeper-encryption-key"
NONROOT = 65532   # the distroless image's nonroot user
NOBODY = 65534    # the setup Job needs no account in the image: Python's standard library runs as anyone
# The catalog services that speak Iceberg REST to Lakekeeper. The seed names its internal sinks, lineage-service,
# dataset-versioning-service, event-streaming-service and the Spark pipeline-runner; at the pin none of their running
# binaries is a REST catalog client: the sinks POST rows to an OpenFoundry "table-writer" path Lakekeeper does not
# serve (of:services/audit-sink/internal/writer/iceberg.go:162-229) and would crash-loop on its 404, lineage-service
# and dataset-versioning-service read no catalog setting, event-streaming-service is merged into
# ingestion-replication-service, and pipeline-runner is a per-run Job (data/upstream/binaries/). Lakekeeper's clients
# are the platform's own engines (Trino, ClickHouse, the Flink writers, the table exporter).
CATALOG_CLIENTS: tuple[str, ...] = ()
SETUP_JOB = "lakekeeper-warehouse-setup"
MIGRATE_JOB = PLATFORM_MIGRATORS[NAME]
SETUP_PROGRAM = Path(__file__).with_name("lakehouse_setup.py").read_text(encoding="utf-8")
MAINTENANCE_JOB = "iceberg-maintenance"     # components/lakehouse/maintenance.py
FLINK_ACCOUNT = "flink"                     # the Flink operator's job account, which prod's maintenance runs as


def kubernetes_principal(namespace: str, account: str) -> str:
    """How Lakekeeper names a ServiceAccount when it takes the subject from the token's username
    (LAKEKEEPER__KUBERNETES_AUTHENTICATION_SUBJECT_SOURCE=username; Lakekeeper docs/authentication.md)."""
    return f"kubernetes~system:serviceaccount:{namespace}:{account}"


def maintenance_account(engine: str) -> str:
    """A FlinkDeployment runs as the Flink operator's `flink` account, the CronJob as one of its own."""
    return FLINK_ACCOUNT if engine == "flink" else MAINTENANCE_JOB


def catalog_uri() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{REST_PORT}/catalog"


def catalog_token(audience: str) -> ServiceAccountToken:
    """How the platform's own Iceberg clients authenticate: their ServiceAccount's token for Lakekeeper's audience,
    which Lakekeeper reviews with the API server (its Kubernetes authentication)."""
    return ServiceAccountToken(audience=audience, variable="ICEBERG_TOKEN_FILE")


def authorization_clients() -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    """What asks OpenFGA: the catalog, and its migration (which writes the store and model)."""
    return [peer(pods=selector_labels(NAME)), peer(pods=selector_labels(MIGRATE_JOB))]


def lakekeeper_endpoint(warehouse: str, audience: str, gateway: ObjectGateway) -> PlatformEndpoint:
    """The catalog, and the object store behind it: with STS off, Lakekeeper signs a client's S3 requests and the
    client sends them to RGW itself (remote signing)."""
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(REST_PORT,),
                            # the names OpenFoundry's sinks read (services/*-sink/internal/config/config.go)
                            env=(("ICEBERG_CATALOG_URL", catalog_uri()), ("ICEBERG_WAREHOUSE", warehouse)),
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
    catalog_readers: Sequence[str] = ()   # their identities at the issuer (`oidc~<subject>`), granted `select`
    catalog_writers: Sequence[str] = ()   # the Iceberg writers' identity at the issuer, granted `create` and `modify`
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
        migration = self._migration_job(depends_on=[secret])
        deployment = k8s.apps.v1.Deployment(NAME, metadata=self._metadata(NAME, annotations={
            "policy.openfoundry.dev/exempt": "no-automounted-service-account-token",
            "policy.openfoundry.dev/exempt-reason": "Lakekeeper reviews its clients' ServiceAccount tokens (TokenReview)",
        }), spec=self._deployment_spec(account), opts=self._child(depends_on=[secret, migration]))
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
        self.job = self._setup_job(depends_on=[deployment, service])
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
        site = self._args.site
        spreading = [spread(site.zone_label, selector_labels(NAME), hard=site.prod, per_revision=True),
                     spread("kubernetes.io/hostname", selector_labels(NAME), hard=site.prod, per_revision=True)]
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
                    volumes=[database_ca_volume(self._args.database)],
                    containers=[self._container(NAME, ["serve"], ports=True)],
                    topology_spread_constraints=spreading,
                ),
            ),
        )

    def _migration_job(self, depends_on: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job:
        """`lakekeeper migrate` once per version, before the replicas start: the database schema (under an advisory
        lock), then OpenFGA's store and authorization model (list-then-create, no lock: two replicas migrating
        at once can create two stores, after which nothing starts). A new image changes the template, so the
        Job is replaced and runs again before the Deployment rolls."""
        labels = {**common_labels(PLANE), **selector_labels(MIGRATE_JOB)}
        k8s.networking.v1.NetworkPolicy(
            MIGRATE_JOB, metadata=self._metadata(MIGRATE_JOB), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(MIGRATE_JOB)),
            policy_types=["Ingress", "Egress"], ingress=[],
            egress=[database_egress(self._args.database), openfga_egress()]), opts=self._child())
        return k8s.batch.v1.Job(MIGRATE_JOB, metadata=self._metadata(MIGRATE_JOB), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=20,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="OnFailure",
                    automount_service_account_token=False,
                    security_context=restricted_pod(NONROOT),
                    volumes=[database_ca_volume(self._args.database)],
                    containers=[self._container("migrate", ["migrate"], ports=False)],
                ),
            ),
        ), opts=self._child(depends_on=depends_on))

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
            volume_mounts=[database_ca_mount()],
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
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_PORT", value=str(POSTGRES_PORT)),   # no default
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_DATABASE", value=db.name),
            secret_env("LAKEKEEPER__PG_USER", f"{db.cluster}-app", "username"),
            secret_env("LAKEKEEPER__PG_PASSWORD", f"{db.cluster}-app", "password"),
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_SSL_MODE", value="verify-full"),
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__PG_SSL_ROOT_CERT", value=f"{CA_DIRECTORY}/ca.crt"),
            secret_env("LAKEKEEPER__PG_ENCRYPTION_KEY", ENCRYPTION_KEY_SECRET, "key"),
            # authorization: OpenFGA (components/lakehouse/openfga.py); `migrate` writes its store and model
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__AUTHZ_BACKEND", value="openfga"),
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__OPENFGA__ENDPOINT", value=openfga_endpoint()),
            secret_env("LAKEKEEPER__OPENFGA__API_KEY", KEY_SECRET, KEY),
        ]
        # the platform's own clients: ServiceAccount tokens for the catalog's audience, reviewed by the API server
        env += [k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__ENABLE_KUBERNETES_AUTHENTICATION", value="true"),
                k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__KUBERNETES_AUTHENTICATION_AUDIENCE", value=lake.audience),
                # users named system:serviceaccount:<ns>:<name>, which grants can state ahead of time (the default,
                # the account's UID, exists only once the account does); fixed before bootstrap, as ids derive from it
                k8s.core.v1.EnvVarArgs(name="LAKEKEEPER__KUBERNETES_AUTHENTICATION_SUBJECT_SOURCE", value="username")]
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
        egress = [database_egress(self._args.database), openfga_egress(), self._args.gateway.egress_rule(),
                  api_server_egress()]
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

    def _setup_job(self, depends_on: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job:
        """The Job's own ServiceAccount bootstraps the catalog (as its operator), registers the warehouse and
        grants the platform's clients (components/lakehouse/lakehouse_setup.py)."""
        lake = self._args.lakehouse
        token = catalog_token(lake.audience)
        account = k8s.core.v1.ServiceAccount(SETUP_JOB, metadata=self._metadata(SETUP_JOB),
                                             automount_service_account_token=False, opts=self._child())
        program = k8s.core.v1.ConfigMap(SETUP_JOB, metadata=self._metadata(SETUP_JOB),
                                        data={"lakehouse_setup.py": SETUP_PROGRAM}, opts=self._child())
        env = [
            k8s.core.v1.EnvVarArgs(name="LAKEKEEPER_URL", value=f"http://{NAME}.{self._namespace}.svc:{REST_PORT}"),
            k8s.core.v1.EnvVarArgs(name="WAREHOUSE", value=lake.warehouse),
            k8s.core.v1.EnvVarArgs(name="GRANTS", value=json.dumps(self._grants(), sort_keys=True)),
            k8s.core.v1.EnvVarArgs(name="S3_ENDPOINT", value=self._args.gateway.endpoint),
            config_map_env("BUCKET_NAME", BUCKET, "BUCKET_NAME"),
            secret_env("AWS_ACCESS_KEY_ID", BUCKET, "AWS_ACCESS_KEY_ID"),
            secret_env("AWS_SECRET_ACCESS_KEY", BUCKET, "AWS_SECRET_ACCESS_KEY"),
            k8s.core.v1.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1"),
            token.env(),
        ]
        labels = {**common_labels(PLANE), "app.kubernetes.io/name": SETUP_JOB}
        k8s.networking.v1.NetworkPolicy(
            SETUP_JOB, metadata=self._metadata(SETUP_JOB), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": SETUP_JOB}),
            policy_types=["Ingress", "Egress"], ingress=[],
            egress=lakekeeper_endpoint(lake.warehouse, lake.audience, self._args.gateway).egress_rules()),
            opts=self._child())
        # a new program or new grants change the template, and a changed Job template replaces the Job: it runs again
        digest = hashlib.sha256(SETUP_PROGRAM.encode()).hexdigest()[:16]
        return k8s.batch.v1.Job(SETUP_JOB, metadata=self._metadata(SETUP_JOB), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=20,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations={"openfoundry.io/program": digest}),
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="OnFailure",
                    service_account_name=account.metadata.name,
                    automount_service_account_token=False,
                    security_context=restricted_pod(NOBODY),
                    volumes=[token.volume(), k8s.core.v1.VolumeArgs(
                        name="program", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=program.metadata.name))],
                    containers=[k8s.core.v1.ContainerArgs(
                        name="setup", image=PYTHON_IMAGE, command=["python", "/program/lakehouse_setup.py"],
                        env=env, security_context=restricted_container(),
                        volume_mounts=[token.mount(), k8s.core.v1.VolumeMountArgs(
                            name="program", mount_path="/program", read_only=True)],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "10m", "memory": "32Mi"}, limits={"cpu": "200m", "memory": "128Mi"}),
                    )],
                ),
            ),
        ), opts=self._child(depends_on=depends_on))

    def _grants(self) -> dict[str, list[str]]:
        """Who may do what on the warehouse: the sinks create namespaces and tables and commit (`create` does not
        follow from `modify` in Lakekeeper's model, and both reach every namespace and table below), the
        maintenance commits rewrites, the readers (Trino) read."""
        sinks = {kubernetes_principal(namespace_for(self._args.catalog.by_name(name).plane), name): ["create", "modify"]
                 for name in CATALOG_CLIENTS}
        engine = self._args.lakehouse.maintenance.engine
        maintenance = {kubernetes_principal(self._namespace, maintenance_account(engine)): ["modify"]}
        readers = {principal: ["select"] for principal in self._args.catalog_readers}
        writers = {principal: ["create", "modify"] for principal in self._args.catalog_writers}
        return {**sinks, **maintenance, **readers, **writers}

    # --- plumbing ---------------------------------------------------------------------------------------

    def _metadata(self, name: str, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=self._labels,
                                          annotations=annotations)

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])
