"""The generated nats.conf, checked by the real NATS server built from its Go module: `nats-server -t` on every
stack's config, then prod's account graph on three routed servers, with clients of different accounts on each."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.control.nats import account_graph, password_variable, server_config
from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import durable_consumers, load_streams
from ops.engine.toolchain import cache_dir, go_env
from tests.natsclient import Client, Event

pytestmark = pytest.mark.engine

WRAPPER = Path(__file__).resolve().parent / "nats-server"


@pytest.fixture(scope="module")
def nats_server() -> Path:
    binary = cache_dir() / "nats-server-v2.12.1"
    if not binary.exists():
        subprocess.run(["go", "build", "-o", str(binary), "github.com/nats-io/nats-server/v2"], cwd=WRAPPER,
                       env=go_env(), check=True, capture_output=True, timeout=900)
    return binary


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_server_accepts_the_generated_config(stack: str, nats_server: Path, catalog: Catalog, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    config: StackConfig = request.getfixturevalue(f"{stack}_config")
    conf, env = write_config(config, catalog, tmp_path)
    result = subprocess.run([str(nats_server), "-c", str(conf), "-t"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    missing = {**env}
    missing.pop(password_variable("auth-service"))
    broken = subprocess.run([str(nats_server), "-c", str(conf), "-t"], env=missing, capture_output=True, text=True,
                            timeout=60)
    assert broken.returncode != 0  # an unresolved password variable is refused, not taken literally


def write_config(config: StackConfig, catalog: Catalog, directory: Path) -> tuple[Path, dict[str, str]]:
    """The program's nats.conf for the stack, its store in `directory`, and a password per user (the user's name twice)."""
    streams = load_streams()
    accounts = account_graph(catalog, streams, durable_consumers(streams, catalog))
    conf = directory / "nats.conf"
    conf.write_text(server_config(config.control.nats, accounts).replace("store_dir: /data", f"store_dir: {directory / 'data'}"))
    users = [u["user"] for account in accounts.values() for u in account.users]
    return conf, {"SERVER_NAME": "nats-0", **{password_variable(u): u + u for u in users}}


def local_cluster_config(text: str, index: int, route_ports: list[int], directory: Path) -> str:
    """One of prod's servers on this machine: its own store, client port and pid file, routes to the others."""
    routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in route_ports)
    text = re.sub(r"store_dir: [^,]+", f"store_dir: {directory / f'data-{index}'}", text)
    text = text.replace("listen: 0.0.0.0:4222", "listen: 127.0.0.1:-1").replace("http: 0.0.0.0:8222\n", "")
    text = text.replace("pid_file: /var/run/nats/nats.pid", f"pid_file: {directory / f'nats-{index}.pid'}")
    return re.sub(r"^cluster .*$", f'cluster {{ name: "openfoundry", listen: "127.0.0.1:{route_ports[index]}", '
                  f"routes: [ {routes} ] }}", text, flags=re.M)


