"""The gateway's one address for the Valkey primary (components/edge/primary.py), run for real: Debian's HAProxy on
the generated haproxy.cfg in front of two Redis-protocol servers (Debian's redis-server: Valkey's protocol and its
`INFO replication`), through a failover as the Sentinels make it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.edge.primary import haproxy_config
from ops.engine.tools import ensure
from tests.engine.natscluster import free_ports

pytestmark = pytest.mark.engine

PASSWORD = "s3cretvalkey"


class Connection:
    """Enough RESP to send inline commands and read one reply line (or a bulk reply's body)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def command(self, *words: str) -> str:
        self.sock.sendall((" ".join(words) + "\r\n").encode())
        line = self.file.readline().decode().rstrip("\r\n")
        if line.startswith("$") and line != "$-1":
            body = self.file.read(int(line[1:]) + 2)
            return body.decode()
        return line

    def closed(self, seconds: float) -> bool:
        """The proxy ended the session: the next read sees the end of the stream."""
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            return False


def serving_port(port: int) -> int:
    """Which server the proxy put this new session through to (its `INFO server` tcp_port)."""
    connection = Connection(port)
    assert connection.command("AUTH", PASSWORD) == "+OK"
    info = connection.command("INFO", "server")
    return int(next(line for line in info.splitlines() if line.startswith("tcp_port:")).split(":")[1])


def ready(monitor: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/ready", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError:   # not listening yet
        return 0


def wait_for(condition: object, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[int, int, int, int]]:
    """Two servers, the second replicating the first, and HAProxy before them: their ports, the proxy's, its monitor's."""
    redis, haproxy = ensure("redis-server"), ensure("haproxy")
    first, second, proxy, monitor = free_ports(4)
    processes = []
    try:
        for port, primary in ((first, None), (second, first)):
            args = [redis, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--masterauth",
                    PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
            processes.append(subprocess.Popen([*args, *(["--replicaof", "127.0.0.1", str(primary)] if primary else [])],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        config = tmp_path / "haproxy.cfg"
        config.write_text(haproxy_config([("valkey-0", f"127.0.0.1:{first}"), ("valkey-1", f"127.0.0.1:{second}")],
                                         proxy, monitor))
        env = {"VALKEY_PASSWORD": PASSWORD, "PATH": "/usr/sbin:/usr/bin:/bin"}
        check = subprocess.run([haproxy, "-c", "-f", str(config)], env=env, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        processes.append(subprocess.Popen([haproxy, "-W", "-db", "-f", str(config)], env=env,
                                          stdout=(tmp_path / "haproxy.log").open("wb"), stderr=subprocess.STDOUT))
        assert wait_for(lambda: ready(monitor) == 200), (tmp_path / "haproxy.log").read_text()[-2000:]
        yield first, second, proxy, monitor
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def test_the_proxy_follows_the_primary_through_a_failover(servers: tuple[int, int, int, int]) -> None:
    first, second, proxy, monitor = servers
    assert serving_port(proxy) == first
    session = Connection(proxy)
    assert session.command("AUTH", PASSWORD) == "+OK" and session.command("SET", "bucket", "1") == "+OK"
    assert session.command("WAIT", "1", "5000") == ":1"   # the replica has it before the failover
    # the Sentinels' failover: the replica is promoted, the old primary follows it
    promoted, demoted = Connection(second), Connection(first)
    for connection in (promoted, demoted):
        assert connection.command("AUTH", PASSWORD) == "+OK"
    assert promoted.command("REPLICAOF", "NO", "ONE") == "+OK"
    assert demoted.command("REPLICAOF", "127.0.0.1", str(second)).startswith("+OK")
    assert session.closed(10)   # the session on the demoted primary is ended, so the client reconnects
    assert wait_for(lambda: serving_port(proxy) == second)
    writer = Connection(proxy)
    assert writer.command("AUTH", PASSWORD) == "+OK" and writer.command("INCR", "bucket") == ":2"


def test_the_proxy_is_ready_only_with_exactly_one_primary(servers: tuple[int, int, int, int]) -> None:
    """Every server a replica, or two primaries (a partition): no one primary to send a write to, so the proxy's pods
    leave the Service."""
    first, second, _, monitor = servers
    primary, replica = Connection(first), Connection(second)
    for connection in (primary, replica):
        assert connection.command("AUTH", PASSWORD) == "+OK"
    assert replica.command("REPLICAOF", "NO", "ONE") == "+OK"
    assert wait_for(lambda: ready(monitor) == 503)
    assert primary.command("REPLICAOF", "127.0.0.1", str(second)).startswith("+OK")
    assert wait_for(lambda: ready(monitor) == 200)
    assert replica.command("REPLICAOF", "127.0.0.1", str(first)).startswith("+OK")
    assert wait_for(lambda: ready(monitor) == 503)
