"""How a catalog service (or a platform component, such as an Iceberg writer) reaches the data bus: its principal,
its credentials' Secrets, the bootstrap address, the NetworkPolicy peer of the brokers and the platform's client
defaults."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.cluster.trust import CA_FILE
from components.common.kube import peer, secret_env
from foundry.catalog import Catalog
from foundry.labels import namespace_for
from foundry.topics import consumer_group_prefix

PLANE = "ingestion"
CLUSTER = "openfoundry"
TLS_PORT = 9093
LISTENER_CERTIFICATE = f"{CLUSTER}-kafka-listener-tls"   # signed by the platform's internal CA (cluster/trust.py)
CLIENT_DEFAULTS = "kafka-client-defaults"
CLIENT_DEFAULTS_PATH = "/etc/openfoundry/kafka"
# The seed's OpenLineage propagation (libs/event-bus-data/src/headers.rs): every record carries these headers.
OPENLINEAGE_HEADERS = ("ol-namespace", "ol-job-name", "ol-run-id", "ol-event-time", "ol-producer", "ol-schema-url")


@dataclass(frozen=True)
class KafkaClient:
    """A catalog service on the data bus: its principal and where its credentials live."""

    service: str
    namespace: str
    groups: tuple[str, ...] = ()    # its consumer groups' names (foundry/catalog.py Service.consumer_groups)
    reads: tuple[str, ...] = ()     # a platform component's topics (a catalog service's come from the registry)

    @property
    def user(self) -> str:
        return self.service

    @property
    def secret(self) -> str:
        """In the service's namespace: what its pods read."""
        return f"kafka-client-{self.service}"

    @property
    def password_secret(self) -> str:
        """In the Kafka namespace: what the User Operator reads for the SCRAM credential."""
        return f"kafka-user-{self.service}"


def bootstrap_servers() -> str:
    return f"{CLUSTER}-kafka-bootstrap.{namespace_for(PLANE)}.svc:{TLS_PORT}"


def kafka_clients(catalog: Catalog) -> list[KafkaClient]:
    return [KafkaClient(s.name, namespace_for(s.plane), tuple(s.consumer_groups)) for s in catalog.services
            if s.uses_kafka]


def kafka_client_env(client: KafkaClient) -> list[k8s.core.v1.EnvVarArgs]:
    return [
        k8s.core.v1.EnvVarArgs(name="KAFKA_BOOTSTRAP_SERVERS", value=bootstrap_servers()),
        k8s.core.v1.EnvVarArgs(name="KAFKA_CLIENT_ID", value=client.service),
        k8s.core.v1.EnvVarArgs(name="KAFKA_SECURITY_PROTOCOL", value="SASL_SSL"),
        k8s.core.v1.EnvVarArgs(name="KAFKA_SASL_MECHANISM", value="SCRAM-SHA-512"),
        secret_env("KAFKA_SASL_USERNAME", client.secret, "username"),
        secret_env("KAFKA_SASL_PASSWORD", client.secret, "password"),
        secret_env("KAFKA_SASL_JAAS_CONFIG", client.secret, "sasl.jaas.config"),
        k8s.core.v1.EnvVarArgs(name="KAFKA_CONSUMER_GROUP_PREFIX", value=consumer_group_prefix(client.service)),
        k8s.core.v1.EnvVarArgs(name="KAFKA_CLIENT_DEFAULTS", value=CLIENT_DEFAULTS_PATH),
        # the CA that signs the listener's certificate, from the platform's trust bundle (librdkafka's ssl.ca.location)
        k8s.core.v1.EnvVarArgs(name="KAFKA_SSL_CA_LOCATION", value=CA_FILE),
    ]


def broker_peer() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return peer(namespace_for(PLANE), {"strimzi.io/cluster": CLUSTER, "strimzi.io/broker-role": "true"})


def client_defaults() -> dict[str, str]:
    """The platform's client settings (seed: at-least-once, acks=all + idempotence, explicit commits)."""
    # every client verifies the brokers against the platform's internal CA (mounted from the trust bundle)
    connection = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                  "ssl.truststore.type": "PEM", "ssl.truststore.location": CA_FILE,
                  "ssl.endpoint.identification.algorithm": "https"}
    producer = {**connection, "acks": "all", "enable.idempotence": "true", "max.in.flight.requests.per.connection": "5",
                "retries": "2147483647", "delivery.timeout.ms": "120000", "compression.type": "zstd"}
    consumer = {**connection, "enable.auto.commit": "false", "auto.offset.reset": "earliest", "isolation.level": "read_committed"}
    return {
        "producer.properties": _properties(producer),
        "consumer.properties": _properties(consumer),
        "openlineage-headers": "\n".join(OPENLINEAGE_HEADERS) + "\n",
    }


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())
