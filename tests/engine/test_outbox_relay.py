"""Prod's outbox relay, run for real: a Kafka Connect worker with Debezium's connector (ops/engine/connect.py) relays
rows of a Postgres 18 outbox to a Kafka broker, everything as the stack renders it.

- Postgres: workflow-automation-service's cluster's parameters, its relay role as CNPG's managed role makes it
  (LOGIN REPLICATION, the password of its Secret, nothing granted), its Publication as CNPG creates it, TLS on, and
  the last rule of CNPG's pg_hba (`host all all all scram-sha-256`). The outbox table is OpenFoundry's
  (of:libs/outbox/outbox.go:19-31), written as its `Enqueue` writes it: insert and delete in one transaction.
- Kafka: the rendered listener (SCRAM-SHA-512 over TLS), the relay's KafkaUser with its ACLs, the topics it uses
  from their KafkaTopics.
- Connect: the KafkaConnect's worker configuration as Strimzi writes it, the container's environment from its
  Secrets, and the KafkaConnector's config PUT as the Cluster Operator does; only the pod's world changes (the
  database's address is 127.0.0.1 and a free port).
"""

from __future__ import annotations

import json
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import confluent_kafka as ck
import pg8000
import pytest
from confluent_kafka import admin as admin_api

from ops.boot.certs import Pair, certificate_authority, server_certificate
from ops.boot.kafka import users_of
from ops.boot.rendered import Obj, Rendered, load_rendered, name_of, namespace_of
from ops.engine import postgres
from ops.engine.connect import Worker, debezium_plugins, rest_port, worker_properties
from ops.engine.kafka import Broker, free_port
from ops.engine.kafka_config import KeyStore, Listener, ScramUser
from tests.engine.conftest import rendered
from tests.engine.kafka_acls import user_bindings

pytestmark = pytest.mark.engine

OWNER = "workflow-automation-service"
CONNECTOR = f"outbox-{OWNER}"
RELAYED, UNLISTED, FOREIGN = "approval.requested.v1", "compass.resource.search.updated.v1", "ontology.objects.changed.v1"
TIMEOUT = 30.0
# of:libs/outbox/outbox.go:19-31 (the migrations create the same table: data/outboxes.yaml)
OUTBOX_DDL = ["CREATE SCHEMA outbox",
              "CREATE TABLE outbox.events (event_id uuid PRIMARY KEY, aggregate text NOT NULL, aggregate_id text NOT NULL,"
              " payload jsonb NOT NULL, headers jsonb NOT NULL DEFAULT '{}', topic text NOT NULL,"
              " created_at timestamptz NOT NULL DEFAULT now())",
              "ALTER TABLE outbox.events REPLICA IDENTITY FULL"]


@dataclass
class Relay:
    tree: Rendered
    database: dict[str, Any]     # pg8000 connection arguments of the owner
    socket: Path
    port: int
    broker: Broker
    worker: Worker
    ca: Pair
    relay_user: ScramUser


def one(tree: Rendered, kind: str, name: str) -> Obj:
    (found,) = [obj for obj in tree.of_kind(kind) if name_of(obj) == name]
    return found


def secret_value(tree: Rendered, namespace: str, name: str, key: str) -> str:
    data = tree.secret_data(namespace, name)
    assert data is not None and key in data, f"no Secret {namespace}/{name} with {key}"
    return data[key].decode()


def as_superuser(socket: Path, port: int, database: str, statements: list[str]) -> None:
    connection = pg8000.connect(user="postgres", unix_sock=str(socket / f".s.PGSQL.{port}"), database=database)
    connection.autocommit = True
    try:
        for statement in statements:
            connection.run(statement)
    finally:
        connection.close()


def managed_role(role: dict[str, Any], password: str) -> str:
    """CNPG's CREATE ROLE for a managed role (internal/management/controller/roles/postgres.go)."""
    options = ["LOGIN" if role.get("login") else "NOLOGIN", "REPLICATION" if role.get("replication") else "NOREPLICATION",
               f"CONNECTION LIMIT {role.get('connectionLimit', -1)}", f"PASSWORD '{password}'"]
    return f'CREATE ROLE "{role["name"]}" {" ".join(options)}'


