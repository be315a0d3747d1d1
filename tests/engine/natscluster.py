"""The real NATS server, built from its Go module, run on the program's nats.conf: one server to check a config,
prod's three routed servers (JetStream clustered, as in prod) for the account graph and the JetStream callers."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.control.accounts import account_graph, password_variable
from components.control.nats import file_store_bytes, server_config
from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import ControlBus, binary_reads, durable_consumers, load_streams
from foundry.upstream import load_contracts
from ops.engine.toolchain import cache_dir, go_env
from tests.natsclient import Client

WRAPPER = Path(__file__).resolve().parent / "nats-server"


def build_nats_server() -> Path:
    binary = cache_dir() / "nats-server-v2.12.1"
    if not binary.exists():
        subprocess.run(["go", "build", "-o", str(binary), "github.com/nats-io/nats-server/v2"], cwd=WRAPPER,
                       env=go_env(), check=True, capture_output=True, timeout=900)
    return binary


def write_config(config: StackConfig, catalog: Catalog, directory: Path,
                 reads: dict[str, set[str]] | None = None) -> tuple[Path, dict[str, str]]:
    """The program's nats.conf for the stack, its store in `directory`, and a password per user (the user's name twice).
    `reads`: subjects to take as read by a service's binary, beyond its contract's (the platform then keeps it a
    consumer), to exercise the consumer graph where no binary at the pin reads one."""
    bus = ControlBus.of(load_streams(), catalog, load_contracts())
    if reads:
        streams = load_streams()
        bus = ControlBus(streams, bus.held, durable_consumers(streams, catalog, bus.held, {
            **binary_reads(catalog, load_contracts()), **reads}))
    accounts = account_graph(catalog, bus, file_store_bytes(config.control.nats))
    conf = directory / "nats.conf"
    conf.write_text(server_config(config.control.nats, accounts).replace("store_dir: /data",
                                                                          f"store_dir: {directory / 'data'}"))
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


@contextmanager
def prod_servers(nats_server: Path, catalog: Catalog, config: StackConfig, directory: Path,
                 reads: dict[str, set[str]] | None = None) -> Iterator[list[int]]:
    """Prod's nats.conf on three routed servers: their client ports, once JetStream has its meta leader."""
    conf, env = write_config(config, catalog, directory, reads)
    route_ports = free_ports(3)
    servers = []
    try:
        for index in range(3):
            ports = directory / f"ports-{index}"
            ports.mkdir()
            server_conf = directory / f"nats-{index}.conf"
            server_conf.write_text(local_cluster_config(conf.read_text(), index, route_ports, directory))
            log = (directory / f"nats-{index}.log").open("wb")
            servers.append((subprocess.Popen([str(nats_server), "-c", str(server_conf), "--ports_file_dir", str(ports)],
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
        answer = nack.ask("$JS.API.INFO", b"")
        if answer and b'"error"' not in answer.payload:
            return
        time.sleep(0.5)
    raise AssertionError("JetStream did not form on the three servers")
