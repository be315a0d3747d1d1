"""The NATS servers' configuration and who may do what on the control bus: an account graph (the seed: isolation
"enforced via per-account credentials and subject permissions configured in the JetStream account graph").

- One account per control-bus service, holding that service's one user: no service shares an account (nor a
  reply inbox) with another, so OpenFoundry's clients keep NATS' default `_INBOX.` prefix.
- STREAMS holds JetStream: the registry's streams and durable consumers, created by NACK's user.
  A subject kept by a stream is a service STREAMS exports to its publishers' accounts (their publishes land in the
  stream and get JetStream's acknowledgement); each subscriber's durable consumer pushes to a deliver subject that
  STREAMS exports to that subscriber's account alone, and its acks are a service of STREAMS for that account alone.
  No JetStream API call crosses accounts: on a routed cluster a consumer lookup through an import is answered
  "JetStream not enabled for account" for requests handled on another server (docs/control.md).
- A core subject (no stream) is a stream export of its publisher's account, imported by its subscribers' accounts.
Every export names the accounts that may import it. Users keep subject permissions too (defence in depth).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components.common.endpoints import PlatformEndpoint
from foundry.catalog import Catalog, Service
from foundry.config import Nats
from foundry.labels import namespace_for, selector_labels
from foundry.streams import DurableConsumer, StreamRegistry

PLANE = "control"
NAME = "nats"
HEADLESS = "nats-headless"
CLIENT_PORT, CLUSTER_PORT, MONITOR_PORT, EXPORTER_PORT = 4222, 6222, 8222, 7777
NACK_ACCOUNT = "openfoundry-app"     # NACK's Account resource (its connection), not a NATS account
STREAMS_ACCOUNT = "STREAMS"
SYSTEM_ACCOUNT = "SYS"
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
    """OpenFoundry's binaries read only NATS_URL (of:libs/event-bus-control Connect): the credentials go in it, composed
    by Kubernetes from the Secret's variables defined before it (passwords are letters and digits)."""
    host = f"{NAME}.{namespace_for(PLANE)}.svc:{CLIENT_PORT}"
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(CLIENT_PORT,), env=(), secret=client_secret(service),
                            secret_env=(("NATS_USER", "user"), ("NATS_PASSWORD", "password")),
                            composed=(("NATS_URL", f"nats://$(NATS_USER):$(NATS_PASSWORD)@{host}"),))


def password_variable(user: str) -> str:
    return "NATS_PW_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def user_permissions(service: Service, consumers: Sequence[DurableConsumer], streams: StreamRegistry) -> dict[str, Any]:
    """Exactly the service's subjects, its durable consumers' deliveries and acks, and its own account's inboxes."""
    mine = [c for c in consumers if c.service == service.name]
    core_subscribes = [s for s in service.nats.subscribes if streams.stream_of(s) is None]
    return {
        "publish": {"allow": [*service.nats.publishes, *(c.ack_subjects for c in mine)],
                    "deny": list(JS_API_VERBS_DENIED)},
        "subscribe": {"allow": [*core_subscribes, *(c.deliver_subject for c in mine), "_INBOX.>"]},
    }


@dataclass
class Account:
    users: list[dict[str, Any]]
    jetstream: bool = False
    exports: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)

    def conf(self) -> dict[str, Any]:
        body: dict[str, Any] = {"jetstream": "enabled"} if self.jetstream else {}
        body["users"] = self.users
        if self.exports:
            body["exports"] = self.exports
        if self.imports:
            body["imports"] = self.imports
        return body


def account_graph(catalog: Catalog, streams: StreamRegistry, consumers: Sequence[DurableConsumer]) -> dict[str, Account]:
    """SYS, STREAMS and one account per control-bus service, with the exports and imports the catalog implies."""
    services = [s for s in catalog.services if s.uses_nats]
    hub = Account(users=[{"user": "nack", "password": "$" + password_variable("nack")}], jetstream=True)
    accounts = {SYSTEM_ACCOUNT: Account(users=[{"user": "sys", "password": "$" + password_variable("sys")}]),
                STREAMS_ACCOUNT: hub}
    for service in services:
        accounts[service.name] = Account(users=[{"user": service.name, "password": "$" + password_variable(service.name),
                                                 "permissions": user_permissions(service, consumers, streams)}])
    for service in services:
        for subject in service.nats.publishes:
            if streams.stream_of(subject) is not None:
                hub.exports.append({"service": subject, "accounts": [service.name]})
                accounts[service.name].imports.append({"service": {"account": STREAMS_ACCOUNT, "subject": subject}})
                continue
            readers = sorted(s.name for s in services if subject in s.nats.subscribes)
            if readers:
                accounts[service.name].exports.append({"stream": subject, "accounts": readers})
            for reader in readers:
                accounts[reader].imports.append({"stream": {"account": service.name, "subject": subject}})
    for consumer in consumers:
        # JetStream pushes into the subscriber's account; its acks come back as a service of STREAMS
        hub.exports.append({"stream": consumer.deliver_subject, "accounts": [consumer.service]})
        accounts[consumer.service].imports.append(
            {"stream": {"account": STREAMS_ACCOUNT, "subject": consumer.deliver_subject}})
        hub.exports.append({"service": consumer.ack_subjects, "accounts": [consumer.service]})
        accounts[consumer.service].imports.append(
            {"service": {"account": STREAMS_ACCOUNT, "subject": consumer.ack_subjects}})
    return accounts


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
        f"jetstream {{ store_dir: /data, max_file_store: {_bytes(nats.storage_size) * 9 // 10}, "
        "max_memory_store: 0 }",
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
    text = str(value)
    return text if text.startswith("$") and not text.startswith("$JS") else '"' + text.replace('"', '\\"') + '"'


def _bytes(quantity: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(float(quantity))
