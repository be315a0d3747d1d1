"""The outbox relay (OpenFoundry ADR-0022): Debezium's PostgreSQL connector in a Kafka Connect cluster run by
Strimzi, one KafkaConnector per database that holds a transactional outbox (data/outboxes.yaml).

Each connector streams its database's `outbox.events` through the publication the relational plane declares
(components/relational/outbox.py) and Debezium's outbox EventRouter: the row's `topic` column names the topic,
`aggregate_id` is the key, `payload` the value, and `event_id` travels as the `id` header (consumers dedupe on it,
ADR-0022). A row whose topic the outbox may not write (data/outboxes.yaml `topics`) is parked in the outbox's
dead-letter topic with its intended topic in the `outbox-topic` header, so the relay neither writes outside its
grants nor stops on such a row. Values and keys pass as the JSON and text the services wrote (StringConverter).

The workers' principal (SCRAM over the TLS listener, like every client) may write exactly the relayed topics and the
dead-letter topics, and use its own group and internal topics, which are declared here, compacted and replicated
like every topic (Connect does not create them: it may not)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.namespaces import api_server_egress
from components.common.credentials import GeneratedPassword
from components.common.kube import custom_resource, peer, pod_monitor, spread_spec
from components.common.site import Site
from components.ingestion.clients import (
    CLUSTER,
    LISTENER_CERTIFICATE,
    PLANE,
    TLS_PORT,
    KafkaClient,
    acl_rule,
    bootstrap_servers,
    broker_peer,
)
from components.ingestion.relay_alerts import relay_alert_rules
from components.relational.database import POSTGRES_PORT, Database
from components.relational.outbox import PUBLICATION, RELAY_ROLE, SLOT, relay_password_secret
from foundry.config import Images, Kafka
from foundry.config import OutboxRelay as RelaySettings
from foundry.labels import common_labels, namespace_for
from foundry.outboxes import RELAY, RELAY_PODS, SCHEMA, TABLE, Outbox, topic_pattern
from foundry.topics import WRITE_OPERATIONS, Grant
from foundry.versions import KAFKA_VERSION, OUTBOX_RELAY_IMAGE_TAG

STRIMZI_API = "kafka.strimzi.io/v1"
CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
EVENT_ROUTER = "io.debezium.transforms.outbox.EventRouter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
ENV_PROVIDER = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"   # Kafka's own (KIP-887)
INTERNAL_TOPICS = {"config": (f"{RELAY}.configs", 1), "offset": (f"{RELAY}.offsets", 25),
                   "status": (f"{RELAY}.status", 5)}   # Connect's defaults for the partitions
INTERNAL_OPERATIONS = ("Describe", "DescribeConfigs", "Read", "Write")
DEAD_LETTER_RETENTION_MS = 14 * 24 * 3600 * 1000        # as OpenFoundry's other dead-letter topics
TOPIC_HEADER = "outbox-topic"
REST_PORT = 8083                            # Strimzi's rest-api port (KafkaConnectCluster.java:115-118)
HEARTBEAT_PREFIX = "__debezium-heartbeat"   # Debezium's default, stated
HEARTBEAT_INTERVAL_MS = 60_000
HEARTBEAT_RETENTION_MS = 24 * 3600 * 1000   # a heartbeat matters only until the next one
METRICS_CONFIG = f"{RELAY}-metrics"
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                      "seccompProfile": {"type": "RuntimeDefault"}}


def relay_image(images: Images) -> str:
    """Strimzi's Kafka image with Debezium's connector (images/outbox-relay/Dockerfile), in the stack's registry."""
    return f"{images.registry}/{RELAY}:{OUTBOX_RELAY_IMAGE_TAG}"


def relay_client() -> KafkaClient:
    """The relay as a client of the brokers: its principal and credentials."""
    return KafkaClient(RELAY, namespace_for(PLANE))


def relay_peer() -> dict[str, Any]:
    """The workers as the brokers' listener admits them (by the labels Strimzi gives them)."""
    return {"podSelector": {"matchLabels": dict(RELAY_PODS)}}


def password_variable(db: Database) -> str:
    return f"OUTBOX_{db.owner.upper().replace('-', '_')}_PASSWORD"


def relay_grants(outboxes: Sequence[Outbox]) -> list[Grant]:
    """Write the relayed topics, the dead letters and the heartbeats; read and write its own internal topics; its
    group."""
    writes = sorted({t for o in outboxes for t in o.topic_names} | {o.dead_letters for o in outboxes}
                    | {heartbeat_topic(o) for o in outboxes})
    internal = [Grant("topic", name, INTERNAL_OPERATIONS) for name, _ in INTERNAL_TOPICS.values()]
    return [*(Grant("topic", name, WRITE_OPERATIONS) for name in writes), *internal,
            Grant("group", RELAY, ("Read",))]


