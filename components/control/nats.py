"""The NATS servers' configuration and how a service reaches them; who may do what is the account graph
(components/control/accounts.py)."""

from __future__ import annotations

from typing import Any

from components.common.endpoints import PlatformEndpoint
from components.control.accounts import SYSTEM_ACCOUNT, Account
from foundry.config import Nats
from foundry.labels import namespace_for, selector_labels

PLANE = "control"
NAME = "nats"
HEADLESS = "nats-headless"
CLIENT_PORT, CLUSTER_PORT, MONITOR_PORT, EXPORTER_PORT = 4222, 6222, 8222, 7777
SERVER_PASSWORDS = "nats-server-passwords"
NATS_USER = 1000
PID_FILE = "/var/run/nats/nats.pid"


def nats_url() -> str:
    return f"nats://{NAME}.{namespace_for(PLANE)}.svc:{CLIENT_PORT}"


def client_secret(service: str) -> str:
    return f"nats-client-{service}"


def nats_endpoint(service: str) -> PlatformEndpoint:
    """OpenFoundry's binaries read only NATS_URL (of:libs/event-bus-control Connect): the credentials go in it, composed
    by Kubernetes from the Secret's variables defined before it (passwords are letters and digits)."""
    host = f"{NAME}.{namespace_for(PLANE)}.svc:{CLIENT_PORT}"
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(CLIENT_PORT,), env=(), secret=client_secret(service),
                            secret_env=(("NATS_USER", "user"), ("NATS_PASSWORD", "password")),
                            composed=(("NATS_URL", f"nats://$(NATS_USER):$(NATS_PASSWORD)@{host}"),))


def server_config(nats: Nats, accounts: dict[str, Account]) -> str:
    """nats.conf: passwords are references to environment variables the pods read from a Secret."""
    servers = nats.servers
    routes = [f"nats-route://{NAME}-{i}.{HEADLESS}.{namespace_for(PLANE)}.svc.cluster.local:{CLUSTER_PORT}"
              for i in range(servers)]
    lines = [
        "server_name: $SERVER_NAME",
        # lame-duck mode on stop, as the NATS chart: clients move to the other servers before this one goes
        f"pid_file: {PID_FILE}",
        "lame_duck_grace_period: 10s",
        "lame_duck_duration: 30s",
        f"listen: 0.0.0.0:{CLIENT_PORT}",
        f"http: 0.0.0.0:{MONITOR_PORT}",
        f"jetstream {{ store_dir: /data, max_file_store: {file_store_bytes(nats)}, max_memory_store: 0 }}",
        f"system_account: {SYSTEM_ACCOUNT}",
        "accounts " + _conf({name: account.conf() for name, account in accounts.items()}),
    ]
    if servers > 1:
        lines.append("cluster " + _conf({"name": "openfoundry", "listen": f"0.0.0.0:{CLUSTER_PORT}", "routes": routes}))
    return "\n".join(lines) + "\n"


def _conf(value: Any) -> str:
    """NATS config syntax: maps and lists like JSON; `$NAME` values stay unquoted variable references."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k}: {_conf(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[ " + ", ".join(_conf(v) for v in value) + " ]"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return text if text.startswith("$") and not text.startswith("$JS") else '"' + text.replace('"', '\\"') + '"'


def file_store_bytes(nats: Nats) -> int:
    """JetStream's file store: nine tenths of each server's volume (room for the store's own files)."""
    return _bytes(nats.storage_size) * 9 // 10


def _bytes(quantity: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(float(quantity))
