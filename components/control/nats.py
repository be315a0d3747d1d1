"""The NATS servers' configuration and who may do what on the control bus: the accounts, one user per control-bus
service with exactly its catalog subjects, and the client settings each service gets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from components.common.endpoints import PlatformEndpoint
from foundry.catalog import Service
from foundry.config import Nats
from foundry.labels import namespace_for, selector_labels
from foundry.streams import DurableConsumer

PLANE = "control"
NAME = "nats"
HEADLESS = "nats-headless"
CLIENT_PORT, CLUSTER_PORT, MONITOR_PORT, EXPORTER_PORT = 4222, 6222, 8222, 7777
NACK_ACCOUNT = "openfoundry-app"
NACK_SECRET = "nack-nats-user"
SERVER_PASSWORDS = "nats-server-passwords"
NATS_USER = 1000
PID_FILE = "/var/run/nats/nats.pid"
JS_API_VERBS_DENIED = ("$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
                       "$JS.API.STREAM.PURGE.>", "$JS.API.CONSUMER.CREATE.>", "$JS.API.CONSUMER.DURABLE.CREATE.>",
                       "$JS.API.CONSUMER.DELETE.>")


def nats_url() -> str:
    return f"nats://{NAME}.{namespace_for(PLANE)}.svc:{CLIENT_PORT}"


def client_secret(service: str) -> str:
    return f"nats-client-{service}"


def nats_endpoint(service: str) -> PlatformEndpoint:
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(CLIENT_PORT,), env=(("NATS_URL", nats_url()), ("NATS_INBOX_PREFIX", inbox_prefix(service))),
                            secret=client_secret(service),
                            secret_env=(("NATS_USER", "user"), ("NATS_PASSWORD", "password")))


def inbox_prefix(user: str) -> str:
    """A reply inbox of the user's own: no service can read another's replies (pulled messages, acks)."""
    return f"_INBOX_{user}"


def password_variable(user: str) -> str:
    return "NATS_PW_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def user_permissions(service: Service, consumers: Sequence[DurableConsumer]) -> dict[str, Any]:
    """Exactly the service's subjects, its own reply inbox, and pulling from and acking its own durable consumers
    (clients bind to their stream and durable by name: stream lookup by subject is not granted)."""
    mine = [c for c in consumers if c.service == service.name]
    consume = [f"$JS.API.CONSUMER.{verb}.{c.stream}.{service.name}" for c in mine for verb in ("INFO", "MSG.NEXT")]
    acks = [f"$JS.ACK.{c.stream}.{service.name}.>" for c in mine]
    return {
        "publish": {"allow": [*service.nats.publishes, *consume, *acks, "$JS.API.INFO"],
                    "deny": list(JS_API_VERBS_DENIED)},
        "subscribe": {"allow": [*service.nats.subscribes, f"{inbox_prefix(service.name)}.>"]},
    }


def server_config(nats: Nats, users: dict[str, dict[str, Any]]) -> str:
    """nats.conf: passwords are references to environment variables the pods read from a Secret."""
    servers = nats.servers
    routes = [f"nats-route://{NAME}-{i}.{HEADLESS}.{namespace_for(PLANE)}.svc.cluster.local:{CLUSTER_PORT}"
              for i in range(servers)]
    app_users: list[dict[str, Any]] = [{"user": "nack", "password": "$" + password_variable("nack")}]
    app_users += [{"user": user, "password": "$" + password_variable(user), "permissions": permissions}
                  for user, permissions in sorted(users.items())]
    lines = [
        "server_name: $SERVER_NAME",
        # lame-duck mode on stop, as the NATS chart: clients move to the other servers before this one goes
        f"pid_file: {PID_FILE}",
        "lame_duck_grace_period: 10s",
        "lame_duck_duration: 30s",
        f"listen: 0.0.0.0:{CLIENT_PORT}",
        f"http: 0.0.0.0:{MONITOR_PORT}",
        f"jetstream {{ store_dir: /data, max_file_store: {_bytes(nats.storage_size) * 9 // 10}, "
        "max_memory_store: 0 }",
        "system_account: SYS",
        "accounts " + _conf({
            "SYS": {"users": [{"user": "sys", "password": "$" + password_variable("sys")}]},
            "APP": {"jetstream": "enabled", "users": app_users},
        }),
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
    text = str(value)
    return text if text.startswith("$") and not text.startswith("$JS") else '"' + text.replace('"', '\\"') + '"'


def _bytes(quantity: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(float(quantity))
