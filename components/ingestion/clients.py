"""How a catalog service (or a platform component, such as an Iceberg writer) reaches the data bus: its principal,
its credentials' Secrets, the bootstrap addresses of the two listeners, and the NetworkPolicy peer of the brokers.
Delivery semantics are OpenFoundry's own: its event-bus-data library writes with acks=all and idempotence and sets the
OpenLineage headers itself (of:libs/event-bus-data/publisher.go:30-44, headers.go:11-16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_kubernetes as k8s

from components.cluster.trust import CA_DIRECTORY
from components.common.kube import peer, secret_env
from foundry.catalog import Catalog
from foundry.labels import namespace_for
from foundry.topics import Grant

PLANE = "ingestion"
CLUSTER = "openfoundry"
TLS_PORT = 9093
PLAIN_PORT = 9092     # Strimzi's internal `plain` port; OpenFoundry's own charts use it for every client
LISTENER_CERTIFICATE = f"{CLUSTER}-kafka-listener-tls"   # signed by the platform's internal CA (cluster/trust.py)


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


def plain_bootstrap_servers() -> str:
    """The listener for clients that speak only PLAINTEXT (components/ingestion/anonymous.py)."""
    return f"{CLUSTER}-kafka-bootstrap.{namespace_for(PLANE)}.svc:{PLAIN_PORT}"


def kafka_clients(catalog: Catalog) -> list[KafkaClient]:
    return [KafkaClient(s.name, namespace_for(s.plane), tuple(s.consumer_groups)) for s in catalog.services
            if s.uses_kafka]


def scram_client_env(client: KafkaClient) -> list[k8s.core.v1.EnvVarArgs]:
    """What OpenFoundry's SCRAM-capable clients read (of:libs/event-bus-data/config.go): the bootstrap, the principal
    and its password. Their TLS trusts only the system roots (no CA file is read): SSL_CERT_DIR adds the mounted
    platform CA's directory to Go's system roots (crypto/x509 root_unix.go), so the listener's certificate verifies."""
    return [
        k8s.core.v1.EnvVarArgs(name="KAFKA_BOOTSTRAP_SERVERS", value=bootstrap_servers()),
        k8s.core.v1.EnvVarArgs(name="KAFKA_CLIENT_ID", value=client.service),
        secret_env("KAFKA_SASL_USERNAME", client.secret, "username"),
        secret_env("KAFKA_SASL_PASSWORD", client.secret, "password"),
        k8s.core.v1.EnvVarArgs(name="SSL_CERT_DIR", value=CA_DIRECTORY),
    ]


def plain_client_env(variable: str) -> list[k8s.core.v1.EnvVarArgs]:
    """What a PLAINTEXT-only client reads: the bootstrap of the listener it can speak to, under its own name."""
    return [k8s.core.v1.EnvVarArgs(name=variable, value=plain_bootstrap_servers())]


def broker_peer() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return peer(namespace_for(PLANE), {"strimzi.io/cluster": CLUSTER, "strimzi.io/broker-role": "true"})


def acl_rule(grant: Grant) -> dict[str, Any]:
    """A KafkaUser's ACL rule for one grant (Strimzi's `authorization.acls` item)."""
    return {"resource": {"type": grant.resource, "name": grant.name, "patternType": grant.pattern},
            "operations": list(grant.operations)}
