"""The transactional outboxes (data/outboxes.yaml): which databases hold one, and the topics the relay carries from it.

Each entry becomes a logical replication publication and a replication role on its service's CloudNativePG cluster
(components/relational/outbox.py) and a Debezium connector in the outbox relay (components/ingestion/relay.py), whose
Kafka principal may write exactly the topics listed here. Problems are reported per entry and field before anything is
registered, like the other registries'.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from foundry import registry
from foundry.catalog import Catalog
from foundry.config import ConfigProblem
from foundry.topics import TopicRegistry

OUTBOXES_PATH = registry.DATA / "outboxes.yaml"
SOURCE = registry.source_of(OUTBOXES_PATH)
# where every OpenFoundry outbox lives (of:libs/outbox/outbox.go:19-31): schema-qualified, whatever the search_path
SCHEMA, TABLE = "outbox", "events"
RELAY = "outbox-relay"          # the relay: its Kafka Connect cluster, principal and pods' name (ingestion plane)
RELAY_PLANE = "ingestion"
RELAY_PODS = {"strimzi.io/cluster": RELAY, "strimzi.io/kind": "KafkaConnect"}   # the labels Strimzi gives its workers
Provenance = Annotated[str, StringConstraints(pattern=r"^(of:\S+|implied: .+)")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class RoutedTopic(_Model):
    name: str
    source: Provenance


class ParkedTopic(_Model):
    name: str
    source: Provenance
    why: str


class Outbox(_Model):
    name: str
    source: Provenance
    topics: list[RoutedTopic] = []
    parked: list[ParkedTopic] = []

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]

    @property
    def dead_letters(self) -> str:
        """Where rows for a topic it may not write go (a name of the registry's __dlq.<topic> form)."""
        return f"__dlq.outbox.{self.name}.v1"


class OutboxRegistry(_Model):
    outboxes: list[Outbox]

    def by_service(self) -> dict[str, Outbox]:
        return {o.name: o for o in self.outboxes}

    def relayed_topics(self) -> list[str]:
        return sorted({t for o in self.outboxes for t in o.topic_names})


def parse_outboxes(data: Any) -> OutboxRegistry:
    return registry.parse(OutboxRegistry, data, SOURCE, "outboxes")


@cache
def load_outboxes(path: Path = OUTBOXES_PATH) -> OutboxRegistry:
    return registry.load(OutboxRegistry, path, "outboxes")


def outbox_problems(outboxes: OutboxRegistry, catalog: Catalog, topics: TopicRegistry) -> Iterable[ConfigProblem]:
    owners = catalog.database_owners()
    known = {t.name for t in topics.resolved() if not t.family}
    seen: set[str] = set()
    for outbox in outboxes.outboxes:
        where = f"{SOURCE}: outboxes[{outbox.name}]"
        if outbox.name in seen:
            yield ConfigProblem(f"{where}.name", repr(outbox.name), "each service's outbox listed once")
        seen.add(outbox.name)
        if outbox.name not in owners:
            yield ConfigProblem(f"{where}.name", repr(outbox.name),
                                "a catalog service that owns a database (data/services.yaml, database: true)")
        for index, topic in enumerate(outbox.topics):
            if topic.name not in known:
                yield ConfigProblem(f"{where}.topics[{index}].name", repr(topic.name),
                                    "a topic of data/topics.yaml (list it under `parked` if the registry has none)")
        if len(set(outbox.topic_names)) != len(outbox.topic_names):
            yield ConfigProblem(f"{where}.topics", str(outbox.topic_names), "each topic once")
        for index, parked in enumerate(outbox.parked):
            if parked.name in known:
                yield ConfigProblem(f"{where}.parked[{index}].name", repr(parked.name),
                                    "a topic data/topics.yaml does not list (a registered one belongs under `topics`)")


def topic_pattern(names: Iterable[str]) -> str:
    """A Java regular expression matching exactly these topic names (Kafka Connect's TopicNameMatches predicate)."""
    return "|".join(name.replace(".", r"\.") for name in sorted(names)) or "(?!)"
