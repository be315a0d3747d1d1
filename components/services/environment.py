"""What a running catalog service's binary reads, as its contract says (data/upstream/binaries/): the variables
that move its listeners, and what `platform.sets` gives it, resolved against the platform: the shared JWT secret,
keys of its own, other services' URLs, fixed settings and platform endpoints.

Generic wiring (a database, the buses, buckets, the lakehouse catalog) stays with the planes that own it; this
module only turns a binary's own needs into environment variables and the keys they read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.common.kube import secret_env
from foundry.catalog import Service
from foundry.labels import namespace_for
from foundry.upstream import Binary

JWT_SECRET = "openfoundry-jwt"          # the platform's shared HS256 secret, one Secret of that name per namespace
JWT_KEY = "secret"


def keys_secret(service: str) -> str:
    """The Secret of a service's own generated keys."""
    return f"{service}-keys"


@dataclass(frozen=True)
class Key:
    """A key only one service holds, generated once in the format its binary parses (foundry/upstream.py)."""

    variable: str
    format: str

    @property
    def secret_key(self) -> str:
        return self.variable.lower().replace("_", "-")


@dataclass(frozen=True)
class Endpoints:
    """What the platform-endpoint sources resolve to in this stack."""

    public_host: str                       # the edge's host
    cors_origins: str                      # the browser origins the edge admits, comma-joined
    anonymous_rate_limit: int              # requests a minute from one anonymous client
    search_url: str                        # Vespa's query and feed endpoint
    iceberg_warehouse: str                 # s3://<the Foundry-internal warehouse bucket>
    locate: Callable[[str], Service]       # the catalog entry running a binary
    nats_url: str = "$(NATS_URL)"          # composed by the NATS endpoint before (its credentials inside)
    redis_url: str = "$(REDIS_URL)"        # composed by the cache endpoint before


def listener_env(binary: Binary, service: Service) -> list[k8s.core.v1.EnvVarArgs]:
    """Each listener's variable set to the port the catalog gives it (the address form binds every interface)."""
    ports = service.ports.all()
    return [k8s.core.v1.EnvVarArgs(name=listener.env, value=(
        f"0.0.0.0:{ports[listener.port]}" if listener.form == "address" else str(ports[listener.port])))
        for listener in binary.listens if listener.env]


def binary_env(binary: Binary, service: Service, endpoints: Endpoints) -> list[k8s.core.v1.EnvVarArgs]:
    """The variables `platform.sets` names, resolved; `$(NAME)` references come after what they refer to."""
    return [_resolve(name, source, service, endpoints) for name, source in binary.platform.sets.items()]


def binary_keys(binary: Binary) -> list[Key]:
    """The keys of its own a binary reads."""
    return [Key(name, source.removeprefix("key:")) for name, source in binary.platform.sets.items()
            if source.startswith("key:")]


def needs_jwt_secret(binary: Binary) -> bool:
    return "jwt-secret" in binary.platform.sets.values()


def callees(binary: Binary) -> Sequence[str]:
    """The binaries whose URL it is given."""
    return [source.split(":")[1] for source in binary.platform.sets.values() if source.startswith(("url:", "address:"))]


def _resolve(name: str, source: str, service: Service, endpoints: Endpoints) -> k8s.core.v1.EnvVarArgs:
    kind, _, rest = source.partition(":")
    if kind == "jwt-secret":
        return secret_env(name, JWT_SECRET, JWT_KEY)
    if kind == "key":
        return secret_env(name, keys_secret(service.name), Key(name, rest).secret_key)
    if kind in ("url", "address"):
        binary, _, port = rest.partition(":")
        callee = endpoints.locate(binary)
        number = callee.ports.all()[port] if port else next(iter(callee.ports.serving().values()))
        host = f"{callee.name}.{namespace_for(callee.plane)}.svc:{number}"
        return k8s.core.v1.EnvVarArgs(name=name, value=f"http://{host}" if kind == "url" else host)
    values = {"value": rest, "public-url": f"https://{endpoints.public_host}", "public-host": endpoints.public_host,
              "nats-url": endpoints.nats_url, "redis-url": endpoints.redis_url, "search-url": endpoints.search_url,
              "iceberg-warehouse": endpoints.iceberg_warehouse, "cors-origins": endpoints.cors_origins,
              "anonymous-rate-limit": str(endpoints.anonymous_rate_limit)}
    return k8s.core.v1.EnvVarArgs(name=name, value=values[kind])
