"""The lakehouse registry (data/lakehouse.yaml): the warehouse tables the blueprint's read path shows, and the
registry topic each is written from.

Problems are reported like configuration problems, one per entry and field, before anything is registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from foundry import registry
from foundry.config import ConfigProblem
from foundry.topics import TopicRegistry

REGISTRY_PATH = registry.DATA / "lakehouse.yaml"
SOURCE = registry.source_of(REGISTRY_PATH)

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
IcebergType = Literal["string", "long", "int", "double", "boolean", "date", "timestamp", "timestamptz"]
TIME_TYPES = ("timestamp", "timestamptz")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Column(_Model):
    name: Identifier
    type: IcebergType


class Source(_Model):
    topic: str
    fields: dict[Identifier, Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]]
    event_time: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Table(_Model):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
    columns: list[Column]
    partition_by: list[Identifier] = []
    time: Identifier
    dimension: Identifier
    source: Source

    @property
    def namespace(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def derived(self) -> list[Column]:
        """The columns filled from the records' event time rather than a field: the time, and date partitions."""
        return [c for c in self.columns if c.name not in self.source.fields]


class LakehouseRegistry(_Model):
    tables: list[Table]


def parse_tables(data: Any) -> LakehouseRegistry:
    return registry.parse(LakehouseRegistry, data, SOURCE, "tables")


@cache
def load_tables(path: Path = REGISTRY_PATH) -> LakehouseRegistry:
    return registry.load(LakehouseRegistry, path, "tables")


def lakehouse_problems(registry: LakehouseRegistry, topics: TopicRegistry) -> Iterable[ConfigProblem]:
    seen: set[str] = set()
    for table in registry.tables:
        def where(field: str, t: Table = table) -> str:
            return f"{SOURCE}: tables[{t.name}].{field}"
        if table.name in seen:
            yield ConfigProblem(where("name"), repr(table.name), "each table listed once")
        seen.add(table.name)
        names = [c.name for c in table.columns]
        if len(set(names)) != len(names):
            yield ConfigProblem(where("columns"), str(names), "each column once")
        yield from _column_references(table, where)
        yield from _source_problems(table, topics, where)


def _column_references(table: Table, where: Any) -> Iterable[ConfigProblem]:
    names = [c.name for c in table.columns]
    for field, name, allowed in (("time", table.time, TIME_TYPES), ("dimension", table.dimension, ("string",))):
        column = table.column(name)
        if column is None or column.type not in allowed:
            found = repr(name) + ("" if column is None else f" ({column.type})")
            yield ConfigProblem(where(field), found, f"a column of type {' or '.join(allowed)} of {names}")
    for name in table.partition_by:
        if name not in names:
            yield ConfigProblem(where("partitionBy"), repr(name), f"a column of the table ({names})")


def _source_problems(table: Table, topics: TopicRegistry, where: Any) -> Iterable[ConfigProblem]:
    registered = {t.name: t for t in topics.topics}
    topic = registered.get(table.source.topic)
    if topic is None or topic.family:
        yield ConfigProblem(where("source.topic"), repr(table.source.topic), "a topic of data/topics.yaml (not a family)")
    for name in table.source.fields:
        if table.column(name) is None:
            yield ConfigProblem(where(f"source.fields.{name}"), repr(name), "a column of the table")
    for derived in table.derived:
        # a column no field fills is derived from the event time: the time itself, or a date of it
        if derived.name != table.time and derived.type != "date":
            yield ConfigProblem(where("source.fields"), f"no field for {derived.name!r} ({derived.type})",
                                f"a field for every column but {table.time!r} and date columns (derived from "
                                "source.eventTime)")
