"""The service catalog (data/services.yaml) and the model that validates it.

The catalog is the one description of what every service is: its plane, family, ports, and what it needs
(a database, pgvector, a pooler, buses, NATS subjects, buckets, callers). The planes read it; nothing else
names services. Kafka topics live in their own registry (data/topics.yaml, foundry/topics.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, ValidationError, model_validator
from pydantic.alias_generators import to_camel

CATALOG_PATH = Path(__file__).resolve().parent.parent / "data" / "services.yaml"

Plane = Literal["storage", "ingestion", "compute", "control", "edge"]
PLANES: tuple[Plane, ...] = ("storage", "ingestion", "compute", "control", "edge")
# The relational state plane has no namespace of its own: each database lives beside its owner, whose
# pods must read the database's Secret (components/relational.py).
NAMESPACED_PLANES = PLANES
Family = Literal["entry-and-experience", "data-plane", "governance-and-semantics", "developer-platform", "ai-and-ml"]
Bus = Literal["control", "data"]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,51}[a-z0-9]$")]
Subject = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$")]
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
PortNumber = Annotated[int, Field(ge=1024, le=65535)]
# Platform components (not catalog services) that own a database, with the plane they run in.
PLATFORM_DATABASE_OWNERS = {"lakekeeper": "storage", "openfga": "storage"}
# Platform components whose schema a Job migrates once, before their replicas start (run by every replica, two
# first starts would race: `lakekeeper migrate` creates its OpenFGA store by list-then-create).
PLATFORM_MIGRATORS = {"lakekeeper": "lakekeeper-migrate"}
# Buckets of platform components: Lakekeeper's external warehouse (ADR-0008), apart from the Foundry-internal
# warehouse iceberg-catalog-service owns (ADR-0041).
PLATFORM_BUCKET_OWNERS = {"lakekeeper-warehouse": "lakekeeper"}
# Callers that are not catalog services: the Ingress controller in front of the edge.
EXTERNAL_CALLERS = frozenset({"ingress"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


PortName = Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$")]
METRICS_PORT = "metrics"


class Ports(RootModel[dict[PortName, PortNumber]]):
    """A service's container ports, in order, as OpenFoundry's Helm values give them (infra/helm/apps/of-*/values.yaml
    `services.<name>.ports`): the first is the one its binary listens on (`PORT`, as infra/helm/_shared's
    helper sets it) and the one its probes use; `metrics` is a Prometheus-only port, otherwise metrics are
    served on `http` at /metrics (edge-gateway-service/internal/server/server.go)."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _usable(self) -> Ports:
        if not self.root:
            raise ValueError("at least one port")
        numbers = list(self.root.values())
        if len(set(numbers)) != len(numbers):
            raise ValueError("each port number once")
        if "http" not in self.root and METRICS_PORT not in self.root:
            raise ValueError("an `http` port, or a `metrics` port for a service that serves nothing else")
        return self

    @property
    def listen(self) -> tuple[str, int]:
        """The port the binary reads from `PORT`, and its probes' port."""
        return next(iter(self.root.items()))

    def serving(self) -> dict[str, int]:
        """The ports other services and the edge may open: every port but the metrics-only one."""
        return {name: port for name, port in self.root.items() if name != METRICS_PORT}

    def all(self) -> dict[str, int]:
        return dict(self.root)

    @property
    def metrics(self) -> tuple[str, int]:
        """Where Prometheus scrapes /metrics."""
        name = METRICS_PORT if METRICS_PORT in self.root else "http"
        return name, self.root[name]


Relation = Literal["same", "renamed", "merged", "none"]


class Upstream(_Model):
    """What the catalog service stands for in OpenFoundry (unnamedlab/OpenFoundry `services/`): the same service,
    a renamed one, a surface merged into another binary, or none live (`why` says so)."""

    relation: Relation
    services: list[ServiceName] = []
    why: str = ""

    @model_validator(mode="after")
    def _named(self) -> Upstream:
        if (self.relation == "none") == bool(self.services):
            raise ValueError("services name the OpenFoundry service(s), except for relation none")
        if self.relation == "none" and not self.why:
            raise ValueError("relation none needs a why")
        return self


class NatsUse(_Model):
    publishes: list[Subject] = []
    subscribes: list[Subject] = []


