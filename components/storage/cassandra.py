"""The operational store (OpenFoundry ADR-0020): Apache Cassandra 5.0 run by k8ssandra-operator, which the seed's
topology leaves out and object-database-service, ontology-query-service and ontology-actions-service cannot start
without (data/upstream/binaries/).

One `K8ssandraCluster` of one datacenter in the storage plane's namespace (the stores' plane: its clients are in
three planes), a rack per zone bound to the zone label, the
authenticator and authorizer on (k8ssandra's default, said); its superuser and a role per client service are
Pulumi-generated passwords. The keyspaces the clients name, each `NetworkTopologyStrategy` at the configured
replication factor, and each role's grants on its keyspaces only, are applied by a Job with cqlsh, as upstream's
chart does for its keyspaces (neither operator creates keyspaces or grants). OpenFoundry's Cassandra client has no
TLS (libs/cassandra-kernel Cluster has no SslOpts): client traffic stays plain, and a NetworkPolicy admits to CQL
only the services that use it and the Job (docs/storage.md, "The operational store"); between the nodes, TLS both
ways from the platform CA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.trust import ca_issuer
from components.common.credentials import GeneratedPassword
from components.common.endpoints import PlatformEndpoint
from components.common.kube import custom_resource, peer, scrape_ingress, secret_env
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.storage.cassandra_ops import (
    INTERNODE_TLS,
    KEYSTORE_PASSWORD,
    MEDUSA_GRPC_PORT,
    MEDUSA_SECRET,
    SERVER_ENCRYPTION,
    alert_rules,
    backup_schedule,
    internode_certificate_spec,
    medusa_keys,
    medusa_spec,
    server_encryption_stores,
)
from components.storage.ceph import ObjectGateway
from foundry.binaries import Running
from foundry.config import Cassandra
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.upstream import CassandraClient
from foundry.versions import CASSANDRA_CLIENT_IMAGE, CASSANDRA_VERSION

PLANE = "storage"
OPERATOR_NAMESPACE = "k8ssandra-operator"   # components/cluster/operators.py: it watches this plane
CLUSTER = "cassandra"                 # the K8ssandraCluster, and Cassandra's cluster name
DATACENTER = "dc1"                    # the clients' CASSANDRA_LOCAL_DC default (libs/cassandra-kernel/cluster.go:52)
SUPERUSER_SECRET = f"{CLUSTER}-superuser"
SUPERUSER = "openfoundry_admin"
CQL_PORT, INTERNODE_PORT, INTERNODE_TLS_PORT = 9042, 7000, 7001
MANAGEMENT_PORT, METRICS_PORT = 8080, 9000   # cass-operator's management API; the metrics endpoint it scrapes
CASSANDRA_UID = 999                   # the management API image's `cassandra` user (Dockerfile-5.0.ubi)
POD_LABELS = {"cassandra.datastax.com/cluster": CLUSTER, "cassandra.datastax.com/datacenter": DATACENTER}
SCHEMA_JOB = "cassandra-schema"
# cass-operator's containers: naming one sets only the fields given (k8ssandracluster_types.go:408-432)
CONTAINERS = ("cassandra", "server-system-logger")
# in the operator's order: cass-operator keeps the order given, and the config builder reads what the base
# container copies (construct_podtemplatespec.go)
INIT_CONTAINERS = ("server-config-init-base", "server-config-init")
OPERAND_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}


def contact_points() -> str:
    """cass-operator's `<cluster>-<dc>-service`: headless, the ready nodes only (construct_service.go)."""
    return f"{CLUSTER}-{DATACENTER}-service.{namespace_for(PLANE)}.svc:{CQL_PORT}"


def role_name(service: str) -> str:
    return service.replace("-", "_")


def credentials_secret(service: str) -> str:
    return f"cassandra-{service}"


