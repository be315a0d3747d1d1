"""Who may do what on the control bus: an account graph (the seed: isolation "enforced via per-account credentials
and subject permissions configured in the JetStream account graph").

- One account per control-bus service, holding that service's one user: no service shares an account (nor a
  reply inbox) with another, so OpenFoundry's clients keep NATS' default `_INBOX.` prefix.
- A stream lives in one account (foundry/streams.py ControlBus): the account of the service whose binary ensures
  it at start (JetStream on there, with limits, for that stream alone), else STREAMS, the platform's. Each
  JetStream account has a NACK user of its own, which alone may call the JetStream API besides the binary: the
  binary's user may call exactly the verbs its contract names on its own stream and consumers.
- A subject kept by a stream is a service its account exports to the accounts of its other publishers (their
  publishes land in the stream and get JetStream's acknowledgement); each subscriber's durable consumer pushes to
  a deliver subject the stream's account exports to that subscriber's account alone, and its acks are a service
  exported to that account alone. No JetStream API call crosses accounts: on a routed cluster a consumer lookup
  through an import is answered "JetStream not enabled for account" for requests handled on another server.
- A core subject (no stream) is a stream export of its publisher's account, imported by its subscribers' accounts.
Every export names the accounts that may import it. Users keep subject permissions too (defence in depth).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from foundry.catalog import Catalog, Service
from foundry.streams import STREAMS_ACCOUNT, ControlBus, DurableConsumer, HeldStream
from foundry.upstream import Consumer

SYSTEM_ACCOUNT = "SYS"
NACK_USER = "nack"
# The JetStream API's verbs that change streams and consumers: denied to every application user, but the ones its
# binary calls on its own stream (deny overrides allow in NATS, so those are left out of its deny list).
JS_API_VERBS_DENIED = ("$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
                       "$JS.API.STREAM.PURGE.>", "$JS.API.CONSUMER.CREATE.>", "$JS.API.CONSUMER.DURABLE.CREATE.>",
                       "$JS.API.CONSUMER.DELETE.>")
# A binary that makes a consumer per session (notification-alerting: one per open websocket) may hold this many.
SESSION_CONSUMERS = 1000


def password_variable(user: str) -> str:
    return "NATS_PW_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def nack_user(account: str) -> str:
    """NACK's user in a JetStream account: `nack` in STREAMS, `nack-<service>` in a service's."""
    return NACK_USER if account == STREAMS_ACCOUNT else f"{NACK_USER}-{account}"


def jetstream_verbs(held: Sequence[HeldStream]) -> list[str]:
    """The JetStream API subjects a binary sends for the streams and consumers it holds (nats.go v1.52.0:
    CreateOrUpdateStream, CreateOrUpdateConsumer with one filter, Consume/Messages, Ack, DeleteConsumer)."""
    verbs: list[str] = []
    for stream in held:
        verbs += [f"$JS.API.STREAM.UPDATE.{stream.config.name}", f"$JS.API.STREAM.CREATE.{stream.config.name}"]
        verbs += [verb for consumer in stream.consumers for verb in _consumer_verbs(consumer)]
    return verbs


def _consumer_verbs(consumer: Consumer) -> list[str]:
    # a per-session name (`*` in the contract) is one token of the subject: any name, on that stream and filter
    durable = "*" if "*" in consumer.durable else consumer.durable
    verbs = [f"$JS.API.CONSUMER.CREATE.{consumer.stream}.{durable}.{consumer.filter}",
             f"$JS.API.CONSUMER.MSG.NEXT.{consumer.stream}.{durable}", f"$JS.ACK.{consumer.stream}.{durable}.>"]
    return verbs + ([f"$JS.API.CONSUMER.DELETE.{consumer.stream}.{durable}"] if consumer.deletes else [])


def user_permissions(service: Service, bus: ControlBus) -> dict[str, Any]:
    """Exactly the service's subjects, its durable consumers' deliveries and acks, the JetStream verbs its binary
    calls on what it holds, and its own account's inboxes."""
    mine = [c for c in bus.consumers if c.service == service.name]
    verbs = jetstream_verbs([h for h in bus.held.values() if h.service == service.name])
    core_subscribes = [s for s in service.nats.subscribes if bus.registry.stream_of(s) is None]
    return {
        "publish": {"allow": [*service.nats.publishes, *(c.ack_subjects for c in mine), *verbs],
                    "deny": [d for d in JS_API_VERBS_DENIED if not any(v.startswith(d[:-1]) for v in verbs)]},
        "subscribe": {"allow": [*core_subscribes, *(c.deliver_subject for c in mine), "_INBOX.>"]},
    }


