"""OpenFoundry's binaries at the pin (data/upstream/binaries/<binary>.yaml): what each reads, serves and calls, as the
platform must meet it. One file per binary, every fact with its `of:` path into unnamedlab/OpenFoundry at
`versions.OPENFOUNDRY_COMMIT`; what the platform decides about a binary (a variable it leaves unset and why, a store
it waits for) is apart, under `platform:`.

The fast tier holds every deployed service's rendered container to its binary's contract
(tests/unit/test_binary_contracts.py); `make boot` starts the binaries themselves on that environment (ops/boot/).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from foundry import registry
from foundry.config import ConfigErrors, ConfigProblem

BINARIES = registry.DATA / "upstream" / "binaries"

# `of:` a path into OpenFoundry's repository, optionally `:line[-line]` and further paths after `; `
Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@/-]+(:[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)?(; .+)?$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
BinaryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
Need = Literal["required", "degrades", "optional"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Build(_Model):
    """How OpenFoundry's image builds and starts it (its Dockerfile): the Go package, the arguments after the binary,
    and the files the image ships beside it (image path: repository path)."""

    package: str
    args: list[str] = []
    files: dict[str, str] = {}
    of: Source


class Listener(_Model):
    """A socket the binary binds: the catalog port it serves, the variable that moves it (`PORT=8080`, or an address
    such as `METRICS_ADDR=0.0.0.0:9090`; none when only a config file sets it), and the port it binds by default."""

    port: Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$")]
    env: EnvName | None = None
    form: Literal["port", "address"] = "port"
    default: Annotated[int, Field(ge=1, le=65535)]
    of: Source


class Health(_Model):
    path: str
    port: str
    of: Source


class Variable(_Model):
    """A variable the binary reads: `required` (it exits, or serves nothing but health, without it), `degrades`
    (a feature is off without it, `missing` says which and what it logs), `optional` (a setting with a default)."""

    name: EnvName
    aliases: list[EnvName] = []
    need: Need
    missing: str = ""
    of: Source

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


class Database(_Model):
    """Its Postgres: the variable, whether it migrates at every start, and whether it can migrate alone and exit
    (what a once-per-release migration Job would run)."""

    env: EnvName
    migrations: Literal["on-start", "none"]
    migrate_alone: bool
    why: str = ""
    of: Source


class Stream(_Model):
    """A JetStream stream the binary creates or updates itself (CreateOrUpdateStream: STREAM.UPDATE first), with the
    configuration it sends; `replicas` as sent (0: the server's 1)."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
    subjects: list[str]
    retention: Literal["limits", "interest", "workqueue"] = "limits"
    max_msgs: int
    max_age: Annotated[str, StringConstraints(pattern=r"^[0-9]+[smhd]$")]
    storage: Literal["file", "memory"] = "file"
    replicas: int = 0
    of: Source


class Consumer(_Model):
    """A pull consumer the binary creates on one of its streams: a fixed durable name, or a pattern (`*` a
    run-time part) for consumers made per session."""

    stream: str
    durable: str
    filter: str
    deletes: bool = False          # it deletes the consumer when done (per-session consumers)
    of: Source


class Nats(_Model):
    url_env: EnvName
    publishes: list[str] = []
    subscribes: list[str] = []
    streams: list[Stream] = []
    consumers: list[Consumer] = []
    of: Source


class Topic(_Model):
    topic: str
    group: str | None = None


class Kafka(_Model):
    """Its Kafka clients: SCRAM-SHA-512 over TLS (trusting the system CA pool only), or PLAINTEXT only."""

    bootstrap_env: EnvName
    security: Literal["scram-sha-512", "plaintext"]
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    produces: list[str] = []
    consumes: list[Topic] = []
    of: Source


CassandraPermission = Literal["CREATE", "SELECT", "MODIFY"]


class CassandraClient(_Model):
    """Its Cassandra client (gocql through libs/cassandra-kernel): the variables it reads, and the statements it runs
    in its keyspaces as the permissions its role needs there. `keyspaces` maps each variable naming a keyspace to
    the keyspace the platform gives it (the platform's choice, said with its reason beside it)."""

    contact_points_env: EnvName
    local_dc_env: EnvName
    username_env: EnvName
    password_env: EnvName
    keyspaces: dict[EnvName, Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]]
    permissions: list[CassandraPermission]
    of: Source


