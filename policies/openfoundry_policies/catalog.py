"""Every policy of the pack: its name, what it enforces and why, and the plain check behind it.

Levels are not set here: policies/config/<stack>.json sets them per stack (`--policy-pack-config`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from openfoundry_policies import backups as b
from openfoundry_policies import cassandra as cs
from openfoundry_policies import contracts as c
from openfoundry_policies import hygiene as h
from openfoundry_policies import outbox as ob
from openfoundry_policies import readers as r
from openfoundry_policies import wiring as w
from openfoundry_policies.resources import Resource

ResourceCheck = Callable[[Resource], Iterator[str]]
StackCheck = Callable[[list[Resource]], Iterator[tuple[Resource | None, str]]]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    source: str             # the ADR or the guidance it enforces
    description: str
    group: str              # "contract" or "hygiene"
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None

    @property
    def full_description(self) -> str:
        return f"[{self.source}] {self.description}"


def _contract(name: str, source: str, description: str, check: ResourceCheck | None = None,
              stack: StackCheck | None = None) -> PolicySpec:
    return PolicySpec(name, source, description, "contract", check, stack)


def _hygiene(name: str, source: str, description: str, check: ResourceCheck | None = None,
             stack: StackCheck | None = None) -> PolicySpec:
    return PolicySpec(name, source, description, "hygiene", check, stack)


POLICIES: tuple[PolicySpec, ...] = (
    # --- the architecture's contracts ---
    _contract("postgres-only-through-cloudnativepg", "ADR-0010", "Postgres runs only as CloudNativePG clusters",
              c.postgres_only_through_cloudnativepg),
    _contract("postgres-synchronous-replicas", "ADR-0010", "Prod Postgres: 3+ instances with synchronous replication",
              c.postgres_synchronous_replicas),
    _contract("postgres-wal-archiving", "ADR-0010", "Every Postgres cluster archives WAL through the Barman Cloud plugin",
              c.postgres_wal_archiving),
    _contract("postgres-backup-retention", "ADR-0010", "Every backup store has a retention policy",
              c.postgres_backup_retention),
    _contract("postgres-scheduled-backups", "ADR-0010", "Every Postgres cluster has a ScheduledBackup",
              stack=c.postgres_scheduled_backups),
    _contract("backups-leave-the-site", "review m10; ADR-0010",
              "Every backup bucket is copied to another site, or its claim accepts the risk", stack=b.backups_leave_the_site),
    _contract("postgres-pod-monitors", "ADR-0010", "Every Postgres cluster is scraped by a PodMonitor",
              stack=c.postgres_pod_monitors),
    _contract("one-iceberg-rest-catalog", "ADR-0008", "Lakekeeper is the single Iceberg REST catalog",
              stack=c.one_iceberg_rest_catalog),
    _contract("lakekeeper-production-ready", "ADR-0008", "Lakekeeper: several replicas, OIDC, encryption key from a Secret",
              c.lakekeeper_production_ready),
    _contract("vespa-config-server-quorum", "ADR-0007", "Vespa config servers: a quorum of 3 on distinct nodes",
              c.vespa_config_server_quorum),
    _contract("trino-never-exposed", "ADR-0014/ADR-0029", "Trino is never reachable from outside the cluster",
              c.trino_never_exposed),
    _contract("clickhouse-reads-only", "seed 002: read path", "ClickHouse's users read the warehouse and nothing else",
              r.clickhouse_reads_only),
    _contract("clickhouse-never-exposed", "seed 002: read path; ADR-0014",
              "ClickHouse is reached inside the cluster only", r.clickhouse_never_exposed),
    _contract("edge-sql-only-through-sql-bi-gateway", "ADR-0014", "Only the edge services and sql-bi-gateway face outside",
              c.edge_sql_only_through_sql_bi_gateway),
    _contract("kafka-no-automatic-topic-creation", "ADR-0011", "Topics come from the registry, never from brokers",
              c.kafka_no_automatic_topic_creation),
    _contract("kafka-no-wildcard-acls", "ADR-0011", "Kafka principals hold named literal or prefix ACLs only; no super users",
              c.kafka_no_wildcard_acls),
    _contract("kafka-rack-awareness", "ADR-0011", "Kafka is rack-aware and its node pools spread over zones",
              c.kafka_rack_awareness),
    _contract("kafka-durability", "ADR-0011", "Kafka: RF 3 (internal topics too), 2 <= min ISR < RF, no unclean election",
              c.kafka_durability),
    _contract("kafka-listeners-authenticated", "ADR-0011", "Every Kafka listener authenticates; authorization is on",
              c.kafka_listeners_authenticated),
    _contract("kafka-topic-replicas", "ADR-0011", "Every topic has 3+ replicas and min ISR below them",
              c.kafka_topic_replicas),
    _contract("bus-credentials-follow-the-contract", "ADR-0011",
              "A service holds credentials only for the buses the catalog allows it",
              stack=c.bus_credentials_follow_the_contract),
    _contract("jetstream-file-storage", "ADR-0011", "JetStream streams are kept on file storage",
              c.jetstream_file_storage),
    _contract("jetstream-replicas", "ADR-0011", "JetStream streams have 3 replicas", c.jetstream_replicas),
    _contract("ceph-erasure-coding-layout", "seed: RGW S3 EC 4+2",
              "The object store's data pool is EC 4+2 over racks or zones; metadata replicated", c.ceph_erasure_coding_layout),
    _contract("ceph-mon-quorum", "Rook production guidance", "An odd mon count of 3+, never two on one node",
              c.ceph_mon_quorum),
    _contract("ceph-replicated-pools", "Rook production guidance", "Replicated pools keep 3 copies over racks or zones",
              c.ceph_replicated_pools),
    _contract("services-in-their-plane-namespace", "seed: five planes", "Every service runs in its plane's namespace",
              c.services_in_their_plane_namespace),
    _contract("one-workload-per-service", "seed: five planes", "Every service runs exactly once",
              stack=c.one_workload_per_service),
    _contract("cassandra-authenticated", "ADR-0020; platform security",
              "The operational store requires a login and grants (authentication and authorization on)",
              cs.cassandra_authenticated),
    _contract("cassandra-zone-racks", "ADR-0020", "Prod Cassandra: 3+ nodes per datacenter, a rack per zone",
              cs.cassandra_zone_racks),
    _contract("outbox-relay-least-privilege", "ADR-0022; platform security",
              "The outbox relay reads only declared publications of named tables, as a role with no other power",
              ob.outbox_relay_least_privilege),
    _contract("stateful-resources-protected", "platform standard", "Stateful resources are protected from deletion",
              c.stateful_resources_protected),
    # --- Kubernetes hygiene ---
    _hygiene("requests-and-limits", "kube-linter unset-cpu-requirements/unset-memory-requirements; Polaris",
             "Every container sets CPU requests and memory requests and limits", h.requests_and_limits),
    _hygiene("readiness-probe", "Polaris readinessProbeMissing", "Deployments' containers have a readiness probe",
             h.readiness_probe),
    _hygiene("liveness-probe", "Polaris livenessProbeMissing", "Deployments' containers have a liveness probe",
             h.liveness_probe),
    _hygiene("run-as-non-root", "kube-linter run-as-non-root; Polaris runAsRootAllowed", "Containers never run as root",
             h.run_as_non_root),
    _hygiene("read-only-root-filesystem", "kube-linter no-read-only-root-fs; Polaris",
             "Containers have a read-only root filesystem", h.read_only_root_filesystem),
    _hygiene("no-privilege-escalation", "kube-linter privilege-escalation-container; Polaris",
             "Containers cannot escalate privileges", h.no_privilege_escalation),
    _hygiene("drop-all-capabilities", "Polaris insecureCapabilities; PSS restricted", "Containers drop every capability",
             h.drop_all_capabilities),
    _hygiene("no-privileged-containers", "kube-linter privileged-container; Polaris", "No privileged containers",
             h.no_privileged_containers),
    _hygiene("seccomp-runtime-default", "PSS restricted", "Containers run under a seccomp profile",
             h.seccomp_runtime_default),
    _hygiene("no-host-namespaces", "kube-linter host-network/host-pid/host-ipc; Polaris",
             "Pods never share the node's network, PID or IPC namespace", h.no_host_namespaces),
    _hygiene("no-host-path-volumes", "kube-linter sensitive-host-mounts; Polaris hostPathSet", "Pods never mount node paths",
             h.no_host_path_volumes),
    _hygiene("pinned-image-tags", "kube-linter latest-tag; Polaris tagNotSpecified", "Images are pinned, never latest",
             h.pinned_image_tags),
    _hygiene("no-automounted-service-account-token", "Polaris automountServiceAccountToken",
             "Long-running pods say whether they mount an API token", h.no_automounted_service_account_token),
    _hygiene("no-secret-env-literals", "kube-linter env-var-secret", "No secret in a plain environment variable",
             h.no_secret_env_literals),
    _hygiene("no-secrets-in-config-maps", "Checkov CKV_K8S_35-style", "No secret values in ConfigMaps",
             h.no_secrets_in_config_maps),
    _hygiene("no-load-balancer-without-allow", "Pulumi compliance k8s no-load-balancer",
             "A LoadBalancer Service needs an explicit allow annotation", h.no_load_balancer_without_allow),
    _hygiene("no-node-port-services", "kube-linter exposed-services", "No NodePort Services", h.no_node_port_services),
    _hygiene("explicit-namespace", "kube-linter (default namespace)", "Namespaced resources never land in default",
             h.explicit_namespace),
    _hygiene("disruption-budgets-for-replicated-workloads", "Polaris missingPodDisruptionBudget; kube-linter",
             "Replicated workloads have a PodDisruptionBudget", stack=h.disruption_budgets_for_replicated_workloads),
    _hygiene("spread-for-replicated-workloads", "Polaris topologySpreadConstraint; kube-linter no-anti-affinity",
             "Replicated workloads spread over nodes", stack=h.spread_for_replicated_workloads),
    _hygiene("rolling-updates-keep-the-spread", "Kubernetes docs: topology spread, matchLabelKeys",
             "A Deployment's hard spread holds after a rolling update", h.rolling_updates_keep_the_spread),
    _hygiene("network-policy-per-namespace", "Polaris missingNetworkPolicy", "Every namespace has a NetworkPolicy",
             stack=h.network_policy_per_namespace),
    # --- wiring: how objects refer to each other (kube-linter's default checks) ---
    _hygiene("no-duplicate-env-vars", "kube-linter duplicate-env-var", "A container sets each variable once",
             w.no_duplicate_env_vars),
    _hygiene("selector-matches-template", "kube-linter mismatching-selector",
             "A workload's selector matches its own pod template", w.selector_matches_template),
    _hygiene("services-select-a-workload", "kube-linter dangling-service",
             "A Service selects a pod template, and its target ports name ports of those pods",
             stack=w.services_select_a_workload),
    _hygiene("referenced-accounts-and-secrets-exist", "kube-linter non-existent-service-account",
             "Every ServiceAccount and Secret a pod uses is created (by the stack or an operator) or declared external",
             stack=w.referenced_accounts_and_secrets_exist),
    _hygiene("budgets-allow-an-eviction", "kube-linter pdb-max-unavailable, pdb-min-available",
             "A PodDisruptionBudget leaves room for a voluntary eviction", stack=w.budgets_allow_an_eviction),
    _contract("operators-make-admissible-pods", "Pod Security Standards; operators' security providers",
              "Each operator makes pods the Pod Security level of their namespace admits",
              stack=w.operators_make_admissible_pods),
)


def violations(spec: PolicySpec, resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """Every violation of one policy over a set of resources, exemptions applied (the fast tier's entry point)."""
    if spec.stack_check is not None:
        for resource, message in spec.stack_check(resources):
            if resource is None or not resource.exempt_from(spec.name):
                yield resource, message
    if spec.resource_check is not None:
        for resource in resources:
            if not resource.exempt_from(spec.name):
                for message in spec.resource_check(resource):
                    yield resource, message
