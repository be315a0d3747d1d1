"""The topic registry (data/topics.yaml): every Kafka topic, its one owner, its consumers, and how it is kept.

The registry is the only source of topics and of Kafka permissions: each topic becomes a KafkaTopic, and each
service's ACLs are what `grants_for` derives from the entries that name it (components/ingestion.py).
Problems are reported like configuration problems, one per entry and field, before anything is registered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from foundry import registry
from foundry.catalog import Catalog
from foundry.config import ConfigProblem, Kafka, StackConfig

REGISTRY_PATH = registry.DATA / "topics.yaml"
SOURCE = registry.source_of(REGISTRY_PATH)
# OpenFoundry's topics that predate its <domain>.<entity>.v<N> convention (ADR-0022): the "Legacy topics" of
# infra/helm/infra/kafka-cluster/values.yaml, preserved verbatim there.
LEGACY_NAMES = frozenset({"cdc.postgres", "dataset.changes", "lineage.events", "model.inferences", "audit.events"})
VERSIONED_NAME = re.compile(r"^(__dlq\.)?[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.v[1-9][0-9]*$")
FAMILY_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.$")
RETENTION = re.compile(r"^(?:(?P<n>[1-9][0-9]*)(?P<unit>[hd])|forever)$")
MIN_PROD_REPLICAS = 3

CleanupPolicy = Literal["delete", "compact", "compact,delete"]
Retention = Annotated[str, StringConstraints(pattern=RETENTION.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class TopicDefaults(_Model):
    partitions: Annotated[int, Field(ge=1, le=1000)] = 12
    retention: Retention = "7d"
    cleanup_policy: CleanupPolicy = "delete"


class Topic(_Model):
    name: str
    owner: str
    # other services whose binary writes it too (each with its source in the registry): Write, never Create
    producers: list[str] = []
    consumers: list[str] = []
    partitions: Annotated[int, Field(ge=1, le=1000)] | None = None
    retention: Retention | None = None
    cleanup_policy: CleanupPolicy | None = None
    replicas: Annotated[int, Field(ge=1, le=7)] | None = None
    family: bool = False

    @property
    def resource_name(self) -> str:
        """Its KafkaTopic's name: a Kubernetes name cannot start with `_` (the topic's own name is spec.topicName)."""
        return self.name.lstrip("_")

    @property
    def retention_ms(self) -> int:
        match = RETENTION.match(self.retention or "")
        assert match is not None, "resolved topics always carry a retention"
        if match.group("n") is None:
            return -1
        hours = int(match.group("n")) * (24 if match.group("unit") == "d" else 1)
        return hours * 3_600_000


class TopicRegistry(_Model):
    defaults: TopicDefaults = TopicDefaults()
    topics: list[Topic]

    def resolved(self) -> list[Topic]:
        """Every topic with the registry defaults filled in (replicas stay per environment)."""
        return [t.model_copy(update={
            "partitions": t.partitions or self.defaults.partitions,
            "retention": t.retention or self.defaults.retention,
            "cleanup_policy": t.cleanup_policy or self.defaults.cleanup_policy,
        }) for t in self.topics]


@dataclass(frozen=True)
class Grant:
    """One ACL a service holds: operations on a resource named by prefix."""

    resource: Literal["topic", "group"]
    name: str
    operations: tuple[str, ...]
    pattern: Literal["literal", "prefix"] = "literal"


WRITE_OPERATIONS = ("Describe", "Write")
CREATE_OPERATIONS = ("Create", "Describe", "Write")
READ_OPERATIONS = ("Describe", "Read")


def consumer_group_prefix(group: str) -> str:
    return f"{group}."


def grants_for(service: str, topics: Iterable[Topic], groups: Iterable[str] = (),
               reads: Iterable[str] = ()) -> list[Grant]:
    """Exactly what the registry lets `service` do: write the topics it owns (and create those of a family it owns),
    read the ones it consumes (and `reads`, a platform component's), and use its own consumer groups: each of
    `groups` (default: the service's name) and `<group>.*`. Names hold no dots, so `<group>.` can start no other
    service's group."""
    grants: list[Grant] = []
    consumes = False
    extra = set(reads)
    for topic in topics:
        pattern: Literal["literal", "prefix"] = "prefix" if topic.family else "literal"
        if topic.owner == service:
            grants.append(Grant("topic", topic.name, CREATE_OPERATIONS if topic.family else WRITE_OPERATIONS, pattern))
        elif service in topic.producers:
            grants.append(Grant("topic", topic.name, WRITE_OPERATIONS, pattern))
        if service in topic.consumers or topic.name in extra:
            grants.append(Grant("topic", topic.name, READ_OPERATIONS, pattern))
            consumes = True
    if consumes:
        for group in list(groups) or [service]:
            grants.append(Grant("group", group, ("Read",), "literal"))
            grants.append(Grant("group", consumer_group_prefix(group), ("Read",), "prefix"))
    return grants


def replicas_of(topic: Topic, kafka: Kafka) -> int:
    return topic.replicas or kafka.replication_factor


# --- loading and checking --------------------------------------------------------------------------------


def parse_registry(data: Any) -> TopicRegistry:
    return registry.parse(TopicRegistry, data, SOURCE, "topics")


@cache
def load_registry(path: Path = REGISTRY_PATH) -> TopicRegistry:
    return registry.load(TopicRegistry, path, "topics")


def registry_problems(registry: TopicRegistry, catalog: Catalog, cfg: StackConfig) -> Iterable[ConfigProblem]:
    topics = registry.resolved()
    yield from _name_problems(topics)
    yield from _party_problems(topics, catalog)
    yield from _replica_problems(topics, cfg)
    yield from _unregistered_bus_users(topics, catalog)


def _where(topic: Topic, field: str = "") -> str:
    return f"{SOURCE}: topics[{topic.name}]" + (f".{field}" if field else "")


def _name_problems(topics: list[Topic]) -> Iterable[ConfigProblem]:
    seen: set[str] = set()
    for topic in topics:
        if topic.name in seen:
            yield ConfigProblem(_where(topic, "name"), repr(topic.name), "each topic listed once, with exactly one owner")
        seen.add(topic.name)
        if topic.family and not FAMILY_NAME.match(topic.name):
            yield ConfigProblem(_where(topic, "name"), repr(topic.name), "a family's prefix, <domain>(.<part>)*. ending in a dot")
        elif not topic.family and topic.name not in LEGACY_NAMES and not VERSIONED_NAME.match(topic.name):
            yield ConfigProblem(_where(topic, "name"), repr(topic.name),
                                f"<domain>(.<part>)*.v<N>, __dlq.<topic>, or one of {', '.join(sorted(LEGACY_NAMES))}")
    for family in (t for t in topics if t.family):
        for other in topics:
            if other.name != family.name and other.name.startswith(family.name):
                # a family's grants are prefix ACLs: they would reach this topic too
                yield ConfigProblem(_where(family, "name"), repr(family.name),
                                    f"a prefix no other topic starts with ({other.name})")
    resource_names: dict[str, str] = {}
    for topic in topics:
        clash = resource_names.setdefault(topic.resource_name, topic.name)
        if clash != topic.name:
            yield ConfigProblem(_where(topic, "name"), repr(topic.name),
                                f"a name that does not share its KafkaTopic's name with {clash}")


def _party_problems(topics: list[Topic], catalog: Catalog) -> Iterable[ConfigProblem]:
    on_bus = {s.name for s in catalog.services if s.uses_kafka}
    known = {s.name for s in catalog.services}
    allowed = "a catalog service whose buses include data (data/services.yaml)"
    for topic in topics:
        for field, service in [("owner", topic.owner), *(("producers", p) for p in topic.producers),
                               *(("consumers", c) for c in topic.consumers)]:
            if service not in on_bus:
                found = repr(service) + ("" if service in known else " (not a catalog service)")
                yield ConfigProblem(_where(topic, field), found, allowed)
        if len(set(topic.consumers)) != len(topic.consumers):
            yield ConfigProblem(_where(topic, "consumers"), str(topic.consumers), "each consumer once")
        if topic.owner in topic.producers or len(set(topic.producers)) != len(topic.producers):
            yield ConfigProblem(_where(topic, "producers"), str(topic.producers), "each producer once, not the owner")


def _replica_problems(topics: list[Topic], cfg: StackConfig) -> Iterable[ConfigProblem]:
    kafka = cfg.ingestion.kafka
    for topic in topics:
        replicas = replicas_of(topic, kafka)
        if cfg.is_prod and replicas < MIN_PROD_REPLICAS:
            yield ConfigProblem(_where(topic, "replicas"), str(replicas), f"{MIN_PROD_REPLICAS} or more in prod")
        if replicas > kafka.brokers:
            yield ConfigProblem(_where(topic, "replicas"), str(replicas),
                                f"at most the {cfg.environment} stack's brokers ({kafka.brokers})")
        elif kafka.min_insync_replicas > replicas:
            yield ConfigProblem(_where(topic, "replicas"), str(replicas),
                                f"at least ingestion.kafka.minInsyncReplicas ({kafka.min_insync_replicas})")


def _unregistered_bus_users(topics: list[Topic], catalog: Catalog) -> Iterable[ConfigProblem]:
    named = {t.owner for t in topics} | {p for t in topics for p in t.producers} | {c for t in topics for c in t.consumers}
    for service in catalog.services:
        if service.uses_kafka and service.name not in named:
            yield ConfigProblem(f"{SOURCE}: topics", f"no topic owned or consumed by {service.name}",
                                f"an entry for every service on the data bus ({service.name} lists it in its buses)")
