"""Kafka for the binaries whose contract has `kafka`: one real broker (ops/engine/kafka.py, the pinned version's
KRaft node) shaped as the render's Kafka resource says.

- its listeners: the rendered ones, on their ports, bound on the bridge's host address: SCRAM-SHA-512 over TLS where
  the listener authenticates, PLAINTEXT where it does not;
- its TLS certificate: the rendered listener Certificate's names, signed by the platform CA the trust bundles hold
  (so a client verifies it as in the cluster), the broker advertising the first broker name in it (Strimzi's
  per-broker address, which clients dial after the bootstrap);
- its users: every rendered KafkaUser with the SCRAM password its Secret holds, and each one's ACLs; ANONYMOUS the
  bindings the steward's Job would apply (its ConfigMap's `grouped` calls);
- its topics: every rendered KafkaTopic, with one replica (one broker: min.insync.replicas is 1 here).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.boot.certs import Pair, server_certificate
from ops.boot.rendered import Obj, Rendered, name_of, names_of_host, namespace_of
from ops.boot.sandbox import Network
from ops.engine.kafka import Broker
from ops.engine.kafka_config import KeyStore, Listener, ScramUser
from ops.engine.toolchain import log

NO_BROKER = "Kafka: no broker in this boot"
ANONYMOUS_CONFIG = "anonymous-acl-steward"
PARALLEL = 2          # Kafka's tools are JVMs: two at a time on two cores
PATTERNS = {"literal": "literal", "prefix": "prefixed", "prefixed": "prefixed"}   # Strimzi's -> kafka-acls.sh's


@dataclass(frozen=True)
class KafkaBroker:
    """A running broker: the names pods dial it by (bootstrap Service forms, the advertised broker) -> its address."""

    broker: Broker
    hosts: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def group_states(self) -> dict[str, str]:
        """The consumer groups the binaries joined (a SCRAM client's proves its TLS handshake and login)."""
        return self.broker.group_states()


def kafka_broker(rendered: Rendered, network: Network,
                 platform_ca: Pair | None) -> contextlib.AbstractContextManager[KafkaBroker | None]:
    """A context manager yielding the broker for the render's Kafka (None when the render has none)."""
    kafka = next(iter(rendered.of_kind("Kafka")), None)
    if kafka is None or platform_ca is None:
        return contextlib.nullcontext(None)
    return _broker(rendered, kafka, network, platform_ca)


@contextlib.contextmanager
def _broker(rendered: Rendered, kafka: Obj, network: Network, platform_ca: Pair) -> Iterator[KafkaBroker]:
    namespace, cluster = namespace_of(kafka), name_of(kafka)
    names = certificate_names(rendered, namespace)
    advertised = broker_address(rendered, cluster, namespace)
    with tempfile.TemporaryDirectory(prefix="openfoundry-boot-kafka-") as root:
        pair = server_certificate(platform_ca, Path(root), "kafka-listener", names or [advertised])
        listeners = [listener_of(spec, network.gateway, advertised) for spec in kafka["spec"]["kafka"]["listeners"]]
        with Broker(Path(root) / "broker", listeners, users_of(rendered, namespace),
                    keystore=KeyStore.of(pair.cert, pair.key)) as broker:
            notes = list(setup(broker, rendered, namespace))
            hosts = {host: network.gateway for host in (*names_of_host(f"{cluster}-kafka-bootstrap.{namespace}.svc"),
                                                        *names_of_host(advertised))}
            yield KafkaBroker(broker, hosts, tuple(notes))


def broker_address(rendered: Rendered, cluster: str, namespace: str) -> str:
    """Strimzi's address for a broker: <cluster>-<pool>-<id>.<cluster>-kafka-brokers.<namespace>.svc (the first
    broker pool's; the id is the one node here)."""
    pools = [p for p in rendered.of_kind("KafkaNodePool", namespace) if "broker" in (p["spec"].get("roles") or [])]
    pool = name_of(pools[0]) if pools else "kafka"
    return f"{cluster}-{pool}-0.{cluster}-kafka-brokers.{namespace}.svc"


def certificate_names(rendered: Rendered, namespace: str) -> list[str]:
    """The DNS names of the listener's certificate the render asks cert-manager for."""
    found = [c for c in rendered.of_kind("Certificate", namespace) if "kafka-listener" in name_of(c)]
    return list(found[0]["spec"].get("dnsNames") or []) if found else []


def listener_of(spec: dict[str, Any], host: str, advertised: str) -> Listener:
    authenticated = (spec.get("authentication") or {}).get("type") == "scram-sha-512"
    return Listener(spec["name"].upper(), host, int(spec["port"]), "SASL_SSL" if authenticated else "PLAINTEXT",
                    advertised_host=advertised)


def users_of(rendered: Rendered, namespace: str) -> list[ScramUser]:
    """Every SCRAM KafkaUser, with the password its Secret holds (the User Operator reads the same key)."""
    users = []
    for user in rendered.of_kind("KafkaUser", namespace):
        authentication = user["spec"].get("authentication") or {}
        reference: dict[str, str] = ((authentication.get("password") or {}).get("valueFrom") or {}).get(
            "secretKeyRef") or {}
        data = rendered.secret_data(namespace, reference["name"]) if reference else None
        if data and reference["key"] in data:
            users.append(ScramUser(name_of(user), data[reference["key"]].decode()))
    return users


@dataclass(frozen=True)
class Grant:
    """One kafka-acls.sh call: every operation on every named resource of one kind and pattern type."""

    principal: str
    kind: str
    pattern: str
    operations: tuple[str, ...]
    names: tuple[str, ...]

    def arguments(self) -> list[str]:
        flag = {"transactionalId": "--transactional-id"}.get(self.kind, f"--{self.kind}")   # kafka-acls.sh's spelling
        targets = ["--cluster"] if self.kind == "cluster" else [a for n in self.names for a in (flag, n)]
        return ["--add", "--allow-principal", self.principal, *(a for op in self.operations for a in ("--operation", op)),
                *targets, "--resource-pattern-type", self.pattern]


def setup(broker: Broker, rendered: Rendered, namespace: str) -> Iterator[str]:
    """Topics and ACLs, the tools' JVMs two at a time."""
    topics = rendered.of_kind("KafkaTopic", namespace)
    grants = [g for u in rendered.of_kind("KafkaUser", namespace) for g in user_grants(u)]
    grants += anonymous_grants(rendered, namespace)
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(lambda t: broker.create_topic(t["spec"].get("topicName") or name_of(t),
                                                    int(t["spec"].get("partitions") or 1)), topics))
        list(pool.map(lambda g: broker.tool("kafka-acls.sh", *g.arguments()), grants))
    log(f"{len(topics)} topics and {len(grants)} ACL calls on the broker", "boot")
    yield f"Kafka: one broker ({'; '.join(broker.describe())}), {len(topics)} topics with one replica"


def user_grants(user: Obj) -> list[Grant]:
    """A KafkaUser's ACLs, as few tool calls as they allow (one per resource kind, pattern and operation set)."""
    calls: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for acl in (user["spec"].get("authorization") or {}).get("acls") or []:
        resource = acl["resource"]
        key = (resource["type"], PATTERNS[resource.get("patternType", "literal")], tuple(sorted(acl["operations"])))
        calls.setdefault(key, []).append(resource.get("name", ""))
    return [Grant(f"User:{name_of(user)}", kind, pattern, operations, tuple(names))
            for (kind, pattern, operations), names in calls.items()]


def anonymous_grants(rendered: Rendered, namespace: str) -> list[Grant]:
    """What the steward's Job grants ANONYMOUS: its ConfigMap's `grouped` calls (kind pattern ops names...)."""
    data = rendered.config_map_data(namespace, ANONYMOUS_CONFIG) or {}
    grants = []
    for line in data.get("grouped", b"").decode().splitlines():
        kind, pattern, operations, *names = line.split()
        grants.append(Grant("User:ANONYMOUS", kind, pattern, tuple(operations.split(",")), tuple(names)))
    return grants
