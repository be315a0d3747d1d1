"""The ingestion plane's data bus (ADR-0011): Strimzi Kafka in KRaft, rack-aware and durable.

One Kafka cluster (`openfoundry`) with KafkaNodePools, a KafkaTopic per entry of the topic registry
(data/topics.yaml), and a SCRAM-SHA-512 KafkaUser per catalog service on the data bus whose prefix ACLs are
exactly what the registry grants it. Each service's password is generated here as a Pulumi secret and
handed to the operator (a Secret beside the KafkaUser) and to the service (a Secret in its own namespace:
a Secret cannot be read across namespaces). OpenFoundry's binaries whose Kafka client speaks only PLAINTEXT reach
their own listener instead, as Kafka's ANONYMOUS (components/ingestion/anonymous.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.cluster.namespaces import api_server_egress
from components.cluster.trust import ca_issuer
from components.common.credentials import GeneratedPassword
from components.common.kube import custom_resource, pod_monitor, spread_spec
from components.common.site import Site
from components.ingestion.anonymous import (
    IGNORED_USERS,
    LISTENER,
    STEWARD,
    UNAUTHENTICATED_LISTENERS,
    AnonymousAccess,
    AnonymousAccessArgs,
    plain_listener,
)
from components.ingestion.clients import (
    CLUSTER,
    LISTENER_CERTIFICATE,
    PLANE,
    TLS_PORT,
    KafkaClient,
    acl_rule,
    bootstrap_servers,
)
from components.ingestion.relay import OutboxRelay, OutboxRelayArgs, relay_peer
from components.relational.database import Database
from foundry.catalog import Catalog
from foundry.config import Images, Kafka
from foundry.config import OutboxRelay as RelaySettings
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.outboxes import Outbox
from foundry.topics import Topic, TopicRegistry, grants_for, replicas_of
from foundry.versions import KAFKA_METADATA_VERSION, KAFKA_VERSION

STRIMZI_API = "kafka.strimzi.io/v1"
METRICS_CONFIG = f"{CLUSTER}-kafka-metrics"
RACK_AWARE_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
# implied: the topic and user operators are small JVMs (Strimzi sizes their heap from the memory limit); the
# exporter only reads offsets
OPERATOR_RESOURCES = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
EXPORTER_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}


@dataclass(frozen=True)
class IngestionPlaneArgs:
    kafka: Kafka
    site: Site
    block_storage_class: str
    catalog: Catalog
    registry: TopicRegistry
    provider: k8s.Provider
    strimzi_ready: Sequence[pulumi.Resource] = ()
    trust_ready: Sequence[pulumi.Resource] = ()     # the platform's CA issuer (the listener's certificate)
    namespaces_ready: Sequence[pulumi.Resource] = ()
    clients: Sequence[KafkaClient] = ()             # the SCRAM clients: catalog services and platform components
    plaintext_clients: Sequence[KafkaClient] = ()   # services whose binary's Kafka client speaks only PLAINTEXT
    relay: RelaySettings | None = None              # the outbox relay: its settings, images, outboxes and databases
    images: Images | None = None
    outboxes: Sequence[Outbox] = ()
    outbox_databases: dict[str, Database] = field(default_factory=dict)
    wal_cap_bytes: int = 0


class IngestionPlane(pulumi.ComponentResource):
    """The Kafka cluster, its node pools, topics, users, credentials and client defaults."""

    kafka: pulumi.CustomResource
    topics: dict[str, pulumi.CustomResource]
    users: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: IngestionPlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:ingestion:IngestionPlane", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        self._clients = list(args.clients)
        topics = args.registry.resolved()
        metrics = self._metrics_config()
        pools = [self._node_pool(pool, roles, replicas) for pool, roles, replicas in self._pool_layout()]
        listener = self._listener_certificate()
        self.kafka = self._custom("Kafka", CLUSTER, self._kafka_spec(), depends_on=[metrics, *pools, listener],
                                  stateful=True, annotations=self._exceptions())
        self.topics = {t.name: self._topic(t) for t in topics if not t.family}
        self.users = {c.service: self._user(c, topics) for c in self._clients}
        if args.plaintext_clients:
            AnonymousAccess("anonymous", AnonymousAccessArgs(
                clients=args.plaintext_clients, topics=topics, namespace=self._namespace, provider=args.provider,
                depends_on=[*args.strimzi_ready, *args.namespaces_ready, self.kafka]),
                opts=pulumi.ResourceOptions(parent=self))
        if args.outboxes and args.relay is not None and args.images is not None:
            OutboxRelay("outbox-relay", OutboxRelayArgs(
                relay=args.relay, kafka=args.kafka, images=args.images, site=args.site, outboxes=args.outboxes,
                databases=args.outbox_databases, provider=args.provider, wal_cap_bytes=args.wal_cap_bytes,
                depends_on=[*args.strimzi_ready, *args.namespaces_ready, self.kafka]),
                opts=pulumi.ResourceOptions(parent=self))
        self._pod_monitor()
        self._broker_egress()
        self.register_outputs({
            "bootstrap": bootstrap_servers(),
            "topics": sorted(self.topics),
            "principals": sorted(self.users),
        })

    # --- the cluster ------------------------------------------------------------------------------------

    def _pool_layout(self) -> list[tuple[str, list[str], int]]:
        kafka = self._args.kafka
        if not self._args.site.prod and kafka.controllers == 1 and kafka.brokers == 1:
            return [("dual-role", ["controller", "broker"], 1)]
        return [("controllers", ["controller"], kafka.controllers), ("brokers", ["broker"], kafka.brokers)]

    def _node_pool(self, pool: str, roles: list[str], replicas: int) -> pulumi.CustomResource:
        site = self._args.site
        pool_pods = {"strimzi.io/cluster": CLUSTER, "strimzi.io/pool-name": pool}
        spread = [spread_spec(site.zone_label, pool_pods, site.prod),
                  spread_spec("kubernetes.io/hostname", pool_pods, site.prod)]
        volume = {"id": 0, "type": "persistent-claim", "size": self._args.kafka.storage_size,
                  "class": self._args.block_storage_class, "deleteClaim": False, "kraftMetadata": "shared"}
        kafka = self._args.kafka
        resources = kafka.broker_resources if "broker" in roles else kafka.controller_resources
        spec = {"replicas": replicas, "roles": roles, "storage": {"type": "jbod", "volumes": [volume]},
                "resources": resources.as_requirements(),
                "template": {"pod": {"topologySpreadConstraints": spread}}}
        return self._custom("KafkaNodePool", pool, spec, labels={"strimzi.io/cluster": CLUSTER}, stateful=True)

    def _kafka_spec(self) -> dict[str, Any]:
        kafka = self._args.kafka
        rf, isr = kafka.replication_factor, kafka.min_insync_replicas
        return {
            "kafka": {
                "version": KAFKA_VERSION,
                "metadataVersion": KAFKA_METADATA_VERSION,
                "rack": {"type": "topology-label", "topologyKey": self._args.site.zone_label},
                "listeners": [{
                    "name": "tls", "port": TLS_PORT, "type": "internal", "tls": True,
                    "authentication": {"type": "scram-sha-512"},
                    "networkPolicyPeers": [*(self._client_peer(c) for c in self._tls_clients()),
                                           *([relay_peer()] if self._args.outboxes else [])],
                    # a certificate from the platform's CA, which every client namespace trusts; Strimzi's own cluster
                    # CA (brokers among themselves) exists only in this namespace
                    "configuration": {"brokerCertChainAndKey": {
                        "secretName": LISTENER_CERTIFICATE, "certificate": "tls.crt", "key": "tls.key"}},
                }, *([plain_listener(self._args.plaintext_clients)] if self._args.plaintext_clients else [])],
                # no superUsers: only the operator's own identities may bypass the ACLs
                "authorization": {"type": "simple"},
                "config": {
                    "auto.create.topics.enable": False,
                    "default.replication.factor": rf,
                    "min.insync.replicas": isr,
                    "offsets.topic.replication.factor": rf,
                    "transaction.state.log.replication.factor": rf,
                    "transaction.state.log.min.isr": isr,
                    "share.coordinator.state.topic.replication.factor": rf,
                    "share.coordinator.state.topic.min.isr": isr,
                    "unclean.leader.election.enable": False,
                    "replica.selector.class": RACK_AWARE_SELECTOR,
                },
                "metricsConfig": {"type": "jmxPrometheusExporter", "valueFrom": {
                    "configMapKeyRef": {"name": METRICS_CONFIG, "key": "kafka-metrics-config.yml"}}},
            },
            "entityOperator": {"topicOperator": {"resources": OPERATOR_RESOURCES},
                               "userOperator": {"resources": OPERATOR_RESOURCES}, **self._user_operator_template()},
            "kafkaExporter": {"topicRegex": ".*", "groupRegex": ".*", "resources": EXPORTER_RESOURCES},
        }

    def _exceptions(self) -> dict[str, str] | None:
        """The listener that accepts unauthenticated clients, written where the policy pack reads it."""
        return {UNAUTHENTICATED_LISTENERS: LISTENER} if self._args.plaintext_clients else None

    def _user_operator_template(self) -> dict[str, Any]:
        """With a PLAINTEXT listener, the User Operator leaves ANONYMOUS's ACLs to their own Job."""
        if not self._args.plaintext_clients:
            return {}
        return {"template": {"userOperatorContainer": {"env": [
            {"name": "STRIMZI_IGNORED_USERS_PATTERN", "value": IGNORED_USERS}]}}}

    def _tls_clients(self) -> list[KafkaClient]:
        """Who opens the TLS listener: the SCRAM clients, and the steward's Job that keeps ANONYMOUS's ACLs."""
        steward = [KafkaClient(STEWARD, self._namespace)] if self._args.plaintext_clients else []
        return [*self._clients, *steward]

    @staticmethod
    def _client_peer(client: KafkaClient) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": client.namespace}},
                "podSelector": {"matchLabels": selector_labels(client.service)}}

    def _listener_certificate(self) -> pulumi.Resource:
        """The TLS listener's certificate: the bootstrap Service and every broker's name (Strimzi's documented SANs
        for an internal listener), an unencrypted PKCS#8 key as Strimzi requires; renewed by cert-manager, picked
        up by Strimzi at its next reconciliation (a rolling update)."""
        namespace, brokers = self._namespace, f"{CLUSTER}-kafka-brokers"
        bootstrap = f"{CLUSTER}-kafka-bootstrap"
        return custom_resource("cert-manager.io/v1", "Certificate", LISTENER_CERTIFICATE, namespace, common_labels(PLANE), {
            "secretName": LISTENER_CERTIFICATE, "issuerRef": ca_issuer(),
            "dnsNames": [bootstrap, f"{bootstrap}.{namespace}.svc", f"*.{brokers}", f"*.{brokers}.{namespace}.svc"],
            "privateKey": {"algorithm": "RSA", "size": 3072, "encoding": "PKCS8", "rotationPolicy": "Always"},
            "usages": ["server auth", "digital signature", "key encipherment"],
        }, self._child(depends_on=list(self._args.trust_ready)))

    # --- registry-driven resources -------------------------------------------------------------------------

    def _topic(self, topic: Topic) -> pulumi.CustomResource:
        kafka = self._args.kafka
        config: dict[str, Any] = {"cleanup.policy": topic.cleanup_policy,
                                  "min.insync.replicas": kafka.min_insync_replicas}
        if "delete" in str(topic.cleanup_policy):
            config["retention.ms"] = topic.retention_ms
        spec = {"partitions": topic.partitions, "replicas": replicas_of(topic, kafka), "config": config,
                **({"topicName": topic.name} if topic.resource_name != topic.name else {})}
        labels = {"strimzi.io/cluster": CLUSTER, "openfoundry.io/topic-owner": topic.owner}
        return self._custom("KafkaTopic", topic.resource_name, spec, labels=labels, depends_on=[self.kafka],
                            stateful=True)

    def _user(self, client: KafkaClient, topics: list[Topic]) -> pulumi.CustomResource:
        password = GeneratedPassword(f"kafka-{client.service}", opts=pulumi.ResourceOptions(parent=self))
        password_secret = self._secret(client.password_secret, self._namespace, {"password": password.value})
        jaas = password.value.apply(lambda value: (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{client.user}" password="{value}";'))
        self._secret(client.secret, client.namespace, {
            "username": pulumi.Output.from_input(client.user), "password": password.value, "sasl.jaas.config": jaas})
        spec = {
            "authentication": {"type": "scram-sha-512", "password": {"valueFrom": {
                "secretKeyRef": {"name": client.password_secret, "key": "password"}}}},
            "authorization": {"type": "simple", "acls": [
                acl_rule(g) for g in grants_for(client.service, topics, client.groups, client.reads)]},
        }
        return self._custom("KafkaUser", client.user, spec, labels={"strimzi.io/cluster": CLUSTER},
                            depends_on=[self.kafka, password_secret])

    def _secret(self, name: str, namespace: str, values: dict[str, pulumi.Output[str]]) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{namespace}-{name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=common_labels(PLANE)),
            type="Opaque",
            string_data=values,
            opts=self._child(),
        )

    # --- monitoring and network ----------------------------------------------------------------------------

    def _metrics_config(self) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            METRICS_CONFIG,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_CONFIG, namespace=self._namespace,
                                                labels=common_labels(PLANE)),
            data={"kafka-metrics-config.yml": yaml.safe_dump(JMX_EXPORTER_RULES, sort_keys=False)},
            opts=self._child(),
        )

    def _pod_monitor(self) -> None:
        # Strimzi's own NetworkPolicies admit every scraper to tcp-prometheus (9404)
        pod_monitor(CLUSTER, self._namespace, common_labels(PLANE), {"strimzi.io/cluster": CLUSTER}, self._args.site,
                    self._child(), port="tcp-prometheus", path="/metrics", resource_name=f"{CLUSTER}-kafka-podmonitor")

    def _broker_egress(self) -> None:
        """The namespace denies all egress; Kafka pods talk to each other, and the rack init container asks
        the API server for its node's zone label."""
        cluster_pods = {"strimzi.io/cluster": CLUSTER}
        k8s.networking.v1.NetworkPolicy(
            f"{CLUSTER}-kafka-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{CLUSTER}-kafka-egress", namespace=self._namespace,
                                                labels=common_labels(PLANE)),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=cluster_pods),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=cluster_pods))]),
                    api_server_egress(),
                ],
            ),
            opts=self._child(),
        )

    # --- plumbing ---------------------------------------------------------------------------------------

    def _child(self, depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False) -> pulumi.ResourceOptions:
        keep = self._args.site.keeps(stateful)
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.namespaces_ready, *depends_on],
                                      protect=keep, retain_on_delete=keep)

    def _custom(self, kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None,
                depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False,
                api_version: str = STRIMZI_API, needs_strimzi: bool = True,
                annotations: dict[str, str] | None = None) -> pulumi.CustomResource:
        ready = list(self._args.strimzi_ready) if needs_strimzi else []
        return custom_resource(api_version, kind, name, self._namespace, {**common_labels(PLANE), **(labels or {})}, spec,
                               self._child(depends_on=[*ready, *depends_on], stateful=stateful), annotations=annotations)