def publication(spec: dict[str, Any]) -> str:
    """CNPG's CREATE PUBLICATION for a Publication (internal/management/controller/publication_controller_sql.go)."""
    tables = ", ".join(f'"{o["table"]["schema"]}"."{o["table"]["name"]}"' for o in spec["target"]["objects"])
    options = ", ".join(f"{key} = '{value}'" for key, value in (spec.get("parameters") or {}).items())
    return f'CREATE PUBLICATION "{spec["name"]}" FOR TABLE {tables}' + (f" WITH ({options})" if options else "")


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    tree = load_rendered(rendered("prod"))
    root = tmp_path_factory.mktemp("outbox-relay")
    ca = certificate_authority(root, "ca", "platform CA")
    cluster = one(tree, "Cluster", f"pg-{OWNER}")
    namespace, dbname = namespace_of(cluster), cluster["spec"]["bootstrap"]["initdb"]["database"]
    (role,) = [r for r in cluster["spec"]["managed"]["roles"] if r.get("replication")]
    relay_password = secret_value(tree, namespace, role["passwordSecret"]["name"], "password")
    port = free_port()
    with postgres.server() as at, postgres.serving(
            at, cluster["spec"]["postgresql"]["parameters"], port, ["local all all trust", "host all all all scram-sha-256"],
            tls=(lambda pair: (pair.cert, pair.key))(server_certificate(ca, root, "postgres", ["localhost"]))) as socket:
        owner_password = uuid.uuid4().hex
        as_superuser(socket, port, "postgres", [f"CREATE ROLE {dbname} LOGIN PASSWORD '{owner_password}'",
                                                f"CREATE DATABASE {dbname} OWNER {dbname}", managed_role(role, relay_password)])
        database = {"user": dbname, "password": owner_password, "host": "127.0.0.1", "port": port, "database": dbname}
        with pg8000.connect(**database) as owner:
            for statement in OUTBOX_DDL:
                owner.run(statement)
            owner.commit()
        as_superuser(socket, port, dbname, [publication(one(tree, "Publication", f"pg-{OWNER}-outbox")["spec"])])
        with _broker(tree, root, ca) as (broker, relay_user), _worker(tree, root, ca, broker, port) as worker:
            yield Relay(tree, database, socket, port, broker, worker, ca, relay_user)


def _broker(tree: Rendered, root: Path, ca: Pair) -> Any:
    (kafka,) = tree.of_kind("Kafka")
    namespace = namespace_of(kafka)
    server = server_certificate(ca, root, "listener", ["localhost"])
    tls = next(spec for spec in kafka["spec"]["kafka"]["listeners"] if spec["name"] == "tls")
    listener = Listener("TLS", "127.0.0.1", free_port(), "SASL_SSL", "localhost")
    assert tls["authentication"]["type"] == "scram-sha-512"
    users = [u for u in users_of(tree, namespace) if u.name == "outbox-relay"]
    return _BrokerContext(tree, namespace, Broker(root / "broker", [listener], users,
                                                  keystore=KeyStore.of(server.cert, server.key)), users[0])


class _BrokerContext:
    """The broker with the relay's ACLs and topics, single replica."""

    def __init__(self, tree: Rendered, namespace: str, broker: Broker, user: ScramUser) -> None:
        self.tree, self.namespace, self.broker, self.user = tree, namespace, broker, user

    def __enter__(self) -> tuple[Broker, ScramUser]:
        self.broker.__enter__()
        admin = admin_client(self.broker)
        user = one(self.tree, "KafkaUser", "outbox-relay")
        for future in admin.create_acls(user_bindings(user)).values():
            future.result(timeout=TIMEOUT)
        names = {acl["resource"]["name"] for acl in user["spec"]["authorization"]["acls"] if acl["resource"]["type"] == "topic"}
        topics = [t for t in self.tree.of_kind("KafkaTopic", self.namespace)
                  if (t["spec"].get("topicName") or name_of(t)) in names | {FOREIGN}]
        new = [admin_api.NewTopic(t["spec"].get("topicName") or name_of(t), int(t["spec"]["partitions"]), 1,
                                  config={k: str(v) for k, v in t["spec"]["config"].items() if k != "min.insync.replicas"})
               for t in topics]
        for future in admin.create_topics(new).values():
            future.result(timeout=TIMEOUT)
        return self.broker, self.user

    def __exit__(self, *exc: object) -> None:
        self.broker.__exit__(None, None, None)


def admin_client(broker: Broker) -> Any:
    return admin_api.AdminClient({"bootstrap.servers": broker.admin_bootstrap, "security.protocol": "SASL_PLAINTEXT",
                                  "sasl.mechanisms": "PLAIN", "sasl.username": broker.admin.name,
                                  "sasl.password": broker.admin.password})


