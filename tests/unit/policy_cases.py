"""The policy pack's cases: for each policy a violating and a compliant set of resources, and the message each
violation must report (tests/unit/test_policies.py). Branches beyond a policy's first: policy_branches.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policies"))

from openfoundry_policies.resources import Resource


def deployment(container: dict[str, Any] | None = None, **spec: Any) -> Resource:
    good = {"name": "app", "image": "ghcr.io/openfoundry/app:0.1.0",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}
    pod = {"containers": [{**good, **(container or {})}], "automountServiceAccountToken": False,
           **spec.pop("pod", {})}
    labels = {"app.kubernetes.io/name": "app", "openfoundry.io/plane": "compute", **spec.pop("labels", {})}
    annotations = spec.pop("annotations", {})
    return Resource("kubernetes:apps/v1:Deployment", {
        "metadata": {"name": "app", "namespace": "openfoundry-compute", **({"annotations": annotations} if annotations else {})},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": labels}, "spec": pod}, **spec}})


def cr(kind: str, spec: dict[str, Any], api: str = "kafka.strimzi.io/v1", protected: bool = True,
       name: str = "x", props_namespace: str = "ns", **props: Any) -> Resource:
    return Resource(f"kubernetes:{api}:{kind}", {"metadata": {"name": name, "namespace": props_namespace}, "spec": spec,
                                                 **props}, name, protected)


K8SSANDRA_API = "k8ssandra.io/v1alpha1"
GOOD_DC = {"metadata": {"name": "dc1"}, "size": 3, "racks": [
    {"name": z, "nodeAffinityLabels": {"topology.kubernetes.io/zone": z}} for z in ("zone-a", "zone-b", "zone-c")]}
GOOD_CASSANDRA = {"auth": True, "cassandra": {"datacenters": [GOOD_DC]}}


def service_to(selector: dict[str, str], target: str) -> Resource:
    return Resource("kubernetes:core/v1:Service", {"metadata": {"name": "s", "namespace": "openfoundry-compute"}, "spec": {
        "selector": selector, "ports": [{"name": "web", "port": 80, "targetPort": target}]}})


def budget(spec: dict[str, Any]) -> Resource:
    return Resource("kubernetes:policy/v1:PodDisruptionBudget", {
        "metadata": {"name": "b", "namespace": "openfoundry-compute"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "app"}}, **spec}})


def restricted_namespace(name: str) -> Resource:
    return Resource("kubernetes:core/v1:Namespace", {"metadata": {"name": name, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})


def chart(name: str, namespace: str, values: dict[str, Any]) -> Resource:
    return Resource("kubernetes:helm.sh/v4:Chart", {"namespace": namespace, "values": values}, name)


GOOD_KAFKA: dict[str, Any] = {"kafka": {
    "rack": {"topologyKey": "topology.kubernetes.io/zone"}, "authorization": {"type": "simple"},
    "listeners": [{"name": "tls", "authentication": {"type": "scram-sha-512"}}],
    "config": {"auto.create.topics.enable": False, "default.replication.factor": 3,
               "offsets.topic.replication.factor": 3, "transaction.state.log.replication.factor": 3,
               "min.insync.replicas": 2, "unclean.leader.election.enable": False}}}
GOOD_PG = {"instances": 3, "postgresql": {"synchronous": {"method": "any", "number": 1}},
           "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True}]}


def clickhouse_users(users: str, remove_default: bool = True) -> Resource:
    """A ClickHouse users.d file in a ConfigMap: a readonly-1 `reader` profile, and `users`."""
    default = '<default remove="remove"/>' if remove_default else ""
    text = (f"<clickhouse><profiles><reader><readonly>1</readonly></reader><ops><readonly>0</readonly></ops></profiles>"
            f"<users>{default}{users}</users></clickhouse>")
    return Resource("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "clickhouse", "namespace": "openfoundry-storage"},
                                                     "data": {"users.xml": text, "note.xml": "<not-clickhouse/>"}})


READER = ('<grafana><password from_env="P"/><profile>reader</profile>'
          "<grants><query>GRANT SELECT ON lake.*</query></grants></grafana>")


def with_kafka(**config: Any) -> dict[str, Any]:
    return {"kafka": {**GOOD_KAFKA["kafka"], "config": {**GOOD_KAFKA["kafka"]["config"], **config}}}


BACKUP_STORE = cr("ObjectStore", {"configuration": {"destinationPath": "s3://pg-backups-x/"}}, "barmancloud.cnpg.io/v1")
BACKUP_CLAIM = cr("ObjectBucketClaim", {"bucketName": "pg-backups-x"}, "objectbucket.io/v1alpha1", name="pg-backups-x")


def offsite_copy(buckets: str, endpoint: str = "https://s3.elsewhere.example") -> Resource:
    env = [{"name": "BUCKETS", "value": buckets}, {"name": "RCLONE_CONFIG_OFFSITE_ENDPOINT", "value": endpoint}]
    return Resource("kubernetes:batch/v1:CronJob", {"metadata": {"name": "copy", "namespace": "ns"}, "spec": {
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "rclone", "env": env}]}}}}}})


CASES: list[tuple[str, list[Resource], list[Resource]]] = [
    ("postgres-only-through-cloudnativepg", [deployment({"image": "docker.io/postgres:16"})], [deployment()]),
    ("postgres-synchronous-replicas", [cr("Cluster", {**GOOD_PG, "instances": 1}, "postgresql.cnpg.io/v1")],
     [cr("Cluster", GOOD_PG, "postgresql.cnpg.io/v1")]),
    ("postgres-wal-archiving", [cr("Cluster", {**GOOD_PG, "plugins": []}, "postgresql.cnpg.io/v1")],
     [cr("Cluster", GOOD_PG, "postgresql.cnpg.io/v1")]),
    ("postgres-backup-retention", [cr("ObjectStore", {}, "barmancloud.cnpg.io/v1")],
     [cr("ObjectStore", {"retentionPolicy": "30d"}, "barmancloud.cnpg.io/v1")]),
    ("backups-leave-the-site", [BACKUP_STORE, BACKUP_CLAIM],
     [BACKUP_STORE, BACKUP_CLAIM, offsite_copy("pg-backups-x other")]),
    ("postgres-scheduled-backups", [cr("Cluster", GOOD_PG, "postgresql.cnpg.io/v1")],
     [cr("Cluster", GOOD_PG, "postgresql.cnpg.io/v1"),
      cr("ScheduledBackup", {"cluster": {"name": "x"}}, "postgresql.cnpg.io/v1", name="b")]),
    ("postgres-pod-monitors", [cr("Cluster", GOOD_PG, "postgresql.cnpg.io/v1")],
     [cr("Cluster", GOOD_PG, "postgresql.cnpg.io/v1"),
      cr("PodMonitor", {"selector": {"matchLabels": {"cnpg.io/cluster": "x"}}}, "monitoring.coreos.com/v1")]),
    # a Job running the catalog's image (`lakekeeper migrate`) serves nothing: not a second catalog
    ("one-iceberg-rest-catalog", [deployment({"image": "quay.io/lakekeeper/catalog:v0.13.3"})] * 2,
     [deployment({"image": "quay.io/lakekeeper/catalog:v0.13.3"}),
      Resource("kubernetes:batch/v1:Job", {"metadata": {"name": "lakekeeper-migrate"}, "spec": {"template": {"spec": {
          "containers": [{"name": "migrate", "image": "quay.io/lakekeeper/catalog:v0.13.3", "args": ["migrate"]}]}}}})]),
    ("lakekeeper-production-ready", [deployment({"image": "quay.io/lakekeeper/catalog:v0.13.3"})],
     [deployment({"image": "quay.io/lakekeeper/catalog:v0.13.3", "env": [
         {"name": "LAKEKEEPER__OPENID_PROVIDER_URI", "value": "https://id"},
         {"name": "LAKEKEEPER__PG_ENCRYPTION_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "key"}}}]},
         replicas=2)]),
    ("trino-never-exposed", [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "trino"},
                                                                     "spec": {"type": "LoadBalancer"}})],
     [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "trino"}, "spec": {"type": "ClusterIP"}})]),
    ("clickhouse-reads-only", [clickhouse_users(READER, remove_default=False)], [clickhouse_users(READER)]),
    ("clickhouse-never-exposed", [Resource("kubernetes:core/v1:Service", {
        "metadata": {"name": "olap"}, "spec": {"type": "NodePort", "selector": {"app.kubernetes.io/name": "clickhouse"}}})],
     [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "clickhouse"}, "spec": {"type": "ClusterIP"}})]),
    ("edge-sql-only-through-sql-bi-gateway",
     [Resource("kubernetes:networking.k8s.io/v1:Ingress", {"metadata": {"name": "i"}, "spec": {"rules": [
         {"http": {"paths": [{"backend": {"service": {"name": "sql-warehousing-service"}}}]}}]}})],
     [Resource("kubernetes:networking.k8s.io/v1:Ingress", {"metadata": {"name": "i"}, "spec": {"rules": [
         {"http": {"paths": [{"backend": {"service": {"name": "gateway"}}}]}}]}})]),
    ("kafka-no-automatic-topic-creation", [cr("Kafka", with_kafka(**{"auto.create.topics.enable": True}))],
     [cr("Kafka", GOOD_KAFKA)]),
    ("kafka-no-wildcard-acls", [cr("KafkaUser", {"authorization": {"acls": [
        {"resource": {"type": "topic", "name": "*"}, "operations": ["Read"]}]}})],
     [cr("KafkaUser", {"authorization": {"acls": [
         {"resource": {"type": "topic", "name": "cdc.postgres", "patternType": "prefix"}, "operations": ["Read"]}]}})]),
    ("kafka-rack-awareness", [cr("KafkaNodePool", {"template": {"pod": {}}})],
     [cr("KafkaNodePool", {"template": {"pod": {"topologySpreadConstraints": [
         {"topologyKey": "topology.kubernetes.io/zone"}]}}})]),
    ("kafka-durability", [cr("Kafka", with_kafka(**{"min.insync.replicas": 3}))], [cr("Kafka", GOOD_KAFKA)]),
    ("kafka-listeners-authenticated", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "listeners": [{"name": "plain"}]}})],
     [cr("Kafka", GOOD_KAFKA)]),
    ("kafka-topic-replicas", [cr("KafkaTopic", {"replicas": 2, "config": {"min.insync.replicas": 2}})],
     [cr("KafkaTopic", {"replicas": 3, "config": {"min.insync.replicas": 2}})]),
    ("bus-credentials-follow-the-contract", [cr("KafkaUser", {}, name="app"), deployment()],
     [cr("KafkaUser", {}, name="app"),
      deployment(pod={}, template={"metadata": {"labels": {"app.kubernetes.io/name": "app",
                                                           "openfoundry.io/buses": "data"}}, "spec": {}})]),
    ("jetstream-file-storage", [cr("Stream", {"storage": "memory"}, "jetstream.nats.io/v1beta2")],
     [cr("Stream", {"storage": "file", "replicas": 3}, "jetstream.nats.io/v1beta2")]),
    ("jetstream-replicas", [cr("Stream", {"storage": "file", "replicas": 1}, "jetstream.nats.io/v1beta2")],
     [cr("Stream", {"storage": "file", "replicas": 3}, "jetstream.nats.io/v1beta2")]),
    ("ceph-erasure-coding-layout", [cr("CephObjectStore", {"dataPool": {"failureDomain": "host", "replicated": {"size": 3}}},
                                       "ceph.rook.io/v1")],
     [cr("CephObjectStore", {"dataPool": {"failureDomain": "rack", "erasureCoded": {"dataChunks": 4, "codingChunks": 2}},
                             "metadataPool": {"replicated": {"size": 3}}}, "ceph.rook.io/v1")]),
    ("ceph-mon-quorum", [cr("CephCluster", {"mon": {"count": 4}}, "ceph.rook.io/v1")],
     [cr("CephCluster", {"mon": {"count": 5, "allowMultiplePerNode": False}}, "ceph.rook.io/v1")]),
    ("ceph-replicated-pools", [cr("CephBlockPool", {"failureDomain": "host", "replicated": {"size": 2}}, "ceph.rook.io/v1")],
     [cr("CephBlockPool", {"failureDomain": "zone", "replicated": {"size": 3}}, "ceph.rook.io/v1")]),
    ("services-in-their-plane-namespace",
     [Resource("kubernetes:apps/v1:Deployment", {**deployment().props, "metadata": {"name": "app", "namespace": "default"}})],
     [deployment()]),
    ("one-workload-per-service", [deployment(), deployment()],
     [deployment(labels={"app.kubernetes.io/component": "coordinator"}),
      deployment(labels={"app.kubernetes.io/component": "worker"})]),
    ("stateful-resources-protected", [cr("Kafka", GOOD_KAFKA, protected=False)], [cr("Kafka", GOOD_KAFKA)]),
    ("cassandra-authenticated", [cr("K8ssandraCluster", {**GOOD_CASSANDRA, "auth": False}, K8SSANDRA_API)],
     [cr("K8ssandraCluster", GOOD_CASSANDRA, K8SSANDRA_API)]),
    ("cassandra-zone-racks", [cr("K8ssandraCluster", {"cassandra": {"datacenters": [
        {**GOOD_DC, "racks": [{"name": "r1"}, {"name": "r2"}, {"name": "r3"}]}]}}, K8SSANDRA_API)],
     [cr("K8ssandraCluster", GOOD_CASSANDRA, K8SSANDRA_API)]),
    ("outbox-relay-least-privilege",
     [cr("Publication", {"target": {"objects": [{"tablesInSchema": "outbox"}]}}, "postgresql.cnpg.io/v1"),
      cr("Publication", {"target": {"allTables": True}}, "postgresql.cnpg.io/v1"),
      cr("Cluster", {**GOOD_PG, "managed": {"roles": [{"name": "relay", "replication": True, "superuser": True}]}},
         "postgresql.cnpg.io/v1"),
      cr("Cluster", {**GOOD_PG, "managed": {"roles": [{"name": "relay", "replication": True, "inRoles": ["app"]}]}},
         "postgresql.cnpg.io/v1"),
      cr("KafkaConnector", {"class": "io.debezium.connector.postgresql.PostgresConnector", "config": {}})],
     [cr("Publication", {"target": {"objects": [{"table": {"schema": "outbox", "name": "events"}}]}},
         "postgresql.cnpg.io/v1"),
      cr("Cluster", {**GOOD_PG, "managed": {"roles": [{"name": "relay", "replication": True, "login": True},
                                                      {"name": "reader", "inRoles": ["pg_read_all_data"]}]}},
         "postgresql.cnpg.io/v1"),
      cr("KafkaConnector", {"class": "io.debezium.connector.postgresql.PostgresConnector",
                            "config": {"publication.autocreate.mode": "disabled"}})]),
    ("requests-and-limits", [deployment({"resources": {}})], [deployment()]),
    ("readiness-probe", [deployment({"readinessProbe": None})], [deployment()]),
    ("liveness-probe", [deployment({"livenessProbe": None})], [deployment()]),
    ("run-as-non-root", [deployment({"securityContext": {"runAsUser": 0}})], [deployment()]),
    ("read-only-root-filesystem", [deployment({"securityContext": {"readOnlyRootFilesystem": False}})], [deployment()]),
    ("no-privilege-escalation", [deployment({"securityContext": {"allowPrivilegeEscalation": True}})], [deployment()]),
    ("drop-all-capabilities", [deployment({"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}})],
     [deployment()]),
    ("no-privileged-containers", [deployment({"securityContext": {"privileged": True}})], [deployment()]),
    ("seccomp-runtime-default", [deployment({"securityContext": {"runAsNonRoot": True}})], [deployment()]),
    ("no-host-namespaces", [deployment(pod={"hostNetwork": True})], [deployment()]),
    ("no-host-path-volumes", [deployment(pod={"volumes": [{"name": "h", "hostPath": {"path": "/var"}}]})],
     [deployment(pod={"volumes": [{"name": "t", "emptyDir": {}}]})]),
    ("pinned-image-tags", [deployment({"image": "ghcr.io/openfoundry/app:latest"}),
                           deployment({"image": "registry:5000/app"})], [deployment()]),
    ("no-automounted-service-account-token", [deployment(pod={"automountServiceAccountToken": None})], [deployment()]),
    ("no-secret-env-literals", [deployment({"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]})],
     [deployment({"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "p"}}},
                          # where a projected token is mounted: a path, not the token
                          {"name": "ICEBERG_TOKEN_FILE", "value": "/var/run/secrets/openfoundry/lakekeeper/token"}]})]),
    ("no-secrets-in-config-maps", [Resource("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c", "namespace": "n"},
                                                                             "data": {"api_token": "abc123456"}})],
     [Resource("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c", "namespace": "n"}, "data": {"acks": "all"}})]),
    ("no-load-balancer-without-allow", [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "s", "namespace": "n"},
                                                                                "spec": {"type": "LoadBalancer"}})],
     [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "s", "namespace": "n", "annotations": {
         "policy.openfoundry.dev/allow-load-balancer": "the ingress controller"}}, "spec": {"type": "LoadBalancer"}})]),
    ("no-node-port-services", [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "s"}, "spec": {"type": "NodePort"}})],
     [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}})]),
    ("explicit-namespace", [Resource("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c"}})],
     [Resource("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c", "namespace": "n"}})]),
    ("disruption-budgets-for-replicated-workloads", [deployment(replicas=3)],
     [deployment(replicas=3), Resource("kubernetes:policy/v1:PodDisruptionBudget", {
         "metadata": {"name": "app", "namespace": "openfoundry-compute"},
         "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "app"}}}})]),
    ("spread-for-replicated-workloads", [deployment(replicas=3)],
     [deployment(replicas=3, pod={"topologySpreadConstraints": [{"topologyKey": "kubernetes.io/hostname"}]})]),
    ("rolling-updates-keep-the-spread",
     [deployment(pod={"topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone",
                                                     "whenUnsatisfiable": "DoNotSchedule"}]})],
     [deployment(pod={"topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone",
                                                     "whenUnsatisfiable": "DoNotSchedule",
                                                     "matchLabelKeys": ["pod-template-hash"]},
                                                    {"topologyKey": "kubernetes.io/hostname",
                                                     "whenUnsatisfiable": "ScheduleAnyway"}]})]),
    ("network-policy-per-namespace", [Resource("kubernetes:core/v1:Namespace", {"metadata": {"name": "n"}})],
     [Resource("kubernetes:core/v1:Namespace", {"metadata": {"name": "n"}}),
      Resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", {"metadata": {"name": "p", "namespace": "n"}})]),
    ("no-duplicate-env-vars", [deployment({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]})],
     [deployment({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})]),
    ("selector-matches-template", [deployment(selector={"matchLabels": {"app.kubernetes.io/name": "other"}})],
     [deployment(selector={"matchLabels": {"app.kubernetes.io/name": "app"}})]),
    ("services-select-a-workload",
     [service_to({"app.kubernetes.io/name": "nobody"}, "http"), deployment(),
      service_to({"app.kubernetes.io/name": "app"}, "grpc")],
     [service_to({"app.kubernetes.io/name": "app"}, "http"), deployment({"ports": [{"name": "http", "containerPort": 8080}]})]),
    ("referenced-accounts-and-secrets-exist",
     [deployment({"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "p"}}}]},
                 pod={"serviceAccountName": "ghost"})],
     [deployment({"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "pg-x-app", "key": "p"}}},
                          {"name": "T", "valueFrom": {"secretKeyRef": {"name": "idp-client", "key": "t"}}}]},
                 pod={"serviceAccountName": "app"}, annotations={"policy.openfoundry.dev/external-secrets": "idp-client"}),
      Resource("kubernetes:core/v1:ServiceAccount", {"metadata": {"name": "app", "namespace": "openfoundry-compute"}}),
      Resource("kubernetes:postgresql.cnpg.io/v1:Cluster", {"metadata": {"name": "pg-x", "namespace": "openfoundry-compute"},
                                                           "spec": {}})]),
    ("budgets-allow-an-eviction", [budget({"maxUnavailable": 0})],
     [budget({"maxUnavailable": 1}), deployment(replicas=3)]),
    ("operators-make-admissible-pods",
     [restricted_namespace("openfoundry-ingestion"), cr("Kafka", GOOD_KAFKA, props_namespace="openfoundry-ingestion"),
      chart("strimzi", "strimzi", {"watchNamespaces": ["openfoundry-ingestion"]})],
     [restricted_namespace("openfoundry-ingestion"), cr("Kafka", GOOD_KAFKA, props_namespace="openfoundry-ingestion"),
      chart("strimzi", "strimzi", {"extraEnvs": [{"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"}]})]),
    ("vespa-config-server-quorum",
     [Resource("kubernetes:apps/v1:StatefulSet", {"metadata": {"name": "v"}, "spec": {"replicas": 1, "template": {"spec": {
         "containers": [{"image": "docker.io/vespaengine/vespa:8.634.24", "args": ["configserver,services"]}]}}}})],
     [Resource("kubernetes:apps/v1:StatefulSet", {"metadata": {"name": "v"}, "spec": {"replicas": 3, "template": {"spec": {
         "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
             {"topologyKey": "kubernetes.io/hostname"}]}},
         "containers": [{"image": "docker.io/vespaengine/vespa:8.634.24", "args": ["configserver,services"]}]}}}})]),
]


# What each violating case must be reported as (a fragment of the message), so a case that trips some other
# branch of its policy cannot pass for the one it is written for.
EXPECTED_MESSAGE = {
    "postgres-only-through-cloudnativepg": "runs Postgres (docker.io/postgres:16) outside CloudNativePG",
    "postgres-synchronous-replicas": "has 1 instance(s)", "postgres-wal-archiving": "archives no WAL",
    "postgres-backup-retention": "retention", "postgres-scheduled-backups": "ScheduledBackup",
    "postgres-pod-monitors": "PodMonitor", "one-iceberg-rest-catalog": "Iceberg REST catalog",
    "lakekeeper-production-ready": "replica", "trino-never-exposed": "exposes Trino through a LoadBalancer",
    "clickhouse-reads-only": "keeps ClickHouse's `default` user",
    "clickhouse-never-exposed": "exposes ClickHouse through a NodePort",
    "edge-sql-only-through-sql-bi-gateway": "routes to sql-warehousing-service",
    "kafka-no-automatic-topic-creation": "auto.create.topics.enable must be false",
    "kafka-no-wildcard-acls": "wildcard or cluster-wide ACL", "kafka-rack-awareness": "no zone topology spread",
    "kafka-durability": "min.insync.replicas 3 with replication factor 3",
    "kafka-listeners-authenticated": "listener plain accepts unauthenticated clients",
    "kafka-topic-replicas": "has 2 replicas", "bus-credentials-follow-the-contract": "holds a Kafka principal",
    "jetstream-file-storage": "keeps its stream in memory", "jetstream-replicas": "1",
    "ceph-erasure-coding-layout": "not erasure-coded 4+2", "ceph-mon-quorum": "runs 4 mons",
    "ceph-replicated-pools": "keeps 2 copies", "services-in-their-plane-namespace": "runs in default",
    "one-workload-per-service": "a second time", "stateful-resources-protected": "not protected from deletion",
    "cassandra-authenticated": "turns authentication off", "cassandra-zone-racks": "has no rack per zone",
    "outbox-relay-least-privilege": "publishes",
    "requests-and-limits": "sets no memory requests", "readiness-probe": "has no readiness probe",
    "liveness-probe": "has no liveness probe", "run-as-non-root": "may run as root",
    "read-only-root-filesystem": "writable root filesystem", "no-privilege-escalation": "may escalate privileges",
    "drop-all-capabilities": "drop ALL", "no-privileged-containers": "privileged", "seccomp-runtime-default": "seccomp",
    "no-host-namespaces": "shares the node's Network namespace", "no-host-path-volumes": "mounts the node's /var",
    "pinned-image-tags": "latest",
    "no-automounted-service-account-token": "token", "no-secret-env-literals": "DB_PASSWORD",
    "no-secrets-in-config-maps": "api_token", "no-load-balancer-without-allow": "LoadBalancer",
    "no-node-port-services": "NodePort", "explicit-namespace": "default namespace",
    "disruption-budgets-for-replicated-workloads": "without a PodDisruptionBudget",
    "spread-for-replicated-workloads": "nothing spreading them", "network-policy-per-namespace": "has no NetworkPolicy",
    "rolling-updates-keep-the-spread": "counting every revision's pods",
    "vespa-config-server-quorum": "config server",
    "backups-leave-the-site": "pg-backups-x holds the backups",
    "no-duplicate-env-vars": "sets A twice", "selector-matches-template": "does not match its pod template",
    "services-select-a-workload": "selects no pod template", "referenced-accounts-and-secrets-exist": "Secret missing",
    "budgets-allow-an-eviction": "no node can ever be drained",
    "operators-make-admissible-pods": "STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted",
}