@pytest.fixture(scope="module")
def prod_cluster(nats_server: Path, catalog: Catalog, prod_config: StackConfig,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Prod's nats.conf on three routed servers (JetStream clustered, R3 streams as in prod): their client ports."""
    directory = tmp_path_factory.mktemp("nats")
    conf, env = write_config(prod_config, catalog, directory)
    route_ports = free_ports(3)
    servers = []
    try:
        for index in range(3):
            ports = directory / f"ports-{index}"
            ports.mkdir()
            config = directory / f"nats-{index}.conf"
            config.write_text(local_cluster_config(conf.read_text(), index, route_ports, directory))
            log = (directory / f"nats-{index}.log").open("wb")
            servers.append((subprocess.Popen([str(nats_server), "-c", str(config), "--ports_file_dir", str(ports)],
                                             env={**env, "SERVER_NAME": f"nats-{index}"}, stdout=log,
                                             stderr=subprocess.STDOUT), ports))
        client_ports = [wait_for_port(server, ports) for server, ports in servers]
        wait_for_jetstream(client_ports[0])
        yield client_ports
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(timeout=30)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def wait_for_port(server: subprocess.Popen[bytes], ports: Path) -> int:
    deadline = time.monotonic() + 30
    while not list(ports.glob("*.ports")):
        log = ports.parent / f"nats-{ports.name.rsplit('-', 1)[1]}.log"
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    (found,) = ports.glob("*.ports")
    return int(json.loads(found.read_text())["nats"][0].rsplit(":", 1)[1])


def wait_for_jetstream(port: int) -> None:
    """Until the three servers have elected JetStream's meta leader (STREAMS' account info answers)."""
    nack = Client(port, "nack")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = nack.request("$JS.API.INFO", b"")
        if answer and b'"error"' not in answer[0].payload:
            return
        time.sleep(0.5)
    raise AssertionError("JetStream did not form on the three servers")


def test_a_core_subject_crosses_only_to_the_accounts_it_is_exported_to(prod_cluster: list[int]) -> None:
    identity = Client(prod_cluster[0], "identity-federation-service")
    identity.subscribe("authz.policy.changed")
    # NACK's user has no subject permissions at all: only its account (STREAMS, which imports no core subject) keeps
    # the signal from it, so what this shows is the account graph, not a user's permissions
    unrestricted = Client(prod_cluster[1], "nack")
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
        prod_cluster: list[int]) -> None:
    nack = Client(prod_cluster[0], "nack")   # creates what NACK would: OF_AUDIT (R3) and audit-service's durable
    stream = {"name": "OF_AUDIT", "subjects": ["of.audit.>"], "storage": "file", "retention": "limits",
              "max_msgs": 1000, "num_replicas": 3}
    (created,) = nack.request("$JS.API.STREAM.CREATE.OF_AUDIT", json.dumps(stream).encode(), seconds=10)
    assert b'"error"' not in created.payload, created
    durable = {"stream_name": "OF_AUDIT", "config": {
        "durable_name": "audit-service", "ack_policy": "explicit", "deliver_subject": "deliver.OF_AUDIT.audit-service",
        "deliver_group": "audit-service",   # as components/control/plane.py registers it
        "filter_subjects": ["of.audit.gateway"], "ack_wait": 30_000_000_000, "num_replicas": 3}}
    (created,) = nack.request("$JS.API.CONSUMER.CREATE.OF_AUDIT.audit-service", json.dumps(durable).encode(), seconds=10)
    assert b'"error"' not in created.payload, created
    outsider = Client(prod_cluster[1], "app-builder-service")   # its account imports nothing of OF_AUDIT
    outsider.subscribe("deliver.OF_AUDIT.audit-service")
    assert any(e.kind == "ERR" and "Permissions Violation" in e.subject for e in outsider.messages())
    replicas = [Client(port, "audit-service") for port in prod_cluster]   # a replica on each server
    for replica in replicas:
        replica.subscribe("deliver.OF_AUDIT.audit-service", queue="audit-service")   # one queue group
        assert replica.messages(1) == []
    bodies = []
    for index, port in enumerate(prod_cluster):
        gateway = Client(port, "gateway")
        bodies.append(json.dumps({"path": "/api", "n": index}).encode())
        (ack,) = gateway.request("of.audit.gateway", bodies[-1])   # JetStream's acknowledgement crosses back
        assert json.loads(ack.payload)["stream"] == "OF_AUDIT", ack
    delivered: list[tuple[Client, Event]] = []
    deadline = time.monotonic() + 20
    while len(delivered) < len(bodies) and time.monotonic() < deadline:
        delivered += [(r, e) for r in replicas for e in r.messages(1) if e.kind == "MSG"]
    assert sorted(e.payload for _, e in delivered) == sorted(bodies)   # each once, to one replica of the group
    assert {e.subject for _, e in delivered} == {"of.audit.gateway"}
    for replica, event in delivered:
        replica.publish(event.reply, b"+ACK")   # the ack, through the import of STREAMS' ack service
        assert replica.messages(1) == []
    (info,) = nack.request("$JS.API.CONSUMER.INFO.OF_AUDIT.audit-service", b"", seconds=5)
    state = json.loads(info.payload)
    assert (state["delivered"]["stream_seq"], state["ack_floor"]["stream_seq"], state["num_ack_pending"]) == (3, 3, 0)
    assert state["num_redelivered"] == 0
    assert [e for e in outsider.messages(1) if e.kind == "MSG"] == []