def _worker(tree: Rendered, root: Path, ca: Pair, broker: Broker, port: int) -> Worker:
    connect = one(tree, "KafkaConnect", "outbox-relay")
    namespace = namespace_of(connect)
    auth = connect["spec"]["authentication"]["passwordSecret"]
    password = secret_value(tree, namespace, auth["secretName"], auth["password"])
    properties = worker_properties(connect["spec"], broker.bootstrap("TLS"), password, ca.cert, rest_port(),
                                   debezium_plugins())
    env = {e["name"]: secret_value(tree, namespace, e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
           for e in connect["spec"]["template"]["connectContainer"]["env"]}
    return Worker(root / "worker", properties, env)


def connector_config(relay: Relay, name: str = CONNECTOR, **changes: str) -> dict[str, str]:
    """The KafkaConnector as the Cluster Operator hands it to the worker, pointed at the local database."""
    connector = one(relay.tree, "KafkaConnector", name)
    spec = connector["spec"]
    config = {"connector.class": spec["class"], "tasks.max": str(spec["tasksMax"]),
              **{k: str(v) for k, v in spec["config"].items()}}
    return {**config, "database.hostname": "127.0.0.1", "database.port": str(relay.port), **changes}


def enqueue(relay: Relay, topic: str, aggregate_id: str, payload: dict[str, Any]) -> str:
    """libs/outbox.Enqueue: the row inserted and deleted in the transaction of the change it announces."""
    event_id = str(uuid.uuid4())
    with pg8000.connect(**relay.database) as owner:
        owner.run("INSERT INTO outbox.events (event_id, aggregate, aggregate_id, payload, headers, topic) "
                  "VALUES (CAST(:id AS uuid), 'approval', :key, CAST(:payload AS jsonb), CAST(:headers AS jsonb), :topic)",
                  id=event_id, key=aggregate_id, payload=json.dumps(payload), headers='{"ol-run": "r1"}', topic=topic)
        owner.run("DELETE FROM outbox.events WHERE event_id = CAST(:id AS uuid)", id=event_id)
        owner.commit()
    return event_id


def read_one(relay: Relay, topic: str) -> Any:
    consumer = ck.Consumer({"bootstrap.servers": relay.broker.admin_bootstrap, "security.protocol": "SASL_PLAINTEXT",
                            "sasl.mechanisms": "PLAIN", "sasl.username": relay.broker.admin.name,
                            "sasl.password": relay.broker.admin.password, "group.id": f"probe-{uuid.uuid4().hex[:8]}",
                            "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        for _ in range(int(TIMEOUT)):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                return message
        raise AssertionError(f"nothing reached {topic} within {TIMEOUT:.0f}s")
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def streaming(relay: Relay) -> Relay:
    relay.worker.create_connector(CONNECTOR, connector_config(relay))
    relay.worker.wait_streaming(CONNECTOR)
    return relay


def test_a_row_reaches_the_topic_it_names_keyed_by_its_aggregate(streaming: Relay) -> None:
    event_id = enqueue(streaming, RELAYED, "approval-42", {"approval": 42, "state": "requested"})
    message = read_one(streaming, RELAYED)
    assert message.key() == b"approval-42"
    assert json.loads(message.value()) == {"approval": 42, "state": "requested"}
    headers = dict(message.headers() or [])
    assert headers["id"] == event_id.encode()          # consumers dedupe on it (ADR-0022)
    assert headers["outbox-topic"] == RELAYED.encode()


def test_a_row_for_a_topic_the_outbox_may_not_write_is_parked_with_its_topic(streaming: Relay) -> None:
    enqueue(streaming, UNLISTED, "tenant-7", {"resource": "r-1"})
    message = read_one(streaming, f"__dlq.outbox.{OWNER}.v1")
    assert dict(message.headers() or [])["outbox-topic"] == UNLISTED.encode()
    assert message.key() == b"tenant-7"
    assert streaming.worker.task_state(CONNECTOR)[0] == "RUNNING"   # it carries on


def test_the_relay_principal_may_write_no_other_topic(streaming: Relay) -> None:
    producer = ck.Producer({"bootstrap.servers": streaming.broker.bootstrap("TLS"), "security.protocol": "SASL_SSL",
                            "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": streaming.relay_user.name,
                            "sasl.password": streaming.relay_user.password, "ssl.ca.location": str(streaming.ca.cert)})
    errors: list[Any] = []
    producer.produce(FOREIGN, b"x", on_delivery=lambda error, _message: errors.append(error))
    producer.flush(TIMEOUT)
    assert errors and errors[0] is not None and errors[0].code() == ck.KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_relay_role_reads_no_table(streaming: Relay) -> None:
    (role,) = [r for r in one(streaming.tree, "Cluster", f"pg-{OWNER}")["spec"]["managed"]["roles"] if r.get("replication")]
    namespace = namespace_of(one(streaming.tree, "Cluster", f"pg-{OWNER}"))
    password = secret_value(streaming.tree, namespace, role["passwordSecret"]["name"], "password")
    with pg8000.connect(user=role["name"], password=password, host="127.0.0.1", port=streaming.port,
                        database=streaming.database["database"], ssl_context=verifying(streaming.ca)) as relay_role, \
            pytest.raises(pg8000.DatabaseError, match="permission denied"):
        relay_role.run("SELECT count(*) FROM outbox.events")


def verifying(ca: Pair) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.check_hostname = False   # the test's certificate names localhost, the client dials 127.0.0.1
    return context


def test_a_connector_without_its_publication_fails_by_name(streaming: Relay) -> None:
    config = connector_config(streaming, **{"publication.name": "no_such_publication", "slot.name": "probe_slot"})
    streaming.worker.create_connector("probe-missing-publication", config)
    for _ in range(int(TIMEOUT * 2)):
        state, trace = streaming.worker.task_state("probe-missing-publication")
        if state == "FAILED":
            assert "Publication autocreation is disabled" in trace
            return
        time.sleep(0.5)
    raise AssertionError(f"the connector did not fail on a missing publication ({state})")
