"""The policy pack's cases beyond each policy's first: each further branch with the breakage it catches, and what a
policy must let pass although it looks like a violation (tests/unit/test_policies.py, tests/unit/test_pack.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policies"))

from openfoundry_policies.resources import Resource

from tests.unit.policy_cases import (
    BACKUP_STORE,
    GOOD_CASSANDRA,
    GOOD_DC,
    GOOD_KAFKA,
    GOOD_PG,
    K8SSANDRA_API,
    READER,
    budget,
    chart,
    clickhouse_users,
    cr,
    deployment,
    offsite_copy,
    restricted_namespace,
    service_to,
    with_kafka,
)

ingress_to = lambda backend, default=False: Resource(  # noqa: E731
    "kubernetes:networking.k8s.io/v1:Ingress", {"metadata": {"name": "i", "namespace": "n"}, "spec": (
        {"defaultBackend": {"service": {"name": backend}}} if default else
        {"rules": [{"http": {"paths": [{"backend": {"service": {"name": backend}}}]}}]})})
flink = lambda container: cr("FlinkDeployment", {  # noqa: E731
    "image": "ghcr.io/openfoundry/iceberg-maintenance:0.1.0", "jobManager": {"resource": {"cpu": 1, "memory": "2048m"}},
    "taskManager": {"resource": {"cpu": 1, "memory": "2048m"}},
    "podTemplate": {"spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                             "containers": [{"name": "flink-main-container", **container}]}}}, "flink.apache.org/v1beta1")
UNAUTHENTICATED = "policy.openfoundry.dev/unauthenticated-listeners"
PLAIN_PEER = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "indexer"}}}
RESTRICTED_CONTAINER = {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                            "readOnlyRootFilesystem": True}}

# Branches of a policy beyond its first: (policy, violating resources, message fragment); each compliant case above
# passes the same policy.
BRANCHES: list[tuple[str, list[Resource], str]] = [
    # Medusa's bucket, and a copy to a remote that is not another site's https endpoint
    ("backups-leave-the-site", [cr("K8ssandraCluster", {**GOOD_CASSANDRA, "medusa": {"storageProperties": {
        "bucketName": "cassandra-backups"}}}, K8SSANDRA_API), offsite_copy("pg-backups-x")],
     "cassandra-backups holds the backups of"),
    ("backups-leave-the-site", [BACKUP_STORE, offsite_copy("pg-backups-x", endpoint="http://rgw.local")],
     "pg-backups-x holds the backups"),
    ("cassandra-authenticated", [cr("K8ssandraCluster", {**GOOD_CASSANDRA, "cassandra": {**GOOD_CASSANDRA["cassandra"],
     "config": {"cassandraYaml": {"authenticator": "org.apache.cassandra.auth.AllowAllAuthenticator"}}}}, K8SSANDRA_API)],
     "sets authenticator: org.apache.cassandra.auth.AllowAllAuthenticator"),
    ("cassandra-zone-racks", [cr("K8ssandraCluster", {"cassandra": {"datacenters": [{**GOOD_DC, "size": 1}]}}, K8SSANDRA_API)],
     "runs 1 node(s)"),
    ("postgres-synchronous-replicas", [cr("Cluster", {**GOOD_PG, "postgresql": {}}, "postgresql.cnpg.io/v1")],
     "no synchronous replication"),
    ("postgres-wal-archiving", [cr("Cluster", {**GOOD_PG, "backup": {"barmanObjectStore": {"destinationPath": "s3://b"}}},
                                   "postgresql.cnpg.io/v1")], "deprecated in-tree barmanObjectStore"),
    ("trino-never-exposed", [ingress_to("trino")], "routes to Trino (trino)"),
    # a Service of any name that selects Trino's pods exposes Trino
    ("trino-never-exposed", [Resource("kubernetes:core/v1:Service", {"metadata": {"name": "query"}, "spec": {
        "type": "NodePort", "selector": {"app.kubernetes.io/name": "trino"}}})], "exposes Trino through a NodePort"),
    ("disruption-budgets-for-replicated-workloads",
     [Resource("kubernetes:apps/v1:StatefulSet", deployment(replicas=2).props)], "runs 2 replicas without a PodDisruptionBudget"),
    # a budget counts in the workload's own namespace only
    ("disruption-budgets-for-replicated-workloads", [deployment(replicas=3), Resource(
        "kubernetes:policy/v1:PodDisruptionBudget", {"metadata": {"name": "b", "namespace": "elsewhere"}, "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "app"}}, "maxUnavailable": 1}})],
     "runs 3 replicas without a PodDisruptionBudget"),
    ("clickhouse-reads-only", [clickhouse_users(READER.replace("reader", "ops", 1))], "has profile ops"),
    ("clickhouse-reads-only", [clickhouse_users("<bi><profile>reader</profile></bi>")], "has no grants"),
    ("clickhouse-reads-only", [clickhouse_users(READER.replace("GRANT SELECT", "GRANT INSERT"))],
     "a reader is granted SELECT only"),
    ("clickhouse-reads-only", [clickhouse_users(READER.replace('<password from_env="P"/>', "<password>x</password>"))],
     "password is written in the file"),
    ("clickhouse-never-exposed", [ingress_to("clickhouse")], "routes to ClickHouse (clickhouse)"),
    ("edge-sql-only-through-sql-bi-gateway", [ingress_to("sql-warehousing-service", default=True)],
     "routes to sql-warehousing-service"),
    ("kafka-no-wildcard-acls", [cr("KafkaUser", {"authorization": {"acls": [
        {"resource": {"type": "topic", "name": "cdc.postgres", "patternType": "prefix"}, "operations": ["All"]}]}})],
     "holds operation All on cdc.postgres"),
    # an ACL that names no resource, or a blank one, reads as a wildcard
    ("kafka-no-wildcard-acls", [cr("KafkaUser", {"authorization": {"acls": [
        {"resource": {"type": "topic"}, "operations": ["Read"]}]}})], "wildcard or cluster-wide ACL (topic (no name))"),
    ("kafka-no-wildcard-acls", [cr("KafkaUser", {"authorization": {"acls": [
        {"resource": {"type": "group", "name": " "}, "operations": ["Read"]}]}})], "wildcard or cluster-wide ACL"),
    ("kafka-no-wildcard-acls", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "authorization": {
        "type": "simple", "superUsers": ["CN=admin"]}}})], "names super users"),
    ("kafka-rack-awareness", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "rack": {}}})], "is not rack-aware"),
    ("kafka-durability", [cr("Kafka", with_kafka(**{"offsets.topic.replication.factor": 1}))],
     "offsets.topic.replication.factor is 1"),
    ("kafka-durability", [cr("Kafka", with_kafka(**{"unclean.leader.election.enable": True}))],
     "allows unclean leader election"),
    ("kafka-listeners-authenticated", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "authorization": {}}})],
     "has no authorization"),
    # an exception names the listener, but nothing narrows who may open it
    ("kafka-listeners-authenticated", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "listeners": [
        {"name": "plain", "port": 9092, "tls": False}]}}, metadata={"name": "x", "namespace": "ns", "annotations": {
            UNAUTHENTICATED: "plain"}})], "is excepted from authentication but names no networkPolicyPeers"),
    # an exception for one listener is not one for another
    ("kafka-listeners-authenticated", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "listeners": [
        {"name": "other", "networkPolicyPeers": [PLAIN_PEER]}]}}, metadata={"name": "x", "namespace": "ns",
                                                                           "annotations": {UNAUTHENTICATED: "plain"}})],
     "listener other accepts unauthenticated clients"),
    ("bus-credentials-follow-the-contract", [
        Resource("kubernetes:core/v1:Secret", {"metadata": {"name": "kafka-client-app", "namespace": "n"}}),
        Resource("kubernetes:core/v1:Secret", {"metadata": {"name": "nats-client-app", "namespace": "n"}}),
        deployment()], "app is not on the data bus but gets its credentials"),
    ("bus-credentials-follow-the-contract", [
        Resource("kubernetes:core/v1:Secret", {"metadata": {"name": "nats-client-app", "namespace": "n"}}),
        deployment(labels={"openfoundry.io/buses": "data"})], "app is not on the control bus but gets its credentials"),
    # credentials for a service that runs no workload at all
    ("bus-credentials-follow-the-contract", [
        Resource("kubernetes:core/v1:Secret", {"metadata": {"name": "kafka-client-ghost", "namespace": "n"}})],
     "ghost is not on the data bus but gets its credentials"),
    # a Flink job (an Iceberg writer) is judged by its pod template's labels, as the operator labels its pods
    ("bus-credentials-follow-the-contract", [cr("KafkaUser", {}, name="writer"), cr("FlinkDeployment", {
        "podTemplate": {"metadata": {"labels": {"app.kubernetes.io/name": "writer"}}}}, "flink.apache.org/v1beta1")],
     "writer is not on the data bus but holds a Kafka principal"),
    ("ceph-erasure-coding-layout", [cr("CephObjectStore", {
        "dataPool": {"failureDomain": "rack", "erasureCoded": {"dataChunks": 4, "codingChunks": 2}},
        "metadataPool": {"erasureCoded": {"dataChunks": 2, "codingChunks": 1}}}, "ceph.rook.io/v1")],
     "the metadata pool must be replicated"),
    ("no-secret-env-literals", [deployment({"env": [{"name": "API_TOKEN_FILE", "value": "sk-live-4242"}]})],
     "sets API_TOKEN_FILE as a literal"),
    ("services-select-a-workload", [service_to({"app.kubernetes.io/name": "app"}, "grpc"),
                                    deployment({"ports": [{"name": "http", "containerPort": 8080}]})],
     "targets grpc, which no selected pod names"),
    ("kafka-topic-replicas", [cr("KafkaTopic", {})], "leaves its replica count to the brokers' default"),
    ("kafka-topic-replicas", [cr("KafkaTopic", {"replicas": 3, "config": {"min.insync.replicas": "3"}})],
     "min.insync.replicas 3 leaves no replica to lose (3 replicas)"),
    # without the config, Kafka's default of 1: one replica has none to lose
    ("kafka-topic-replicas", [cr("KafkaTopic", {"replicas": 1})], "min.insync.replicas 1 leaves no replica to lose"),
    ("jetstream-replicas", [cr("Stream", {"storage": "file"}, "jetstream.nats.io/v1beta2")],
     "has 1 replica(s); production streams need 3"),
    ("postgres-synchronous-replicas", [cr("Cluster", {k: v for k, v in GOOD_PG.items() if k != "instances"},
                                          "postgresql.cnpg.io/v1")], "has 1 instance(s)"),   # CloudNativePG's default
    ("ceph-replicated-pools", [cr("CephBlockPool", {"failureDomain": "zone"}, "ceph.rook.io/v1")], "keeps 0 copies"),
    ("ceph-replicated-pools", [cr("CephBlockPool", {"failureDomain": "osd", "replicated": {"size": 3}}, "ceph.rook.io/v1")],
     "failure domain osd; production pools spread over racks or zones"),
    ("drop-all-capabilities", [deployment({"securityContext": {
        "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}})], "container app adds capabilities ['NET_ADMIN']"),
    ("seccomp-runtime-default", [deployment({"securityContext": {"runAsNonRoot": True}})],
     "container app runs without a seccomp profile"),
    ("no-secret-env-literals", [deployment({"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]})],
     "container app sets DB_PASSWORD as a literal (use a Secret)"),
    # a file under an innocent key that holds a secret
    ("no-secrets-in-config-maps", [Resource("kubernetes:core/v1:ConfigMap", {
        "metadata": {"name": "c", "namespace": "n"}, "data": {"app.conf": "[db]\npassword = hunter2hunter2\n"}})],
     "key app.conf looks like a secret"),
    # the raw inputs, before the API server prunes a cluster resource's name: still cluster-wide
    ("kafka-no-wildcard-acls", [cr("KafkaUser", {"authorization": {"acls": [
        {"resource": {"type": "cluster", "name": "kafka-cluster"}, "operations": ["Describe"]}]}})],
     "wildcard or cluster-wide ACL (cluster kafka-cluster)"),
    # runAsNonRoot with user 0 still asks for root (the kubelet refuses to start it; Pod Security forbids it)
    ("run-as-non-root", [deployment({"securityContext": {"runAsNonRoot": True, "runAsUser": 0}})],
     "container app may run as root"),
    # a bare Pod keeps its spec at the top
    ("no-privileged-containers", [Resource("kubernetes:core/v1:Pod", {
        "metadata": {"name": "debug", "namespace": "n"},
        "spec": {"containers": [{"name": "debug", "image": "busybox:1.37", "securityContext": {"privileged": True}}]}})],
     "container debug is privileged"),
    # an init container is a container of the pod: it runs on the node with the same rights
    ("no-privileged-containers", [deployment(pod={"initContainers": [
        {"name": "init", "image": "busybox:1.37", "securityContext": {"privileged": True}}]})],
     "container init is privileged"),
    ("postgres-only-through-cloudnativepg", [deployment(pod={"initContainers": [{"name": "seed", "image": "postgres:16"}]})],
     "runs Postgres (postgres:16) outside CloudNativePG"),
    ("referenced-accounts-and-secrets-exist", [deployment(pod={"serviceAccountName": "ghost"})],
     "runs as ServiceAccount ghost, which nothing creates"),
    ("budgets-allow-an-eviction", [budget({"minAvailable": 3}), deployment(replicas=3)], "keeps 3 of"),
    ("operators-make-admissible-pods",
     [restricted_namespace("openfoundry-control"), chart("nack", "openfoundry-control", {"securityContext": {}})],
     "NACK's pod would be refused by its restricted namespace"),
    ("operators-make-admissible-pods",
     [restricted_namespace("openfoundry-ingestion"), cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "template": {
         "kafkaContainer": {"securityContext": {"runAsUser": 2000}}}}}, props_namespace="openfoundry-ingestion")],
     "template.kafkaContainer.securityContext replaces Strimzi's restricted settings"),
    ("ceph-mon-quorum", [cr("CephCluster", {"mon": {"count": 5, "allowMultiplePerNode": True}}, "ceph.rook.io/v1")],
     "may put several mons on one node"),
    # Rook's default failure domain is host: leaving it out spreads copies over nodes only
    ("ceph-replicated-pools", [cr("CephBlockPool", {"replicated": {"size": 3}}, "ceph.rook.io/v1")],
     "failure domain host"),
    # custom resources carrying a pod template are seen by the hygiene policies (the Flink operator's JobManager)
    ("no-privilege-escalation", [flink({})], "flink-main-container may escalate privileges"),
    ("drop-all-capabilities", [flink({})], "flink-main-container keeps Linux capabilities"),
    ("read-only-root-filesystem", [flink(RESTRICTED_CONTAINER | {"securityContext": {"allowPrivilegeEscalation": False}})],
     "flink-main-container has a writable root filesystem"),
    # each of the node's namespaces on its own (mutation testing found only hostNetwork exercised)
    ("no-host-namespaces", [deployment(pod={"hostPID": True})], "shares the node's PID namespace"),
    ("no-host-namespaces", [deployment(pod={"hostIPC": True})], "shares the node's IPC namespace"),
    ("explicit-namespace", [Resource("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c", "namespace": "default"}})],
     "lands in the default namespace"),
    ("explicit-namespace", [Resource("kubernetes:apps/v1:Deployment", {"metadata": {"name": "d", "namespace": ""}})],
     "lands in the default namespace"),
    ("outbox-relay-least-privilege", [cr("Publication", {"target": {"allTables": True}}, "postgresql.cnpg.io/v1")],
     "publishes every table of its database"),
    ("outbox-relay-least-privilege", [cr("Cluster", {**GOOD_PG, "managed": {"roles": [
        {"name": "relay", "replication": True, "superuser": True}]}}, "postgresql.cnpg.io/v1")],
     "replication role relay also holds superuser"),
    ("outbox-relay-least-privilege", [cr("Cluster", {**GOOD_PG, "managed": {"roles": [
        {"name": "relay", "replication": True, "inRoles": ["app"]}]}}, "postgresql.cnpg.io/v1")],
     "also holds member of app"),
    ("outbox-relay-least-privilege", [cr("KafkaConnector", {
        "class": "io.debezium.connector.postgresql.PostgresConnector", "config": {}})],
     "publication.autocreate.mode is all_tables"),
]

# What a policy must let pass although it looks close to a violation.
EDGES: list[tuple[str, list[Resource]]] = [
    ("explicit-namespace", [Resource("kubernetes:core/v1:Namespace", {"metadata": {"name": "n"}}),
                            Resource("kubernetes:storage.k8s.io/v1:StorageClass", {"metadata": {"name": "s"}}),
                            Resource("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", {"metadata": {"name": "r"}}),
                            Resource("kubernetes:helm.sh/v3:Release", {"metadata": {"name": "h"}}),
                            Resource("kubernetes:core/v1:ConfigMap", {"data": {}}),
                            Resource("pulumi:providers:kubernetes", {"metadata": {"name": "k"}})]),
    # a key named like a secret with an empty value holds nothing
    ("no-secrets-in-config-maps", [Resource("kubernetes:core/v1:ConfigMap", {
        "metadata": {"name": "c", "namespace": "n"}, "data": {"db_password": "", "api_token": "  "}})]),
    ("no-host-namespaces", [deployment(pod={"hostNetwork": False, "hostPID": False, "hostIPC": False})]),
    # a profile on the node (Localhost) is a seccomp profile as well as the runtime's default
    ("seccomp-runtime-default", [deployment({"securityContext": {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}}})]),
    ("kafka-topic-replicas", [cr("KafkaTopic", {"replicas": 3.0})]),   # the engine's numbers are floats
    # anti-affinity alone spreads replicas over nodes as well as a topology spread does
    ("spread-for-replicated-workloads", [deployment(replicas=3, pod={"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "app"}}}]}}})]),
    # a port named in the JobManager's own template is a port of the JobManager's pods
    ("services-select-a-workload", [
        Resource("kubernetes:core/v1:Service", {"metadata": {"name": "jm-metrics", "namespace": "ns"}, "spec": {
            "selector": {"app.kubernetes.io/name": "maint"}, "ports": [{"name": "m", "port": 9249, "targetPort": "metrics"}]}}),
        cr("FlinkDeployment", {"podTemplate": {"metadata": {"labels": {"app.kubernetes.io/name": "maint"}}},
                               "jobManager": {"podTemplate": {"spec": {"containers": [
                                   {"name": "flink-main-container", "ports": [{"name": "metrics", "containerPort": 9249}]}]}}}},
           "flink.apache.org/v1beta1")]),
    # a CronJob keeps its pod template one level down (jobTemplate.spec.template): its labels are still selectable
    ("services-select-a-workload", [service_to({"app.kubernetes.io/name": "report"}, "http"), Resource(
        "kubernetes:batch/v1:CronJob", {"metadata": {"name": "report", "namespace": "openfoundry-compute"}, "spec": {
            "schedule": "@daily", "jobTemplate": {"spec": {"template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "report"}},
                "spec": {"containers": [{"name": "r", "ports": [{"name": "http", "containerPort": 8080}]}]}}}}}})]),
    ("bus-credentials-follow-the-contract", [cr("KafkaUser", {}, name="writer"), cr("FlinkDeployment", {
        "podTemplate": {"metadata": {"labels": {"app.kubernetes.io/name": "writer", "openfoundry.io/buses": "data"}}}},
        "flink.apache.org/v1beta1")]),
    # a Job (the PLAINTEXT listener's ACL steward) is judged by its pod template's labels too
    ("bus-credentials-follow-the-contract", [cr("KafkaUser", {}, name="steward"), Resource(
        "kubernetes:batch/v1:Job", {"metadata": {"name": "steward-1", "namespace": "ns"}, "spec": {"template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "steward", "openfoundry.io/buses": "data"}},
            "spec": {"containers": [{"name": "c"}]}}}})]),
    # the one listener a Kafka resource names as an exception, open only to the pods its peers select
    ("kafka-listeners-authenticated", [cr("Kafka", {"kafka": {**GOOD_KAFKA["kafka"], "listeners": [
        *GOOD_KAFKA["kafka"]["listeners"], {"name": "plain", "networkPolicyPeers": [PLAIN_PEER]}]}},
        metadata={"name": "x", "namespace": "ns", "annotations": {UNAUTHENTICATED: "plain"}})]),
]
