"""Prod's Kafka as a real broker of the pinned version loads it (ops/engine/kafka.py), then the topic registry
exercised pair by pair through a real client (librdkafka, as confluent-kafka ships it).

- The broker takes the Kafka resource's `spec.kafka.config`: each key is one the broker knows, with the rendered
  value (one node: the replication factors and in-sync minimums are 1 here; their names are still judged).
- Users, as Strimzi's User Operator makes them: a SCRAM-SHA-512 credential from each KafkaUser's Secret, and one
  ACL binding per operation of each rule (host `*`, allow); ANONYMOUS gets the steward's calls.
- Topics from every KafkaTopic with its rendered config, which the broker validates name by name.
- For every registry entry: each writer produces, each consumer reads and commits in its own group; a principal
  outside the entry is refused the topic, and a consumer in a group not its own is refused the group.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import confluent_kafka as ck
import pytest
from confluent_kafka import admin as admin_api

from foundry.catalog import Catalog
from foundry.topics import Topic, load_registry
from foundry.upstream import load_contracts
from ops.boot.certs import certificate_authority, server_certificate
from ops.boot.kafka import anonymous_grants, users_of
from ops.boot.rendered import Obj, Rendered, load_rendered, name_of, namespace_of
from ops.engine.kafka import Broker
from ops.engine.kafka_config import KeyStore, Listener, ScramUser
from tests.engine.conftest import rendered
from tests.engine.kafka_acls import bindings, user_bindings
from tests.engine.natscluster import free_ports

pytestmark = pytest.mark.engine

ONE_NODE = {key: 1 for key in ("default.replication.factor", "min.insync.replicas", "offsets.topic.replication.factor",
                               "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
                               "share.coordinator.state.topic.replication.factor", "share.coordinator.state.topic.min.isr")}
STEWARD_PATTERNS = {"literal": "LITERAL", "prefixed": "PREFIXED"}     # kafka-acls.sh's, in the steward's calls
# Strimzi drops these from spec.kafka.config with a warning (api/.../model/kafka/KafkaClusterSpec.java:56-75 at 1.2.0)
FORBIDDEN_PREFIXES = ("listeners", "advertised.", "broker.", "listener.", "host.name", "port", "inter.broker.listener.name",
                      "sasl.", "ssl.", "security.", "password.", "log.dir", "authorizer.", "super.user", "node.id",
                      "process.roles", "controller.", "metadata.log.dir", "prometheus.metrics.reporter.",
                      "cordoned.log.dirs", "zookeeper.", "cruise.control.metrics.", "client.quota.callback.static.")
FORBIDDEN_EXCEPTIONS = ("sasl.server.max.receive.size", "ssl.cipher.suites", "ssl.protocol", "ssl.enabled.protocols",
                        "ssl.secure.random.implementation", "broker.session.timeout.ms", "broker.heartbeat.interval.ms",
                        "controller.socket.timeout.ms", "controller.quorum.election.backoff.max.ms",
                        "controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms")
TIMEOUT = 30.0


@dataclass(frozen=True)
class Identity:
    """How a service's binary reaches the brokers: its SCRAM user over TLS, or no credentials (ANONYMOUS)."""

    principal: str
    client: dict[str, str]