def topic_prefix(outbox: Outbox) -> str:
    return f"outbox.{outbox.name}"


def heartbeat_topic(outbox: Outbox) -> str:
    """Where the connector's heartbeats go (Debezium's `__debezium-heartbeat.<topic.prefix>`): each one lets the slot's
    position follow the server's while the outbox is idle."""
    return f"{HEARTBEAT_PREFIX}.{topic_prefix(outbox)}"


def connector_config(outbox: Outbox, db: Database) -> dict[str, str]:
    """The Debezium connector of one outbox (keys read against Debezium 3.6.1.Final, docs/ingestion.md). The row's
    `created_at` is not the record's timestamp: Debezium hands a timestamptz over as text, and the EventRouter takes
    only an INT64 there (the engine tier met `Field 'created_at' is not of type INT64`)."""
    listed = topic_pattern([*outbox.topic_names, heartbeat_topic(outbox)])
    return {
        "database.hostname": f"{db.cluster}-rw.{db.namespace}.svc",
        "database.port": "5432",
        "database.dbname": db.name,
        "database.user": RELAY_ROLE,
        "database.password": f"${{env:{password_variable(db)}}}",
        "database.sslmode": "require",
        "topic.prefix": topic_prefix(outbox),
        "topic.heartbeat.prefix": HEARTBEAT_PREFIX,
        "heartbeat.interval.ms": str(HEARTBEAT_INTERVAL_MS),
        "plugin.name": "pgoutput",
        "slot.name": SLOT,
        "publication.name": PUBLICATION,
        "publication.autocreate.mode": "disabled",
        "table.include.list": f"{SCHEMA}.{TABLE}",
        "snapshot.mode": "no_data",
        # the slot's confirmed position follows the server's keepalives too, on each heartbeat, so WAL of other tables
        # is released while the outbox is idle (with `connector` alone it moves only on outbox rows: Debezium 3.6.1
        # PostgresConnectorConfig.java:1264-1284, PostgresStreamingChangeEventSource.java:499-530)
        "lsn.flush.mode": "connector_and_driver",
        # CNPG's wal_sender_timeout is 5s (pkg/postgres/configuration.go:581); report progress well within it
        "status.update.interval.ms": "2000",
        # created as a failover slot (Postgres 17+), which CNPG keeps on the standbys (synchronizeLogicalDecoding)
        "slot.failover": "true",
        "tombstones.on.delete": "false",
        "transforms": "outbox,unlisted",
        "transforms.outbox.type": EVENT_ROUTER,
        "transforms.outbox.table.field.event.id": "event_id",
        "transforms.outbox.table.field.event.key": "aggregate_id",
        "transforms.outbox.table.field.event.payload": "payload",
        "transforms.outbox.route.by.field": "topic",
        "transforms.outbox.route.topic.replacement": "${routedByValue}",
        # the router itself puts event_id in the `id` header (EventRouterDelegate.java:160)
        "transforms.outbox.table.fields.additional.placement": f"topic:header:{TOPIC_HEADER},headers:header",
        "transforms.unlisted.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.unlisted.regex": ".*",
        "transforms.unlisted.replacement": outbox.dead_letters,
        "transforms.unlisted.predicate": "listed",
        "transforms.unlisted.negate": "true",
        "predicates": "listed",
        "predicates.listed.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.listed.pattern": listed,
        "key.converter": STRING_CONVERTER,
        "value.converter": STRING_CONVERTER,
    }


@dataclass(frozen=True)
class OutboxRelayArgs:
    relay: RelaySettings
    kafka: Kafka
    images: Images
    site: Site
    outboxes: Sequence[Outbox]
    databases: dict[str, Database]      # by owner: each outbox's database
    provider: k8s.Provider
    wal_cap_bytes: int                  # each outbox database's max_slot_wal_keep_size (its slot-lag alert)
    depends_on: Sequence[pulumi.Resource] = ()   # the Kafka cluster, Strimzi, the namespaces


