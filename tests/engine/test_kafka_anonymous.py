"""The PLAINTEXT listener's ACLs, for real: the steward's script (components/ingestion/anonymous.py RECONCILE, as its
Job runs it in Strimzi's image) against a Kafka broker of the pinned version, as the steward over TLS with SCRAM;
then a client without credentials on the PLAINTEXT listener writes what ANONYMOUS may and is refused the rest."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.ingestion.anonymous import RECONCILE, STEWARD, anonymous_grants, grouped_calls, wanted_bindings
from foundry.catalog import Catalog
from foundry.topics import load_registry
from foundry.upstream import load_contracts
from ops.boot.certs import certificate_authority, server_certificate
from ops.engine.kafka import Broker, kafka_home
from ops.engine.kafka_config import Acl, KeyStore, Listener, ScramUser
from tests.engine.natscluster import free_ports

pytestmark = pytest.mark.engine

PASSWORD = "stewardSecret42"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, Path]]:
    """A broker with the TLS (SCRAM) and PLAINTEXT listeners, the steward and its one ACL: its CA file too."""
    root = tmp_path_factory.mktemp("kafka")
    ca = certificate_authority(root, "ca", "test CA")
    server = server_certificate(ca, root, "broker", ["localhost"])
    tls, plain = free_ports(2)
    listeners = [Listener("TLS", "127.0.0.1", tls, "SASL_SSL", "localhost"),
                 Listener("PLAIN", "127.0.0.1", plain, "PLAINTEXT", "localhost")]
    with Broker(root / "broker", listeners, [ScramUser(STEWARD, PASSWORD)],
                keystore=KeyStore.of(server.cert, server.key)) as running:
        running.create_acls(f"User:{STEWARD}", [Acl("cluster", "kafka-cluster", ("Alter", "Describe"))])
        for topic in ("audit.events.v1", "ontology.objects.changed.v1", "not.granted.v1"):
            running.create_topic(topic)
        yield running, ca.cert


def reconcile(broker: Broker, ca: Path, files: Path, wanted: str, grouped: str, password: str = PASSWORD,
              tries: int = 4) -> subprocess.CompletedProcess[str]:
    """The script as the Job runs it: Kafka's tools where Strimzi's image has them, its files and scratch in `files`."""
    (files / "wanted").write_text(wanted)
    (files / "grouped").write_text(grouped)
    script = RECONCILE.replace("/tmp/", f"{files}/").replace("/acls/", f"{files}/").replace(
        "/opt/kafka", str(kafka_home()))
    env = {**os.environ, "BOOTSTRAP": broker.bootstrap("TLS"), "STEWARD_USER": STEWARD, "STEWARD_PASSWORD": password,
           "CA_FILE": str(ca), "WAIT_TRIES": str(tries), "LOG_DIR": str(files / "logs")}
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=600)


def produce(broker: Broker, topic: str) -> str:
    """A client with no credentials on the PLAINTEXT listener (Kafka's ANONYMOUS); its stderr (the tool exits 0)."""
    result = subprocess.run([str(kafka_home() / "bin" / "kafka-console-producer.sh"), "--bootstrap-server",
                             broker.bootstrap("PLAIN"), "--topic", topic], input="hello\n", capture_output=True,
                            text=True, timeout=120)
    return result.stderr


def test_the_steward_makes_anonymous_hold_exactly_the_plaintext_services_grants(
        broker: tuple[Broker, Path], catalog: Catalog, tmp_path: Path) -> None:
    running, ca = broker
    running.create_acls("User:ANONYMOUS", [Acl("topic", "stale.topic", ("Read",))])   # left by hand: removed
    contracts = load_contracts()
    plain = [s for s in catalog.services if s.binary and (k := contracts.of(s.binary).kafka) and k.security == "plaintext"]
    grants = anonymous_grants([s.name for s in plain], load_registry().resolved(),
                              {s.name: tuple(s.consumer_groups) for s in plain})
    wanted = wanted_bindings(grants)
    result = reconcile(running, ca, tmp_path, wanted, grouped_calls(grants))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removed: topic literal stale.topic Read" in result.stdout
    held = {f"{e.resource.lower()} {e.pattern.lower()} {e.name} {e.operation.capitalize()}"
            for e in running.list_acls("User:ANONYMOUS")}
    assert held == set(wanted.splitlines())
    assert "Authorization failed" not in produce(running, "audit.events.v1")   # cipher's audit emitter may write
    assert "authorization failed" in produce(running, "not.granted.v1").lower()
    again = reconcile(running, ca, tmp_path, wanted, grouped_calls(grants))   # the repair run: nothing to do
    assert again.returncode == 0 and "removed:" not in again.stdout, again.stdout + again.stderr


def test_a_steward_that_cannot_log_in_fails_the_run_and_removes_nothing(broker: tuple[Broker, Path],
                                                                        tmp_path: Path) -> None:
    running, ca = broker
    before = running.list_acls("User:ANONYMOUS")
    result = reconcile(running, ca, tmp_path, "", "", password="wrong", tries=1)
    assert result.returncode != 0 and "Authentication failed" in result.stderr, result.stderr[-2000:]
    assert running.list_acls("User:ANONYMOUS") == before