def as_text(value: Any) -> str:
    """A config value as Strimzi writes it (JSON scalars as text)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class Prod:
    rendered: Rendered
    broker: Broker
    admin: Any
    identities: dict[str, Identity]


def wait(futures: dict[Any, Any]) -> None:
    for future in futures.values():
        future.result(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Prod]:
    tree = load_rendered(rendered("prod"))
    (kafka,) = tree.of_kind("Kafka")
    namespace = namespace_of(kafka)
    root = tmp_path_factory.mktemp("kafka-registry")
    ca = certificate_authority(root, "ca", "platform CA")
    server = server_certificate(ca, root, "listener", ["localhost"])
    ports = iter(free_ports(len(kafka["spec"]["kafka"]["listeners"])))
    listeners = [Listener(spec["name"].upper(), "127.0.0.1", next(ports),
                          "SASL_SSL" if (spec.get("authentication") or {}).get("type") == "scram-sha-512" else "PLAINTEXT",
                          "localhost") for spec in kafka["spec"]["kafka"]["listeners"]]
    config = {key: as_text(value) for key, value in (kafka["spec"]["kafka"].get("config") or {}).items()}
    users = users_of(tree, namespace)
    with Broker(root / "broker", listeners, users, keystore=KeyStore.of(server.cert, server.key),
                config={**config, **ONE_NODE}) as broker:
        admin = admin_api.AdminClient({"bootstrap.servers": broker.admin_bootstrap, "security.protocol": "SASL_PLAINTEXT",
                                       "sasl.mechanisms": "PLAIN", "sasl.username": broker.admin.name,
                                       "sasl.password": broker.admin.password})
        acls = [b for user in tree.of_kind("KafkaUser", namespace) for b in user_bindings(user)]
        acls += [b for g in anonymous_grants(tree, namespace) for name in (g.names or ("kafka-cluster",))
                 for b in bindings(g.principal, g.kind, name, STEWARD_PATTERNS[g.pattern], list(g.operations))]
        wait(admin.create_acls(acls))
        scram = {ln.name for ln in listeners if ln.protocol == "SASL_SSL"}
        tls = next(ln for ln in listeners if ln.name in scram)
        plain = next(ln for ln in listeners if ln.protocol == "PLAINTEXT")
        identities = {u.name: Identity(f"User:{u.name}", {
            "bootstrap.servers": tls.advertised, "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": u.name, "sasl.password": u.password, "ssl.ca.location": str(ca.cert)}) for u in users}
        contracts = load_contracts()
        for service in catalog.services:
            kafka_client = contracts.of(service.binary).kafka if service.binary else None
            if kafka_client and kafka_client.security == "plaintext":
                identities[service.name] = Identity("User:ANONYMOUS", {"bootstrap.servers": plain.advertised})
        found = Prod(tree, broker, admin, identities)
        yield found
        found.admin = admin = None   # librdkafka's threads go with the last reference, before the broker


def kafka_of(prod: Prod) -> Obj:
    (kafka,) = prod.rendered.of_kind("Kafka")
    return kafka


def test_the_broker_takes_every_key_of_the_kafka_resource_s_config(prod: Prod) -> None:
    taken = prod.broker.effective_config()
    rendered_config = kafka_of(prod)["spec"]["kafka"].get("config") or {}
    assert rendered_config
    dropped = sorted(k for k in rendered_config if k.startswith(FORBIDDEN_PREFIXES) and k not in FORBIDDEN_EXCEPTIONS)
    assert dropped == [], f"keys Strimzi drops: {dropped}"
    unknown = sorted(set(rendered_config) - set(taken))
    assert unknown == [], f"keys the broker does not know: {unknown}"
    # the dump prints a list as `[a, b]`
    differing = {k: (as_text(v), taken[k]) for k, v in rendered_config.items() if k not in ONE_NODE
                 and taken[k].strip("[]").replace(", ", ",") != as_text(v)}
    assert differing == {}
    # what a misspelt key would meet: the broker's dump has the real name only
    assert "unclean.leader.election.enable" in taken and "unclean.leader.election.enabled" not in taken


@pytest.fixture(scope="module")
def topics(prod: Prod) -> dict[str, str]:
    """Every rendered KafkaTopic created with its config: the broker's refusal per topic ("" when it took it). Then,
    one node, min.insync.replicas to 1 so that a write with acks=all can land."""
    (kafka,) = prod.rendered.of_kind("Kafka")
    made = {}
    for topic in prod.rendered.of_kind("KafkaTopic", namespace_of(kafka)):
        name = topic["spec"].get("topicName") or name_of(topic)
        config = {k: as_text(v) for k, v in (topic["spec"].get("config") or {}).items()}
        (future,) = prod.admin.create_topics([admin_api.NewTopic(name, int(topic["spec"].get("partitions") or 1), 1,
                                                                 config=config)]).values()
        try:
            future.result(timeout=TIMEOUT)
            made[name] = ""
        except ck.KafkaException as refused:
            made[name] = str(refused.args[0])
    one = [admin_api.ConfigResource(admin_api.ResourceType.TOPIC, name, incremental_configs=[admin_api.ConfigEntry(
        "min.insync.replicas", "1", incremental_operation=admin_api.AlterConfigOpType.SET)])
           for name, refusal in made.items() if not refusal]
    wait(prod.admin.incremental_alter_configs(one))
    return made


def test_the_broker_takes_every_topic_with_its_config(prod: Prod, topics: dict[str, str]) -> None:
    assert len(topics) == len(prod.rendered.of_kind("KafkaTopic"))
    assert {name: refusal for name, refusal in topics.items() if refusal} == {}


def test_the_broker_refuses_a_topic_config_it_does_not_know(prod: Prod, topics: dict[str, str]) -> None:
    (future,) = prod.admin.create_topics([admin_api.NewTopic("registry-probe-misspelt", 1, 1,
                                                             config={"retention.msec": "1000"})]).values()
    with pytest.raises(ck.KafkaException, match="retention.msec"):
        future.result(timeout=TIMEOUT)


def produce(identity: Identity, topic: str) -> str:
    """One record to partition 0; "" when it landed, else the error's code name."""
    producer = ck.Producer({**identity.client, "message.timeout.ms": "20000"})
    outcome: list[str] = []
    producer.produce(topic, b"registry-probe", key=b"probe", partition=0,   # a compacted topic takes keyed records
                     on_delivery=lambda error, _: outcome.append(error.name() if error else ""))
    producer.flush(TIMEOUT)
    return outcome[0] if outcome else "no delivery report"


