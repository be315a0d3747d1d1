"""The real servers the binaries dial at start-up, started before them, and the host names that reach them:
Postgres (ops/boot/postgres.py) for every CloudNativePG Cluster and Pooler, Redis for the contracts' `redis`
stores, NATS (ops/boot/nats.py) with NACK's streams and consumers (ops/boot/jetstream.py), Kafka when there is a
broker (ops/boot/kafka.py), Cassandra when there is an operational store (ops/boot/cassandra.py). The
operators' objects they imply are added to the render first (ops/boot/operators.py).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from foundry.upstream import Binary
from ops.boot.cassandra import cassandra_server
from ops.boot.certs import Pair, certificate_authority, server_certificate
from ops.boot.jetstream import apply_resources
from ops.boot.kafka import KafkaBroker, kafka_broker
from ops.boot.nats import NatsServers, start_nats
from ops.boot.operators import (
    add_cnpg_secrets,
    add_trust_bundles,
    new_password,
    pg_clusters,
    pg_databases,
    postgres_names,
)
from ops.boot.pods import PodRun
from ops.boot.postgres import postgres_server
from ops.boot.redis import RedisTarget, redis_server, redis_target
from ops.boot.rendered import Rendered, names_of_host
from ops.boot.sandbox import Network

HOST = re.compile(r"(?<![A-Za-z0-9.-])([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+)(?=[:/]|$)")


@dataclass
class StandIns:
    """What the servers offer the binaries: host names (nats rotated over its servers) and notes."""

    hosts: dict[str, str] = field(default_factory=dict)
    nats_names: list[str] = field(default_factory=list)
    nats: NatsServers = field(default_factory=NatsServers)
    kafka: KafkaBroker | None = None
    notes: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)          # NACK stand-in's outcome per resource
    seconds: float = 0.0

    def hosts_for(self, index: int) -> dict[str, str]:
        """The hosts map of the index-th binary: its NATS client name goes to each server in turn."""
        servers = list(self.nats.addresses.values())
        rotated = {name: servers[index % len(servers)] for name in self.nats_names} if servers else {}
        return {**self.hosts, **rotated}


@dataclass(frozen=True)
class Dialed:
    """A binary's resolved pod and its contract: what it will dial."""

    run: PodRun
    binary: Binary


@dataclass(frozen=True)
class Issued:
    """What the stand-in operators issued: the Postgres server certificate, the platform CA (the trust bundles'),
    each database owner's password, notes."""

    postgres: Pair
    platform_ca: Pair
    passwords: dict[str, str]
    notes: list[str]


def add_operator_objects(rendered: Rendered, directory: Path) -> Issued:
    """CloudNativePG's Secrets and trust-manager's ConfigMaps, with this boot's CAs and passwords."""
    pg_ca = certificate_authority(directory, "cnpg-ca", "CloudNativePG cluster CA (make boot)")
    platform_ca = certificate_authority(directory, "platform-ca", "OpenFoundry internal CA (make boot)")
    clusters = pg_clusters(rendered)
    names = [name for cluster in clusters for name in cluster.certificate_names]
    server = server_certificate(pg_ca, directory, "postgres-server", names or ["postgres"])
    passwords = {owner: new_password() for owner in sorted({c.owner for c in clusters}
                                                          | {d.owner for d in pg_databases(rendered)})}
    add_cnpg_secrets(rendered, clusters, passwords, pg_ca.pem)
    bundles = add_trust_bundles(rendered, platform_ca.pem)
    return Issued(server, platform_ca, passwords, [f"trust-manager bundle ConfigMaps: {len(bundles)}"] if bundles else [])


def hosts_in(value: str) -> list[str]:
    return [match[0] for match in HOST.findall(value)]


def uncovered_postgres_hosts(dialed: Sequence[Dialed], rendered: Rendered) -> list[str]:
    """Postgres names a pod dials that CloudNativePG's server certificate does not hold (verify-full would fail)."""
    known, covered = set(postgres_names(rendered)), {n for c in pg_clusters(rendered) for n in c.certificate_names}
    hosts = {host for d in dialed for value in d.run.env.values() for host in hosts_in(value) if host in known}
    return sorted(hosts - covered)


def redis_targets(dialed: Sequence[Dialed]) -> list[RedisTarget]:
    found = []
    for d in dialed:
        for store in d.binary.stores:
            target = redis_target(d.run.env.get(store.env, "")) if store.kind == "redis" else None
            if target is not None:
                found.append(target)
    return found


def nats_client_names(dialed: Sequence[Dialed]) -> list[str]:
    names = []
    for d in dialed:
        url = d.run.env.get(d.binary.nats.url_env, "") if d.binary.nats else ""
        for server in url.split(","):
            host = urlsplit(server.strip()).hostname if "://" in server else None
            names += names_of_host(host) if host else []
    return list(dict.fromkeys(names))


@contextlib.contextmanager
def stand_ins(rendered: Rendered, network: Network, dialed: Sequence[Dialed], issued: Issued) -> Iterator[StandIns]:
    """Every server started (Postgres, Redis, Kafka, Cassandra, NATS with NACK's resources); stopped on the way out."""
    began = time.monotonic()
    offered = StandIns()
    offered.notes += [f"{host}: dialed for Postgres, but CloudNativePG's server certificate does not name it"
                      for host in uncovered_postgres_hosts(dialed, rendered)]
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(postgres_server(network.gateway, issued.postgres, pg_clusters(rendered),
                                                       pg_databases(rendered), issued.passwords))
        offered.notes += postgres.notes
        offered.hosts.update({name: network.gateway for name in postgres_names(rendered)})
        targets = redis_targets(dialed)
        offered.notes += stack.enter_context(redis_server(network.gateway, targets))
        offered.hosts.update({name: network.gateway for t in targets for name in names_of_host(t.host)})
        broker = stack.enter_context(kafka_broker(rendered, network, issued.platform_ca))
        offered.kafka = broker
        offered.hosts.update(broker.hosts if broker else {})
        offered.notes += list(broker.notes) if broker else []
        store = stack.enter_context(cassandra_server(rendered, network.gateway))
        offered.hosts.update(store.hosts)
        offered.notes += store.notes
        offered.nats = start_nats(rendered, network)
        offered.hosts.update(offered.nats.hosts)
        offered.nats_names = nats_client_names(dialed)
        if offered.nats.problem:
            offered.notes.append(f"NATS: {offered.nats.problem}")
        elif offered.nats.addresses:
            offered.streams = apply_resources(rendered, next(iter(offered.nats.addresses.values())))
        offered.seconds = time.monotonic() - began
        yield offered