@dataclass
class Account:
    users: list[dict[str, Any]]
    jetstream: dict[str, int] | bool = False     # True: enabled without limits; limits: enabled within them
    exports: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)

    def conf(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.jetstream:
            body["jetstream"] = self.jetstream if isinstance(self.jetstream, dict) else "enabled"
        body["users"] = self.users
        if self.exports:
            body["exports"] = self.exports
        if self.imports:
            body["imports"] = self.imports
        return body


def _user(name: str, permissions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"user": name, "password": "$" + password_variable(name), **({"permissions": permissions} if permissions else {})}


def _nack_permissions() -> dict[str, Any]:
    """NACK manages streams and consumers through the JetStream API; it publishes and reads nothing else."""
    return {"publish": {"allow": ["$JS.API.>"]}, "subscribe": {"allow": ["_INBOX.>"]}}


def jetstream_limits(held: Sequence[HeldStream], consumers: Sequence[DurableConsumer], file_bytes: int) -> dict[str, int]:
    """A service's JetStream: its streams, its own consumers and the platform's on its streams, its share of the
    store, no memory storage (its binaries ask for file storage)."""
    own = sum(SESSION_CONSUMERS if "*" in c.durable else 1 for h in held for c in h.consumers)
    return {"max_memory": 0, "max_file": file_bytes, "max_streams": len(held),
            "max_consumers": own + len(consumers)}


def account_graph(catalog: Catalog, bus: ControlBus, file_store_bytes: int) -> dict[str, Account]:
    """SYS, STREAMS and one account per control-bus service, with the exports and imports the catalog implies; each
    service account holding a stream gets JetStream within a share of the servers' file store."""
    services = [s for s in catalog.services if s.uses_nats]
    homes = sorted({h.service for h in bus.held.values()})
    share = file_store_bytes // (len(homes) + 1)    # the other share is STREAMS'
    accounts = {SYSTEM_ACCOUNT: Account(users=[_user("sys")]),
                STREAMS_ACCOUNT: Account(users=[_user(NACK_USER, _nack_permissions())], jetstream=True)}
    for service in services:
        accounts[service.name] = Account(users=[_user(service.name, user_permissions(service, bus))])
    for home in homes:
        held = [h for h in bus.held.values() if h.service == home]
        accounts[home].users.append(_user(nack_user(home), _nack_permissions()))
        accounts[home].jetstream = jetstream_limits(held, [c for c in bus.consumers if c.home == home], share)
    _publish_routes(services, bus, accounts)
    _consumer_routes(bus, accounts)
    return accounts


def _publish_routes(services: Sequence[Service], bus: ControlBus, accounts: dict[str, Account]) -> None:
    for service in services:
        for subject in service.nats.publishes:
            home = bus.home_of(subject)
            if home == service.name:
                continue
            if home is not None:
                accounts[home].exports.append({"service": subject, "accounts": [service.name]})
                accounts[service.name].imports.append({"service": {"account": home, "subject": subject}})
                continue
            readers = sorted(s.name for s in services if subject in s.nats.subscribes)
            if readers:
                accounts[service.name].exports.append({"stream": subject, "accounts": readers})
            for reader in readers:
                accounts[reader].imports.append({"stream": {"account": service.name, "subject": subject}})


def _consumer_routes(bus: ControlBus, accounts: dict[str, Account]) -> None:
    """JetStream pushes into the subscriber's account; its acks come back as a service of the stream's account."""
    for consumer in bus.consumers:
        if consumer.home == consumer.service:
            continue
        home, reader = accounts[consumer.home], accounts[consumer.service]
        home.exports.append({"stream": consumer.deliver_subject, "accounts": [consumer.service]})
        reader.imports.append({"stream": {"account": consumer.home, "subject": consumer.deliver_subject}})
        home.exports.append({"service": consumer.ack_subjects, "accounts": [consumer.service]})
        reader.imports.append({"service": {"account": consumer.home, "subject": consumer.ack_subjects}})