def consume(identity: Identity, topic: str, group: str) -> str:
    """Read partition 0 from the start and commit in `group`; "" when both worked, else the error's code name."""
    consumer = ck.Consumer({**identity.client, "group.id": group, "enable.auto.commit": "false",
                            "auto.offset.reset": "earliest"})
    try:
        consumer.assign([ck.TopicPartition(topic, 0, 0)])   # from offset 0: a Fetch, no ListOffsets first
        deadline = TIMEOUT
        while deadline > 0:
            message = consumer.poll(1.0)
            deadline -= 1
            if message is None:
                continue
            if message.error():
                return str(message.error().name())
            consumer.commit(message=message, asynchronous=False)
            return ""
        return "nothing read"
    except ck.KafkaException as failed:
        return str(failed.args[0].name())
    finally:
        consumer.close()


REGISTRY = load_registry().resolved()


def groups_of(catalog: Catalog, service: str) -> list[str]:
    return list(catalog.by_name(service).consumer_groups)


def topic_to_use(prod: Prod, topic: Topic) -> str:
    """The topic itself; for a family, a member its owner creates (Create on the prefix)."""
    if not topic.family:
        return topic.name
    member = f"{topic.name}registry-probe"
    owner = admin_api.AdminClient(prod.identities[topic.owner].client)
    (future,) = owner.create_topics([admin_api.NewTopic(member, 1, -1)]).values()
    try:
        future.result(timeout=TIMEOUT)
    except ck.KafkaException as failed:
        if failed.args[0].name() != "TOPIC_ALREADY_EXISTS":
            raise
    return member


@pytest.mark.parametrize("topic", REGISTRY, ids=lambda t: t.name)
def test_each_writer_writes_and_each_reader_reads_and_commits_in_its_own_groups(
        prod: Prod, topics: dict[str, str], catalog: Catalog, topic: Topic) -> None:
    name = topic_to_use(prod, topic)
    for writer in [topic.owner, *topic.producers]:
        assert (writer, produce(prod.identities[writer], name)) == (writer, "")
    for reader in topic.consumers:
        for group in groups_of(catalog, reader):
            assert (reader, group, consume(prod.identities[reader], name, group)) == (reader, group, "")


@pytest.mark.parametrize("topic", REGISTRY, ids=lambda t: t.name)
def test_a_principal_outside_the_entry_is_refused_the_topic_and_a_reader_a_group_not_its_own(
        prod: Prod, topics: dict[str, str], catalog: Catalog, topic: Topic) -> None:
    name = topic_to_use(prod, topic)
    parties = {topic.owner, *topic.producers, *topic.consumers}
    readers = {reader for entry in REGISTRY for reader in entry.consumers}   # they hold their groups: a refusal is the topic's
    outsider = next(s for s, i in sorted(prod.identities.items())
                    if s not in parties and s in readers and i.principal != "User:ANONYMOUS")
    assert produce(prod.identities[outsider], name) == "TOPIC_AUTHORIZATION_FAILED"
    assert subscribe(prod.identities[outsider], name, groups_of(catalog, outsider)[0]) == "TOPIC_AUTHORIZATION_FAILED"
    for reader in topic.consumers[:1]:
        assert subscribe(prod.identities[reader], name, "registry-probe-not-granted") == "GROUP_AUTHORIZATION_FAILED"


def subscribe(identity: Identity, topic: str, group: str) -> str:
    """Join `group` on `topic` as a binary does: the first error a poll returns ("" once a record arrives)."""
    consumer = ck.Consumer({**identity.client, "group.id": group, "enable.auto.commit": "false",
                            "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        for _ in range(int(TIMEOUT)):
            message = consumer.poll(1.0)
            if message is not None:
                return str(message.error().name()) if message.error() else ""
        return "nothing read"
    finally:
        consumer.close()


def test_an_acl_on_the_wrong_topic_breaks_its_pair(prod: Prod, topics: dict[str, str]) -> None:
    """The check above fails when a rule is wrong: a user made from action-log-sink's KafkaUser, its topic rule
    pointed at another topic, is refused the topic it reads and may read the other."""
    (user,) = [u for u in prod.rendered.of_kind("KafkaUser") if name_of(u) == "action-log-sink"]
    mutant = copy.deepcopy(user)
    mutant["metadata"]["name"] = "registry-probe-mutant"
    for acl in mutant["spec"]["authorization"]["acls"]:
        if acl["resource"]["type"] == "topic":
            acl["resource"]["name"] = "audit.events.v1"
    prod.broker.add_users([ScramUser("registry-probe-mutant", "mutantPassword42")])
    wait(prod.admin.create_acls(user_bindings(mutant)))
    identity = Identity("User:registry-probe-mutant", {**prod.identities["action-log-sink"].client,
                                                      "sasl.username": "registry-probe-mutant",
                                                      "sasl.password": "mutantPassword42"})
    assert subscribe(identity, "ontology.actions.applied.v1", "action-log-sink") == "TOPIC_AUTHORIZATION_FAILED"
    assert produce(prod.identities["audit-service"], "audit.events.v1") == ""   # its owner
    assert consume(identity, "audit.events.v1", "action-log-sink") == ""