class OutboxRelay(pulumi.ComponentResource):
    """The Connect cluster, its principal, topics and connectors."""

    def __init__(self, name: str, args: OutboxRelayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:ingestion:OutboxRelay", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        topics = [self._topic(name, partitions, "compact", None) for name, partitions in INTERNAL_TOPICS.values()]
        topics += [self._topic(o.dead_letters, 1, "delete", DEAD_LETTER_RETENTION_MS) for o in args.outboxes]
        topics += [self._topic(heartbeat_topic(o), 1, "delete", HEARTBEAT_RETENTION_MS) for o in args.outboxes]
        user = self._user()
        metrics = self._metrics_config()
        connect = self._custom("KafkaConnect", RELAY, self._connect_spec(), depends_on=[*topics, user, metrics],
                               annotations={"strimzi.io/use-connector-resources": "true"})
        for outbox in args.outboxes:
            self._custom("KafkaConnector", f"outbox-{outbox.name}", self._connector_spec(outbox),
                         labels={"strimzi.io/cluster": RELAY}, depends_on=[connect])
        pod_monitor(RELAY, self._namespace, common_labels(PLANE), RELAY_PODS, args.site, self._child(depends_on=[connect]),
                    port="tcp-prometheus", path="/metrics")
        self._egress()
        if args.site.prod:   # ADR-0012: development stacks page nobody
            custom_resource("monitoring.coreos.com/v1", "PrometheusRule", RELAY, self._namespace,
                            {**common_labels(PLANE), **args.site.scrape_labels},
                            {"groups": [{"name": RELAY, "rules": relay_alert_rules(args.wal_cap_bytes)}]},
                            self._child(depends_on=[connect]))
        self.register_outputs({"connect": RELAY, "connectors": sorted(f"outbox-{o.name}" for o in args.outboxes)})

    def _connect_spec(self) -> dict[str, Any]:
        args, site = self._args, self._args.site
        rf = args.kafka.replication_factor
        config, offsets, status = (INTERNAL_TOPICS[k][0] for k in ("config", "offset", "status"))
        env = [{"name": password_variable(args.databases[o.name]), "valueFrom": {"secretKeyRef": {
            "name": relay_password_secret(args.databases[o.name]), "key": "password"}}} for o in args.outboxes]
        return {
            "version": KAFKA_VERSION,
            "replicas": args.relay.replicas,
            "image": relay_image(args.images),
            "bootstrapServers": bootstrap_servers(),
            "tls": {"trustedCertificates": [{"secretName": LISTENER_CERTIFICATE, "certificate": "ca.crt"}]},
            "authentication": {"type": "scram-sha-512", "username": RELAY,
                               "passwordSecret": {"secretName": relay_client().password_secret, "password": "password"}},
            "groupId": RELAY,
            "configStorageTopic": config,
            "offsetStorageTopic": offsets,
            "statusStorageTopic": status,
            "config": {
                "config.storage.replication.factor": rf,
                "offset.storage.replication.factor": rf,
                "status.storage.replication.factor": rf,
                "key.converter": STRING_CONVERTER,
                "value.converter": STRING_CONVERTER,
                "config.providers": "env",
                "config.providers.env.class": ENV_PROVIDER,
            },
            "resources": args.relay.resources.as_requirements(),
            "metricsConfig": {"type": "jmxPrometheusExporter", "valueFrom": {
                "configMapKeyRef": {"name": METRICS_CONFIG, "key": "metrics-config.yml"}}},
            "template": {
                "pod": {
                    "metadata": {"labels": common_labels(PLANE)},
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "topologySpreadConstraints": [spread_spec(site.zone_label, RELAY_PODS, site.prod)],
                },
                # a template's securityContext replaces Strimzi's whole (its restricted provider's four settings are
                # these: Strimzi 1.2.0 RestrictedPodSecurityProvider.java:24-41); the image runs as 1001
                "connectContainer": {"securityContext": CONTAINER_SECURITY, "env": env},
            },
        }

    def _connector_spec(self, outbox: Outbox) -> dict[str, Any]:
        db = self._args.databases[outbox.name]
        # one task: a replication slot has one reader; restarts on failure with Strimzi's back-off
        return {"class": CONNECTOR_CLASS, "tasksMax": 1, "autoRestart": {"enabled": True},
                "config": connector_config(outbox, db)}

    def _topic(self, name: str, partitions: int, cleanup: str, retention_ms: int | None) -> pulumi.CustomResource:
        kafka = self._args.kafka
        config: dict[str, Any] = {"cleanup.policy": cleanup, "min.insync.replicas": kafka.min_insync_replicas}
        if retention_ms is not None:
            config["retention.ms"] = retention_ms
        resource = name.lstrip("_")   # as the registry's KafkaTopics: a Kubernetes name cannot start with `_`
        spec = {"partitions": partitions, "replicas": kafka.replication_factor, "config": config,
                **({"topicName": name} if resource != name else {})}
        return self._custom("KafkaTopic", resource, spec, labels={"strimzi.io/cluster": CLUSTER,
                                                                  "openfoundry.io/topic-owner": RELAY}, stateful=True)

    def _user(self) -> pulumi.CustomResource:
        client = relay_client()
        password = GeneratedPassword(f"kafka-{RELAY}", opts=pulumi.ResourceOptions(parent=self))
        secret = k8s.core.v1.Secret(
            f"{self._namespace}-{client.password_secret}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=client.password_secret, namespace=self._namespace,
                                                labels=common_labels(PLANE)),
            type="Opaque", string_data={"password": password.value}, opts=self._child())
        acls = [acl_rule(g) for g in relay_grants(self._args.outboxes)]
        spec = {"authentication": {"type": "scram-sha-512", "password": {"valueFrom": {
                    "secretKeyRef": {"name": client.password_secret, "key": "password"}}}},
                "authorization": {"type": "simple", "acls": acls}}
        return self._custom("KafkaUser", client.user, spec, labels={"strimzi.io/cluster": CLUSTER}, depends_on=[secret])

    def _egress(self) -> None:
        """The namespace denies all egress: the workers reach the brokers' TLS listener, each other's REST API, each
        outbox's instances and the API server."""
        databases = [self._args.databases[o.name] for o in self._args.outboxes]
        k8s.networking.v1.NetworkPolicy(
            f"{RELAY}-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{RELAY}-egress", namespace=self._namespace,
                                                labels=common_labels(PLANE)),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=RELAY_PODS),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[broker_peer()], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=TLS_PORT, protocol="TCP")]),
                    # a worker hands its connectors' task configurations to the group's leader over REST, and forwards
                    # the operator's calls to it (Kafka 4.3 DistributedHerder, HerderRequestHandler); Strimzi's own
                    # policy admits this on ingress (KafkaConnectCluster.java:705-706)
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[peer(pods=RELAY_PODS)],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REST_PORT, protocol="TCP")]),
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[peer(db.namespace, {"cnpg.io/cluster": db.cluster}) for db in databases],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=POSTGRES_PORT, protocol="TCP")]),
                    # Strimzi's `strimzisecrets` config provider reads the workers' own credentials from the API
                    # (Strimzi 1.2.0 AuthenticationUtils.java:112-162; its Role grants `get` on those Secrets only)
                    api_server_egress(),
                ],
            ),
            opts=self._child(),
        )

    def _metrics_config(self) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            METRICS_CONFIG,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_CONFIG, namespace=self._namespace, labels=common_labels(PLANE)),
            data={"metrics-config.yml": CONNECT_METRICS_RULES}, opts=self._child())

    # --- plumbing ---------------------------------------------------------------------------------------

    def _child(self, depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False) -> pulumi.ResourceOptions:
        keep = self._args.site.keeps(stateful)
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on], protect=keep, retain_on_delete=keep)

    def _custom(self, kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None,
                depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False,
                annotations: dict[str, str] | None = None) -> pulumi.CustomResource:
        return custom_resource(STRIMZI_API, kind, name, self._namespace, {**common_labels(PLANE), **(labels or {})}, spec,
                               self._child(depends_on, stateful), annotations=annotations)


