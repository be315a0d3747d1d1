"""Notes on a binary beyond its verdict: a bus this boot has no server for, a variable the binary reads that only
the kubelet's service links set, and whether the JetStream streams and consumers its contract names exist where
its NATS user can reach them (read from the servers' monitoring endpoint after the watch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from foundry.upstream import Binary
from ops.boot.jetstream import Holdings
from ops.boot.kafka import NO_BROKER
from ops.boot.pods import PodRun

REFUSED = "Permissions Violation"      # nats.go's text for a subject the user's permissions deny


@dataclass(frozen=True)
class Offered:
    """What the boot offered beyond Postgres: a Kafka broker or not, and what the NATS servers held after the watch
    (None: not read)."""

    kafka: bool
    held: Holdings | None
    groups: dict[str, str] | None = None     # the broker's consumer groups and their states after the watch


def binary_notes(binary: Binary, run: PodRun, offered: Offered, lines: Sequence[str]) -> list[str]:
    notes = []
    if binary.kafka and not offered.kafka:
        notes.append(NO_BROKER)
    if binary.kafka and offered.groups is not None:
        notes += [f"Kafka group {c.group}: {offered.groups.get(c.group, 'never joined')}"
                  for c in binary.kafka.consumes if c.group]
    notes += shadowing_links(binary, run)
    if binary.nats and (binary.nats.streams or binary.nats.consumers) and offered.held is not None:
        notes += jetstream_notes(binary, run, offered.held)
    if binary.nats:
        notes += [f"NATS refused it: {line.strip()}" for line in lines if REFUSED in line][:1]
    return notes


def shadowing_links(binary: Binary, run: PodRun) -> list[str]:
    """Variables the binary reads that the container leaves unset but a Service link sets (enableServiceLinks)."""
    read = {name for variable in binary.env for name in variable.names}
    return [f"{name}={run.env[name]} comes from a Service link (the kubelet), and the binary reads {name}"
            for name in run.linked if name in read]


def jetstream_notes(binary: Binary, run: PodRun, held: Holdings) -> list[str]:
    assert binary.nats is not None
    if not run.env.get(binary.nats.url_env):
        return [f"JetStream: {binary.nats.url_env} unset, so the binary does not reach NATS"]
    user = urlsplit(run.env[binary.nats.url_env]).username or ""
    accounts = held.accounts.get(user, set())
    own = f"its user {user} in account {', '.join(sorted(accounts))}" if accounts else \
        f"its user {user or '(none)'} never connected"
    notes = [f"JetStream ({own}): " + "; ".join(
        [_where(f"stream {s.name}", held.streams.get(s.name, set()), accounts) for s in binary.nats.streams]
        + [_consumer(c.stream, c.durable, held, accounts) for c in binary.nats.consumers])]
    return notes


def _consumer(stream: str, durable: str, held: Holdings, accounts: set[str]) -> str:
    if "*" in durable:
        return f"consumer {durable}: made per session, not checked"
    return _where(f"consumer {stream}/{durable}", held.consumers.get(f"{stream}/{durable}", set()), accounts)


def _where(what: str, holders: set[str], accounts: set[str]) -> str:
    if not holders:
        return f"{what} missing"
    where = f"{what} in account {', '.join(sorted(holders))}"
    return where if not accounts or holders & accounts else f"{where}, not the binary's"
