"""The generated nats.conf, checked by the real NATS server (`nats-server -t`), built from its Go module."""

from __future__ import annotations

import json
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
from ops.toolchain import cache_dir, go_env

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
    text = server_config(config.control.nats, accounts).replace("store_dir: /data", f"store_dir: {directory / 'data'}")
    conf.write_text(text.replace("listen: 0.0.0.0:4222", "listen: 127.0.0.1:-1").replace("http: 0.0.0.0:8222", "")
                    .replace("pid_file: /var/run/nats/nats.pid", f"pid_file: {directory / 'nats.pid'}"))
    users = [u["user"] for account in accounts.values() for u in account.users]
    return conf, {"SERVER_NAME": "nats-0", **{password_variable(u): u + u for u in users}}


class Client:
    """NATS' client protocol over a socket (nats-io docs, "Client Protocol"): enough to connect, subscribe, publish
    and read what the server says."""

    def __init__(self, port: int, user: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        assert self._line(time.monotonic() + 10).startswith("INFO ")
        options = {"user": user, "pass": user + user, "verbose": False, "pedantic": False, "protocol": 1,
                   "headers": True, "no_responders": True}
        self.send(f"CONNECT {json.dumps(options)}")
        self.sid = 0

    def send(self, line: str, payload: bytes | None = None) -> None:
        data = (line + "\r\n").encode() + (payload + b"\r\n" if payload is not None else b"")
        self.sock.sendall(data)

    def subscribe(self, subject: str) -> None:
        self.sid += 1
        self.send(f"SUB {subject} {self.sid}")

    def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        self.send(f"PUB {subject} {reply} {len(payload)}".replace("  ", " "), payload)

    def _fill(self, deadline: float) -> bool:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        self.buffer += data
        return bool(data)

    def _line(self, deadline: float) -> str:
        while b"\r\n" not in self.buffer:
            if time.monotonic() >= deadline or not self._fill(deadline):
                return ""
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def _bytes(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size + 2 and self._fill(deadline):
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
        return data

    def events(self, seconds: float) -> Iterator[tuple[str, str, bytes]]:
        """(kind, subject or error, payload) as the server sends them, for at most `seconds`."""
        self.send("PING")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = self._line(deadline)
            if not line:
                return
            if line.startswith(("MSG ", "HMSG ")):
                parts = line.split()
                size = int(parts[-1])
                body = self._bytes(size, deadline + 5)
                if line.startswith("HMSG "):
                    body = body[int(parts[-2]):]   # after the headers
                yield "MSG", parts[1], body
            elif line == "PING":
                self.send("PONG")
            elif line.startswith("-ERR"):
                yield "ERR", line, b""
            elif line == "PONG":
                yield "PONG", "", b""

    def messages(self, seconds: float = 2.0) -> list[tuple[str, str, bytes]]:
        return [event for event in self.events(seconds) if event[0] != "PONG"]

    def request(self, subject: str, payload: bytes, seconds: float = 3.0) -> list[tuple[str, str, bytes]]:
        self.sid += 1
        inbox = f"_INBOX.test.{self.sid}"
        self.send(f"SUB {inbox} {self.sid}")
        self.publish(subject, payload, inbox)
        return self.messages(seconds)


@pytest.fixture(scope="module")
def prod_server(nats_server: Path, catalog: Catalog, prod_config: StackConfig,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("nats")
    conf, env = write_config(prod_config, catalog, directory)
    conf.write_text("\n".join(line for line in conf.read_text().splitlines() if not line.startswith("cluster ")))
    ports = directory / "ports"
    ports.mkdir()
    server = subprocess.Popen([str(nats_server), "-c", str(conf), "--ports_file_dir", str(ports)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not list(ports.glob("*.ports")) and time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            time.sleep(0.1)
        (found,) = ports.glob("*.ports")
        yield int(json.loads(found.read_text())["nats"][0].rsplit(":", 1)[1])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_core_subject_crosses_only_to_the_accounts_it_is_exported_to(prod_server: int) -> None:
    identity = Client(prod_server, "identity-federation-service")
    identity.subscribe("authz.policy.changed")
    tenancy = Client(prod_server, "tenancy-organizations-service")
    tenancy.subscribe("authz.policy.changed")   # not imported by its account, and not in its permissions
    assert any(kind == "ERR" and "Permissions Violation" in text for kind, text, _ in tenancy.messages())
    assert identity.messages() == []
    policy = Client(prod_server, "authorization-policy-service")
    policy.publish("authz.policy.changed", b"reload")
    assert policy.messages() == []   # no permissions violation
    assert identity.messages() == [("MSG", "authz.policy.changed", b"reload")]
    # and a subject the publishing account does not export never reaches another account
    policy.subscribe("of.auth.tenancy.changed")
    assert any(kind == "ERR" for kind, _, _ in policy.messages())


def test_a_stream_subject_lands_in_the_stream_and_only_its_subscriber_pulls_it(prod_server: int) -> None:
    nack = Client(prod_server, "nack")   # creates what NACK would: OF_AUDIT and audit-service's durable
    stream = {"name": "OF_AUDIT", "subjects": ["of.audit.>"], "storage": "file", "retention": "limits",
              "max_msgs": 1000, "num_replicas": 1}
    assert '"error"' not in nack.request("$JS.API.STREAM.CREATE.OF_AUDIT", json.dumps(stream).encode())[0][2].decode()
    durable = {"stream_name": "OF_AUDIT", "config": {"durable_name": "audit-service", "ack_policy": "explicit",
                                                     "filter_subjects": ["of.audit.gateway"]}}
    created = nack.request("$JS.API.CONSUMER.CREATE.OF_AUDIT.audit-service", json.dumps(durable).encode())
    assert '"error"' not in created[0][2].decode(), created
    gateway = Client(prod_server, "gateway")
    (ack,) = gateway.request("of.audit.gateway", b'{"path": "/api"}')   # JetStream's acknowledgement crosses back
    assert json.loads(ack[2])["stream"] == "OF_AUDIT", ack
    audit = Client(prod_server, "audit-service")
    pulled = audit.request("$JS.API.CONSUMER.MSG.NEXT.OF_AUDIT.audit-service", b'{"batch": 1, "expires": 2000000000}')
    assert ("MSG", "of.audit.gateway", b'{"path": "/api"}') in pulled, pulled
    outsider = Client(prod_server, "app-builder-service")   # its account imports nothing of OF_AUDIT
    refused = outsider.request("$JS.API.CONSUMER.MSG.NEXT.OF_AUDIT.audit-service", b'{"batch": 1}', seconds=2)
    assert not any(kind == "MSG" and subject == "of.audit.gateway" for kind, subject, _ in refused), refused
    assert any(kind == "ERR" and "Permissions Violation" in text for kind, text, _ in refused), refused