# Kafka Connect's and Debezium's JMX metrics for Prometheus: the connectors' and tasks' state and the source tasks'
# record counts (Strimzi's example metrics file for Connect, trimmed to what the alerts and dashboards read).
CONNECT_METRICS_RULES = """\
lowercaseOutputName: true
lowercaseOutputLabelNames: true
rules:
  - pattern: 'kafka.connect<type=connector-task-metrics, connector=(.+), task=(.+)><>status: ([a-z-]+)'
    name: kafka_connect_connector_task_status
    value: 1
    labels: {connector: "$1", task: "$2", status: "$3"}
    type: GAUGE
  - pattern: 'kafka.connect<type=connector-metrics, connector=(.+)><>status: ([a-z-]+)'
    name: kafka_connect_connector_status
    value: 1
    labels: {connector: "$1", status: "$2"}
    type: GAUGE
  - pattern: 'kafka.connect<type=source-task-metrics, connector=(.+), task=(.+)><>(source-record-(?:poll|write)-total)'
    name: kafka_connect_source_task_metrics_$3
    labels: {connector: "$1", task: "$2"}
    type: COUNTER
  - pattern: 'kafka.connect<type=task-error-metrics, connector=(.+), task=(.+)><>(total-record-failures|total-record-errors)'
    name: kafka_connect_task_error_metrics_$3
    labels: {connector: "$1", task: "$2"}
    type: COUNTER
  - pattern: 'debezium.postgres<type=connector-metrics, context=streaming, server=(.+)><>(MilliSecondsBehindSource|Connected)'
    name: debezium_postgres_streaming_$2
    labels: {server: "$1"}
    type: GAUGE
"""
