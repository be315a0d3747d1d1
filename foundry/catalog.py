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
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
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


class Ports(_Model):
    http: PortNumber
    flight: PortNumber | None = None
    # OpenFoundry's services expose Prometheus metrics on a port of their own (infra/helm values: `metrics: 9090`)
    metrics: PortNumber = 9090

    def named(self) -> dict[str, int]:
        return {name: port for name, port in (("http", self.http), ("flight", self.flight)) if port is not None}


class NatsUse(_Model):
    publishes: list[Subject] = []
    subscribes: list[Subject] = []


class Service(_Model):
    name: ServiceName
    plane: Plane
    family: Family
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

    @model_validator(mode="after")
    def _needs_are_consistent(self) -> Service:
        problems = list(self._contract_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _contract_problems(self) -> Iterable[str]:
        if (self.vector or self.pooled or self.sql_readable) and not self.database:
            yield "vector, pooled and sqlReadable need database: true"
        if (self.nats.publishes or self.nats.subscribes) and "control" not in self.buses:
            yield "has NATS subjects but the control bus is not in its buses (ADR-0011 bus contract)"
        if len(set(self.buses)) != len(self.buses):
            yield "lists a bus twice"

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