@dataclass(frozen=True)
class Client:
    """A catalog service whose binary uses Cassandra, in its namespace, with its contract."""

    service: str
    namespace: str
    contract: CassandraClient

    @property
    def keyspaces(self) -> list[str]:
        return list(dict.fromkeys(self.contract.keyspaces.values()))

    def endpoint(self) -> PlatformEndpoint:
        """Its environment (contact points, datacenter, keyspaces, its role from its Secret) and its way to CQL."""
        c = self.contract
        env = ((c.contact_points_env, contact_points()), (c.local_dc_env, DATACENTER), *c.keyspaces.items())
        return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(POD_LABELS.items()), ports=(CQL_PORT,),
                                env=env, secret=credentials_secret(self.service),
                                secret_env=((c.username_env, "username"), (c.password_env, "password")))


def cassandra_clients(runs: Sequence[Running]) -> list[Client]:
    """Every catalog service whose binary has a Cassandra client, in catalog order."""
    return [Client(run.service.name, namespace_for(run.service.plane), run.binary.cassandra)
            for run in runs if run.binary.cassandra is not None]


def keyspaces_of(clients: Sequence[Client]) -> list[str]:
    return list(dict.fromkeys(keyspace for client in clients for keyspace in client.keyspaces))


def schema_cql(clients: Sequence[Client], replication_factor: int) -> str:
    """The keyspaces (created, or brought to the replication asked) and each role with its grants; passwords are
    `${VARIABLE}`s the Job's shell fills from the roles' Secrets. A role that exists already keeps its password
    here: the Job changes it only when the Secret's no longer logs in (`roles_file`), since Cassandra 5.0 refuses
    a second change of a role's password within 5 s of the first."""
    replication = f"{{'class': 'NetworkTopologyStrategy', '{DATACENTER}': {replication_factor}}}"
    lines = []
    for keyspace in keyspaces_of(clients):
        lines += [f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication};",
                  f"ALTER KEYSPACE {keyspace} WITH replication = {replication};"]
    for client in clients:
        role, password = role_name(client.service), f"${{{password_variable(client.service)}}}"
        lines.append(f"CREATE ROLE IF NOT EXISTS {role} WITH PASSWORD = '{password}' AND LOGIN = true;")
        lines += [f"GRANT {permission} ON KEYSPACE {keyspace} TO {role};"
                  for keyspace in client.keyspaces for permission in client.contract.permissions]
    return "\n".join(lines) + "\n"


def roles_file(clients: Sequence[Client]) -> str:
    """`<role> <variable holding its password>` per line, for the Job's password check."""
    return "".join(f"{role_name(c.service)} {password_variable(c.service)}\n" for c in clients)


def password_variable(service: str) -> str:
    return f"{role_name(service).upper()}_PASSWORD"


# cqlsh keeps its history under $HOME; the root file system is read-only. The passwords reach the statements from
# the environment (through the image's Python, which cqlsh runs on), in a file on the pod's own /tmp, removed
# after. `--password=`: a password may start with a dash, which cqlsh would read as its next option (the engine
# tier met one). The server takes a while after its pods start (the operator bootstraps the nodes one by one): the Job
# waits for CQL with the superuser first.
SCHEMA_SCRIPT = """set -eu
export HOME="${HOME_DIR:-/tmp}"
CQL_DIR="${CQL_DIR:-/cql}"
command -v cqlsh >/dev/null || { echo "no cqlsh on PATH ($PATH)"; exit 1; }
as_superuser() { cqlsh "$CQL_HOST" "$CQL_PORT" --username="$CQLSH_USER" --password="$CQLSH_PASSWORD" "$@"; }
tries=0
until as_superuser -e 'DESCRIBE KEYSPACES' >/dev/null; do
  tries=$((tries + 1)); [ "$tries" -lt 120 ] || { echo "CQL did not answer at $CQL_HOST:$CQL_PORT"; exit 1; }
  sleep 5
done
python3 -c 'import os, string, sys; sys.stdout.write(string.Template(open(sys.argv[1]).read()).substitute(os.environ))' \
  "$CQL_DIR/schema.cql" > "$HOME/schema-filled.cql"
as_superuser -f "$HOME/schema-filled.cql"
rm -f "$HOME/schema-filled.cql"
while read -r role variable; do
  password=$(printenv "$variable")
  if ! cqlsh "$CQL_HOST" "$CQL_PORT" --username="$role" --password="$password" \
      -e 'SELECT release_version FROM system.local' >/dev/null 2>&1; then
    echo "$role: the password in its Secret does not log in; setting it"
    printf "ALTER ROLE %s WITH PASSWORD = '%s';\\n" "$role" "$password" > "$HOME/password.cql"
    as_superuser -f "$HOME/password.cql"
    rm -f "$HOME/password.cql"
  fi
done < "$CQL_DIR/roles"
as_superuser -e 'LIST ALL PERMISSIONS'
"""


