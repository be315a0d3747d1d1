"""The generated nats.conf, checked by the real NATS server built from its Go module: `nats-server -t` on every
stack's config, then prod's account graph on three routed servers, with clients of different accounts on each."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.control.accounts import password_variable
from components.control.jetstream import consumer_spec
from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import DurableConsumer
from tests.engine.natscluster import build_nats_server, prod_servers, write_config
from tests.natsclient import Client, Event

pytestmark = pytest.mark.engine

AUDIT_READS = {"audit-service": {"of.audit.gateway", "of.audit.auth"}}


@pytest.fixture(scope="module")
def nats_server() -> Path:
    return build_nats_server()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_server_accepts_the_generated_config(stack: str, nats_server: Path, catalog: Catalog, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    config: StackConfig = request.getfixturevalue(f"{stack}_config")
    conf, env = write_config(config, catalog, tmp_path)
    result = subprocess.run([str(nats_server), "-c", str(conf), "-t"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    missing = {**env}
    missing.pop(password_variable("identity-federation-service"))
    broken = subprocess.run([str(nats_server), "-c", str(conf), "-t"], env=missing, capture_output=True, text=True,
                            timeout=60)
    assert broken.returncode != 0  # an unresolved password variable is refused, not taken literally


@pytest.fixture(scope="module")
def prod_cluster(nats_server: Path, catalog: Catalog, prod_config: StackConfig,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Prod's nats.conf on three routed servers (JetStream clustered, R3 streams as in prod): their client ports; as if
    audit-service's binary read two of its audit subjects, so the platform keeps it a consumer on OF_AUDIT."""
    with prod_servers(nats_server, catalog, prod_config, tmp_path_factory.mktemp("nats"), AUDIT_READS) as ports:
        yield ports


def test_a_core_subject_crosses_only_to_the_accounts_it_is_exported_to(prod_cluster: list[int]) -> None:
    identity = Client(prod_cluster[0], "identity-federation-service")
    identity.subscribe("authz.policy.changed")
    # the system account's user has no subject permissions at all: only its account (SYS, which imports nothing)
    # keeps the signal from it, so what this shows is the account graph, not a user's permissions
    unrestricted = Client(prod_cluster[1], "sys")
    unrestricted.subscribe("authz.policy.changed")
    unrestricted.subscribe("_INBOX.>")
    tenancy = Client(prod_cluster[1], "tenancy-organizations-service")
    tenancy.subscribe("authz.policy.changed")   # not imported by its account, and not in its permissions
    assert any(e.kind == "ERR" and "Permissions Violation" in e.subject for e in tenancy.messages())
    assert identity.messages() == []
    policy = Client(prod_cluster[2], "authorization-policy-service")   # another server: across the routes
    policy.publish("authz.policy.changed", b"reload")
    assert policy.messages() == []   # no permissions violation
    assert [(e.kind, e.subject, e.payload) for e in identity.messages()] == [("MSG", "authz.policy.changed", b"reload")]
    assert unrestricted.messages() == []
    # the same subject from an account that does not export it to identity's never arrives: imports name the account
    unrestricted.publish("authz.policy.changed", b"forged")
    assert [(e.kind, e.payload) for e in unrestricted.messages()] == [("MSG", b"forged")]   # its own account's
    assert identity.messages() == []


def test_a_stream_subject_lands_in_the_stream_and_only_its_subscriber_gets_it_from_every_server(
        prod_cluster: list[int], catalog: Catalog, prod_config: StackConfig) -> None:
    """OF_AUDIT lives in the gateway's account; identity-federation publishes into it through a service import,
    audit-service reads it through the durable consumer the platform keeps for a subscriber whose binary reads (none
    does at the pin: the cluster's config takes AUDIT_READS as read), pushed across accounts."""
    nack = Client(prod_cluster[0], "nack-gateway")   # creates what NACK would: OF_AUDIT and audit-service's durable
    stream = {"name": "OF_AUDIT", "subjects": ["of.audit.>"], "storage": "file", "retention": "limits",
              "max_msgs": 1000, "num_replicas": 1}
    created = nack.ask("$JS.API.STREAM.CREATE.OF_AUDIT", json.dumps(stream).encode())
    assert created and b'"error"' not in created.payload, created
    audit = DurableConsumer("audit-service", "OF_AUDIT", ("of.audit.auth", "of.audit.gateway"), home="gateway")
    spec = consumer_spec(audit, prod_config.control.nats, prod=True)
    durable = {"stream_name": "OF_AUDIT", "config": {
        "durable_name": spec["durableName"], "ack_policy": "explicit", "deliver_subject": spec["deliverSubject"],
        "deliver_group": spec["deliverGroup"], "filter_subjects": spec["filterSubjects"], "ack_wait": 30_000_000_000,
        "num_replicas": spec["replicas"]}}
    created = nack.ask("$JS.API.CONSUMER.CREATE.OF_AUDIT.audit-service", json.dumps(durable).encode())
    assert created and b'"error"' not in created.payload, created
    outsider = Client(prod_cluster[1], "app-builder-service")   # its account imports nothing of OF_AUDIT
    outsider.subscribe("deliver.OF_AUDIT.audit-service")
    assert any(e.kind == "ERR" and "Permissions Violation" in e.subject for e in outsider.messages())
    replicas = [Client(port, "audit-service") for port in prod_cluster]   # a replica on each server
    for replica in replicas:
        replica.subscribe("deliver.OF_AUDIT.audit-service", queue="audit-service")   # one queue group
        assert replica.messages(1) == []
    bodies = []
    for index, port in enumerate(prod_cluster):
        # the gateway into its own stream; identity-federation through the import the gateway's account exports it
        for publisher, subject in (("gateway", "of.audit.gateway"), ("identity-federation-service", "of.audit.auth")):
            bodies.append(json.dumps({"from": publisher, "n": index}).encode())
            ack = Client(port, publisher).ask(subject, bodies[-1])   # JetStream's acknowledgement crosses back
            assert ack and json.loads(ack.payload)["stream"] == "OF_AUDIT", ack
    delivered: list[tuple[Client, Event]] = []
    deadline = time.monotonic() + 20
    while len(delivered) < len(bodies) and time.monotonic() < deadline:
        delivered += [(r, e) for r in replicas for e in r.messages(1) if e.kind == "MSG"]
    assert sorted(e.payload for _, e in delivered) == sorted(bodies)   # each once, to one replica of the group
    assert {e.subject for _, e in delivered} == {"of.audit.gateway", "of.audit.auth"}
    for replica, event in delivered:
        replica.publish(event.reply, b"+ACK")   # the ack, through the import of the gateway account's ack service
        assert replica.messages(1) == []
    info = nack.ask("$JS.API.CONSUMER.INFO.OF_AUDIT.audit-service", b"")
    assert info is not None
    state = json.loads(info.payload)
    assert "delivered" in state, state
    assert (state["delivered"]["stream_seq"], state["ack_floor"]["stream_seq"], state["num_ack_pending"]) == (6, 6, 0)
    assert state["num_redelivered"] == 0
    assert [e for e in outsider.messages(1) if e.kind == "MSG"] == []