class Service(_Model):
    name: ServiceName
    plane: Plane
    family: Family
    upstream: Upstream
    ports: Ports
    database: bool = False
    vector: bool = False
    pooled: bool = False
    sql_readable: bool = False   # its database is a read-only route of the Flight SQL gateway (sql-bi-gateway-service)
    buses: list[Bus] = []
    nats: NatsUse = NatsUse()
    buckets: list[BucketName] = []
    callers: list[str] = []
    service_account_token: bool = False
    kafka_groups: list[ServiceName] = []   # consumer groups its OpenFoundry code pins under another name

    @property
    def consumer_groups(self) -> list[str]:
        """Its Kafka consumer groups' names: its own, its OpenFoundry service's (OpenFoundry pins `<service>` and
        `<service>.<purpose>`, e.g. services/lineage-service/internal/lineageconsumer/consumer.go:32), and any other."""
        own = self.upstream.services if self.upstream.relation in ("same", "renamed") else []
        return list(dict.fromkeys([self.name, *own, *self.kafka_groups]))

    @model_validator(mode="after")
    def _needs_are_consistent(self) -> Service:
        problems = list(self._contract_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _contract_problems(self) -> Iterable[str]:
        if self.binary is None:
            runs_elsewhere = [name for name, value in (
                ("database", self.database), ("buses", self.buses), ("nats", self.nats.publishes or self.nats.subscribes),
                ("buckets", self.buckets), ("callers", self.callers), ("serviceAccountToken", self.service_account_token),
                ("kafkaGroups", self.kafka_groups)) if value]
            if runs_elsewhere:
                where = f"served by {self.upstream.services[0]}" if self.upstream.services else "with no live binary"
                yield (f"a surface {where} runs no pods of its own: {', '.join(runs_elsewhere)} belong to the service "
                       "that runs its binary")
        if (self.vector or self.pooled or self.sql_readable) and not self.database:
            yield "vector, pooled and sqlReadable need database: true"
        if (self.nats.publishes or self.nats.subscribes) and "control" not in self.buses:
            yield "has NATS subjects but the control bus is not in its buses (ADR-0011 bus contract)"
        if len(set(self.buses)) != len(self.buses):
            yield "lists a bus twice"
        if self.callers and not self.ports.serving():
            yield "has callers but serves only metrics (a port other than `metrics` for them to open)"

    @property
    def binary(self) -> str | None:
        """The OpenFoundry binary this entry runs as its own pods: its same or renamed service. A surface merged into
        another binary is served by that binary's pods; an entry with no live owner runs nothing."""
        return self.upstream.services[0] if self.upstream.relation in ("same", "renamed") else None

    @property
    def uses_kafka(self) -> bool:
        return "data" in self.buses

    @property
    def uses_nats(self) -> bool:
        return "control" in self.buses


class Catalog(_Model):
    services: Annotated[list[Service], Field(min_length=1)]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        names = [s.name for s in self.services]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        problems = [f"service {n} is listed twice" for n in duplicates]
        known = set(names) | EXTERNAL_CALLERS
        for service in self.services:
            problems += [f"{service.name}: caller {c} is not a catalog service" for c in service.callers if c not in known]
        problems += list(_bucket_ownership_problems(self.services))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def by_name(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def in_plane(self, plane: str) -> list[Service]:
        return [s for s in self.services if s.plane == plane]

    def database_owners(self) -> dict[str, str]:
        """Every owner of a CloudNativePG database, with its plane: catalog services and platform components."""
        return {**{s.name: s.plane for s in self.services if s.database}, **PLATFORM_DATABASE_OWNERS}

    def callees_of(self, name: str) -> list[Service]:
        return [s for s in self.services if name in s.callers]


def _bucket_ownership_problems(services: list[Service]) -> Iterable[str]:
    owners: dict[str, str] = dict(PLATFORM_BUCKET_OWNERS)
    for service in services:
        for bucket in service.buckets:
            if bucket in owners:
                yield f"bucket {bucket} is owned by both {owners[bucket]} and {service.name}"
            owners[bucket] = service.name


class CatalogError(Exception):
    """The catalog file is not valid; the message lists each problem."""


def parse_catalog(text: str, source: str = "data/services.yaml") -> Catalog:
    try:
        return Catalog.model_validate(yaml.safe_load(text))
    except ValidationError as err:
        lines = []
        for issue in err.errors(include_url=False):
            where = ".".join(str(p) for p in issue["loc"])
            lines.append(f"{source}: {where or '(top level)'}: {re.sub(r'^Value error, ', '', issue['msg'])}")
        raise CatalogError("\n".join(lines)) from None
    except yaml.YAMLError as err:
        raise CatalogError(f"{source}: not valid YAML: {err}") from None


@cache
def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    return parse_catalog(path.read_text(), source=str(path.relative_to(path.parent.parent)))