# Prometheus JMX exporter rules for the brokers and controllers: request rates and latencies (the producer-ack
# SLO of ADR-0012 reads Produce TotalTimeMs and the error rates), replication health, and log sizes.
JMX_EXPORTER_RULES: dict[str, Any] = {
    "lowercaseOutputName": True,
    "lowercaseOutputLabelNames": True,
    "rules": [
        {"pattern": r"kafka.network<type=RequestMetrics, name=TotalTimeMs, request=(.+)><>(\d+)thPercentile",
         "name": "kafka_network_requestmetrics_totaltimems", "type": "GAUGE",
         "labels": {"request": "$1", "quantile": "0.$2"}},
        {"pattern": r"kafka.network<type=RequestMetrics, name=(Requests|Errors)PerSec, request=([^,>]+)"
                    r"(?:, error=([^,>]+))?(?:, version=[^,>]+)?><>Count",
         "name": "kafka_network_requestmetrics_$1_total", "type": "COUNTER",
         "labels": {"request": "$2", "error": "$3"}},
        {"pattern": r"kafka.server<type=ReplicaManager, name=(UnderReplicatedPartitions|UnderMinIsrPartitionCount|"
                    r"OfflineReplicaCount|PartitionCount|LeaderCount)><>Value",
         "name": "kafka_server_replicamanager_$1", "type": "GAUGE"},
        {"pattern": r"kafka.server<type=BrokerTopicMetrics, name=(.+)PerSec(?:, topic=(.+))?><>Count",
         "name": "kafka_server_brokertopicmetrics_$1_total", "type": "COUNTER", "labels": {"topic": "$2"}},
        {"pattern": r"kafka.controller<type=(KafkaController|ControllerStats), name=(.+)><>(Value|Count)",
         "name": "kafka_controller_$1_$2", "type": "GAUGE"},
        {"pattern": r"kafka.log<type=Log, name=Size, topic=(.+), partition=(.+)><>Value",
         "name": "kafka_log_log_size", "type": "GAUGE", "labels": {"topic": "$1", "partition": "$2"}},
    ],
}