@dataclass(frozen=True)
class OperationalStoreArgs:
    cassandra: Cassandra
    clients: Sequence[Client]
    zones: Sequence[str]
    block_class: str
    gateway: ObjectGateway
    site: Site
    provider: k8s.Provider
    operator_ready: Sequence[pulumi.Resource] = ()    # k8ssandra-operator's chart
    trust_ready: Sequence[pulumi.Resource] = ()       # the platform CA's issuer
    namespaces_ready: Sequence[pulumi.Resource] = ()


class OperationalStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: OperationalStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:OperationalStore", name, None, opts)
        self._args = args
        superuser = self._secret(SUPERUSER_SECRET, namespace_for(PLANE), SUPERUSER,
                                 GeneratedPassword(SUPERUSER_SECRET, opts=pulumi.ResourceOptions(parent=self)).value)
        roles = self._role_secrets()
        medusa = self._medusa_secret()
        tls = self._internode_tls()
        cluster = custom_resource("k8ssandra.io/v1alpha1", "K8ssandraCluster", CLUSTER, namespace_for(PLANE),
                                  common_labels(PLANE), self.cluster_spec(), self._child(
                                      depends_on=[*args.operator_ready, superuser, medusa, *tls], stateful=True))
        custom_resource("medusa.k8ssandra.io/v1alpha1", "MedusaBackupSchedule", f"{CLUSTER}-{DATACENTER}-backups",
                        namespace_for(PLANE), common_labels(PLANE), backup_schedule(args.cassandra, DATACENTER),
                        self._child(depends_on=[cluster]))
        if args.site.prod:   # ADR-0012: development stacks page nobody
            custom_resource("monitoring.coreos.com/v1", "PrometheusRule", CLUSTER, namespace_for(PLANE),
                            {**common_labels(PLANE), **args.site.scrape_labels},
                            {"groups": [{"name": "cassandra", "rules": alert_rules(
                                f"{CLUSTER}-{DATACENTER}-all-pods-service", args.cassandra.nodes)}]},
                            self._child(depends_on=[cluster]))
        schema = schema_cql(args.clients, args.cassandra.replication_factor)
        config = k8s.core.v1.ConfigMap(SCHEMA_JOB, metadata=self._metadata(SCHEMA_JOB),
                                       data={"schema.cql": schema, "roles": roles_file(args.clients),
                                             "apply.sh": SCHEMA_SCRIPT}, opts=self._child())
        self._schema_job(schema, depends_on=[cluster, config, *roles])
        self._network_policies()
        self.register_outputs({"contactPoints": contact_points(), "keyspaces": keyspaces_of(args.clients)})

    def cluster_spec(self) -> dict[str, Any]:
        c, site = self._args.cassandra, self._args.site
        racks = ([{"name": zone, "nodeAffinityLabels": {site.zone_label: zone}} for zone in self._args.zones]
                 if site.prod else [{"name": "rack1"}])
        return {
            "auth": True,   # PasswordAuthenticator, CassandraAuthorizer, CassandraRoleManager (pkg/cassandra/auth.go)
            "cassandra": {
                "serverVersion": CASSANDRA_VERSION,
                "superuserSecretRef": {"name": SUPERUSER_SECRET},
                "serverEncryptionStores": server_encryption_stores(),
                "storageConfig": {"cassandraDataVolumeClaimSpec": {
                    "storageClassName": self._args.block_class, "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": c.storage_size}}}},
                "resources": c.resources.as_requirements(),
                "config": {
                    "cassandraYaml": {"num_tokens": 16,
                                      "allocate_tokens_for_local_replication_factor": c.replication_factor,
                                      "server_encryption_options": dict(SERVER_ENCRYPTION)},
                    "jvmOptions": {"heap_initial_size": c.heap, "heap_max_size": c.heap},
                },
                # cass-operator's default pod context has no seccomp profile: a restricted namespace refuses it
                "podSecurityContext": {"runAsNonRoot": True, "runAsUser": CASSANDRA_UID, "runAsGroup": CASSANDRA_UID,
                                       "fsGroup": CASSANDRA_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": name, "securityContext": OPERAND_SECURITY} for name in CONTAINERS],
                "initContainers": [{"name": name, "securityContext": OPERAND_SECURITY} for name in INIT_CONTAINERS],
                # the ServiceMonitor k8ssandra makes, labelled for the cluster's Prometheus to select it
                "telemetry": {"prometheus": {"enabled": True, "commonLabels": dict(site.scrape_labels)}},
                "datacenters": [{"metadata": {"name": DATACENTER}, "size": c.nodes, "racks": racks}],
            },
            "medusa": medusa_spec(c, self._args.gateway, CLUSTER),
        }

    def _internode_tls(self) -> list[pulumi.Resource]:
        """The nodes' certificate from the platform CA, as JKS stores cert-manager writes, and their password."""
        password = GeneratedPassword(KEYSTORE_PASSWORD, opts=pulumi.ResourceOptions(parent=self)).value
        secret = k8s.core.v1.Secret(KEYSTORE_PASSWORD, metadata=self._metadata(KEYSTORE_PASSWORD), type="Opaque",
                                    string_data={"password": password}, opts=self._child())
        certificate = custom_resource("cert-manager.io/v1", "Certificate", INTERNODE_TLS, namespace_for(PLANE),
                                      common_labels(PLANE), internode_certificate_spec(CLUSTER, DATACENTER, ca_issuer()),
                                      self._child(depends_on=[secret, *self._args.trust_ready]))
        return [secret, certificate]

    # --- credentials -------------------------------------------------------------------------------------

    def _medusa_secret(self) -> k8s.core.v1.Secret:
        """Medusa's RGW keys, generated: Rook makes the user with them, Medusa reads them as its credentials file."""
        child = pulumi.ResourceOptions(parent=self)
        access = GeneratedPassword(f"{MEDUSA_SECRET}-access-key", length=20, opts=child).value
        secret = GeneratedPassword(f"{MEDUSA_SECRET}-secret-key", length=40, opts=child).value
        return k8s.core.v1.Secret(MEDUSA_SECRET, metadata=self._metadata(MEDUSA_SECRET), type="Opaque",
                                  string_data=medusa_keys(access, secret), opts=self._child())

    def _role_secrets(self) -> list[k8s.core.v1.Secret]:
        """Each client's role: beside the cluster for the Job, and in the client's namespace for its pods."""
        made = []
        for client in self._args.clients:
            name = credentials_secret(client.service)
            password = GeneratedPassword(name, opts=pulumi.ResourceOptions(parent=self)).value
            for namespace in dict.fromkeys([namespace_for(PLANE), client.namespace]):
                made.append(self._secret(name, namespace, role_name(client.service), password))
        return made

    def _secret(self, name: str, namespace: str, username: str, password: pulumi.Output[str]) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{namespace}-{name}", metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace,
                                                                       labels=common_labels(PLANE)),
            type="kubernetes.io/basic-auth", string_data={"username": pulumi.Output.from_input(username),
                                                          "password": password}, opts=self._child())

    # --- the keyspaces and roles -------------------------------------------------------------------------

    def _schema_job(self, schema: str, depends_on: Sequence[pulumi.Resource]) -> None:
        """A Job per version of the schema (a Job's pod template cannot change in place); the clients' planes wait
        for it, since Pulumi waits for a Job, and a failed run is replaced at the next `up`."""
        version = schema + roles_file(self._args.clients) + SCHEMA_SCRIPT
        name = f"{SCHEMA_JOB}-{hashlib.sha256(version.encode()).hexdigest()[:10]}"
        env = [k8s.core.v1.EnvVarArgs(name="CQL_HOST", value=contact_points().rpartition(":")[0]),
               k8s.core.v1.EnvVarArgs(name="CQL_PORT", value=str(CQL_PORT)),
               secret_env("CQLSH_USER", SUPERUSER_SECRET, "username"),
               secret_env("CQLSH_PASSWORD", SUPERUSER_SECRET, "password"),
               *(secret_env(password_variable(c.service), credentials_secret(c.service), "password")
                 for c in self._args.clients)]
        pod = k8s.core.v1.PodSpecArgs(
            restart_policy="OnFailure", automount_service_account_token=False,
            security_context=restricted_pod(CASSANDRA_UID),
            containers=[k8s.core.v1.ContainerArgs(
                name="cqlsh", image=CASSANDRA_CLIENT_IMAGE, image_pull_policy="IfNotPresent",
                command=["sh", "/cql/apply.sh"], env=env, security_context=restricted_container(),
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "256Mi"},
                                                               limits={"memory": "512Mi"}),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="cql", mount_path="/cql", read_only=True),
                               k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")])],
            volumes=[k8s.core.v1.VolumeArgs(name="cql", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=SCHEMA_JOB)),
                     k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi"))])
        k8s.batch.v1.Job(name, metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace_for(PLANE), labels=common_labels(PLANE),
            annotations={"pulumi.com/replaceUnready": "true"}), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=3, template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={**common_labels(PLANE), **selector_labels(SCHEMA_JOB)}),
                spec=pod)),
            opts=pulumi.ResourceOptions.merge(self._child(depends_on=depends_on),
                                              pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="30m"))))

    # --- who reaches what --------------------------------------------------------------------------------

    def _network_policies(self) -> None:
        """CQL from the clients and the Job only; gossip between the nodes; the management API and Medusa's gRPC from
        the operators (k8ssandra-operator and cass-operator, in their namespace); metrics from Prometheus. The nodes
        reach each other, and RGW for Medusa's backups."""
        clients = [peer(c.namespace, selector_labels(c.service)) for c in self._args.clients]
        nodes = peer(pods=POD_LABELS)
        tcp = [k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP") for p in (INTERNODE_PORT, INTERNODE_TLS_PORT)]
        ingress = [
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[*clients, peer(pods=selector_labels(SCHEMA_JOB))],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=CQL_PORT, protocol="TCP")]),
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[nodes], ports=tcp),
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[peer(OPERATOR_NAMESPACE)],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP")
                       for p in (MANAGEMENT_PORT, MEDUSA_GRPC_PORT)]),
            scrape_ingress(self._args.site, [METRICS_PORT]),
        ]
        egress = [k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[nodes], ports=tcp),
                  self._args.gateway.egress_rule()]   # Medusa's backups
        self._policy(f"{CLUSTER}-nodes", POD_LABELS, ingress, egress)
        self._policy(SCHEMA_JOB, selector_labels(SCHEMA_JOB), [], [k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[nodes], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=CQL_PORT, protocol="TCP")])])

    def _policy(self, name: str, pods: dict[str, str], ingress: list[k8s.networking.v1.NetworkPolicyIngressRuleArgs],
                egress: list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]) -> None:
        k8s.networking.v1.NetworkPolicy(name, metadata=self._metadata(name), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods), policy_types=["Ingress", "Egress"],
            ingress=ingress, egress=egress), opts=self._child())

    # --- plumbing ----------------------------------------------------------------------------------------

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace_for(PLANE), labels=common_labels(PLANE))

    def _child(self, depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False) -> pulumi.ResourceOptions:
        prod = self._args.site.prod and stateful
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.namespaces_ready, *depends_on],
                                      protect=prod, retain_on_delete=prod)