class Store(_Model):
    kind: Literal["cassandra", "search", "redis", "http", "kubernetes-api", "smtp", "s3", "sidecar"]
    env: EnvName
    need: Need
    of: Source


class LeftUnset(_Model):
    """A variable the platform does not set, though the binary is better with it, and why (a thing the platform
    cannot give honestly, or a store another issue builds)."""

    env: EnvName
    why: str


# What the platform gives a variable beyond its generic wiring (database, NATS, Kafka, buckets: from the catalog):
#   jwt-secret                 the platform's shared HS256 secret (Secret openfoundry-jwt in each plane namespace)
#   key:<format>               a key of this service's own, generated once (base64-32, hex-32, hex-16, text-32)
#   url:<binary>[:<port>]      http://<the service running that binary>.<namespace>.svc:<its port> (its first port)
#   address:<binary>[:<port>]  the same as host:port
#   value:<text>               a fixed setting (an explicit mode, a port, a name)
#   public-url, public-host    the edge's https://<host> and <host>
#   nats-url, redis-url, search-url, iceberg-warehouse: the platform endpoint of that name
#   cors-origins, anonymous-rate-limit: the stack's edge.corsOrigins (comma-joined) and edge.rateLimitPerMinute
SetSource = Annotated[str, StringConstraints(pattern=(
    r"^(jwt-secret|key:(base64-32|hex-32|hex-16|text-32)|(url|address):[a-z][a-z0-9-]*(:[a-z][a-z0-9-]*)?"
    r"|value:.*|public-url|public-host|nats-url|redis-url|search-url|iceberg-warehouse|cors-origins"
    r"|anonymous-rate-limit)$"))]


class Platform(_Model):
    """What the platform decides about the binary (not facts about it)."""

    sets: dict[EnvName, SetSource] = {}
    leaves_unset: list[LeftUnset] = []
    waits_for: list[Literal["operational-store"]] = []   # a store the platform does not run yet: the binary cannot start


class Binary(_Model):
    name: BinaryName
    kind: Literal["server", "job", "static"] = "server"   # a job runs once per request and exits: no Deployment
    build: Build
    listens: list[Listener]
    health: Health
    env: list[Variable] = []
    database: Database | None = None
    nats: Nats | None = None
    kafka: Kafka | None = None
    cassandra: CassandraClient | None = None
    stores: list[Store] = []
    degradations: list[str] = []   # the lines it logs when it starts without something (make boot reports them)
    platform: Platform = Platform()

    @model_validator(mode="after")
    def _consistent(self) -> Binary:
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> Iterable[str]:
        ports = [listener.port for listener in self.listens]
        if len(set(ports)) != len(ports):
            yield "listens names a port twice"
        if self.kind != "job" and self.health.port not in ports:
            yield f"health.port {self.health.port} is none of its listeners ({', '.join(ports)})"
        read = {name for variable in self.env for name in variable.names}
        for unset in self.platform.leaves_unset:
            if unset.env not in read:
                yield f"platform.leavesUnset names {unset.env}, which the binary does not read (env)"
        for name in self.platform.sets:
            if name not in read:
                yield f"platform.sets names {name}, which the binary does not read (env)"
        if self.cassandra is not None:
            client = self.cassandra
            for name in (client.contact_points_env, client.local_dc_env, client.username_env, client.password_env,
                         *client.keyspaces):
                if name not in read:
                    yield f"cassandra names {name}, which the binary does not read (env)"

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.env if name in v.names), None)

    def needed(self) -> list[Variable]:
        """What the platform must set: every required or degrading variable it does not leave unset on purpose."""
        unset = {u.env for u in self.platform.leaves_unset}
        return [v for v in self.env if v.need != "optional" and not set(v.names) & unset]


class Contracts(_Model):
    binaries: dict[str, Binary]

    def of(self, binary: str) -> Binary:
        return self.binaries[binary]


@cache
def load_contracts(directory: Path = BINARIES) -> Contracts:
    """Every binary's contract; one problem per file, entry and field when one is wrong."""
    problems, binaries = [], {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            binary = registry.load(Binary, path, "env")
        except ConfigErrors as err:
            problems += err.problems
            continue
        if binary.name != path.stem:
            problems.append(ConfigProblem(registry.source_of(path), repr(binary.name),
                                                   f"the file's name, {path.stem!r}"))
        binaries[binary.name] = binary
    if problems:
        raise ConfigErrors(problems)
    return Contracts(binaries=binaries)
