"""The topic registry: its model, its cross-checks against the catalog and the stack, and the grants it derives."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from foundry.catalog import Catalog
from foundry.config import ConfigErrors, StackConfig
from foundry.topics import REGISTRY_PATH, Topic, grants_for, load_registry, parse_registry, registry_problems


def registry_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(REGISTRY_PATH.read_text())
    return data


def entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in data["topics"] if t["name"] == name]
    return found


def problems(data: dict[str, Any], catalog: Catalog, config: StackConfig) -> list[str]:
    try:
        registry = parse_registry(data)
    except ConfigErrors as err:
        return [str(p) for p in err.problems]
    return [str(p) for p in registry_problems(registry, catalog, config)]


def test_the_committed_registry_is_consistent_in_every_stack(catalog: Catalog, dev_config: StackConfig,
                                                             prod_config: StackConfig) -> None:
    registry = load_registry()
    assert list(registry_problems(registry, catalog, dev_config)) == []
    assert list(registry_problems(registry, catalog, prod_config)) == []


def test_the_legacy_names_are_openfoundrys_and_the_invented_ones_are_gone() -> None:
    names = {t.name for t in load_registry().topics}
    assert {"cdc.postgres", "dataset.changes", "lineage.events", "model.inferences"} <= names
    # names no OpenFoundry source holds (openfoundry-upstream.md §2.2)
    assert names.isdisjoint({"connector.records.v1", "ontology.objects.v1", "ontology.definitions.v1",
                             "dataset.catalog.v1", "ai.completions.v1"})


BROKEN: list[tuple[str, Any, str]] = [
    ("owner not in the catalog", lambda d: entry(d, "cdc.postgres").update(owner="nobody"),
     "data/topics.yaml: topics[cdc.postgres].owner: found 'nobody' (not a catalog service)"),
    ("consumer off the data bus", lambda d: entry(d, "audit.events.v1")["consumers"].append("gateway"),
     "topics[audit.events.v1].consumers: found 'gateway'; allowed: a catalog service whose buses include data"),
    ("two entries for one topic", lambda d: d["topics"].append({"name": "ai.events.v1", "owner": "ml-service"}),
     "topics[ai.events.v1].name: found 'ai.events.v1'; allowed: each topic listed once"),
    ("unversioned name", lambda d: entry(d, "ai.events.v1").update(name="ai.events"),
     "topics[ai.events].name: found 'ai.events'; allowed: <domain>(.<part>)*.v<N>"),
    ("a family's prefix reaching a topic",
     lambda d: d["topics"].append({"name": "openfoundry.streams.x.v1", "owner": "ingestion-replication-service"}),
     "topics[openfoundry.streams.].name: found 'openfoundry.streams.'; allowed: a prefix no other topic starts with"),
    ("a family without its dot", lambda d: entry(d, "openfoundry.streams.").update(name="openfoundry.streams"),
     "allowed: a family's prefix"),
    ("two topics, one KafkaTopic", lambda d: d["topics"].append({"name": "dlq.pipeline.builds.v1", "owner": "lineage-service"}),
     "allowed: a name that does not share its KafkaTopic's name with __dlq.pipeline.builds.v1"),
    ("zero partitions", lambda d: entry(d, "cdc.postgres").update(partitions=0),
     "topics[cdc.postgres].partitions: found 0"),
    ("retention in weeks", lambda d: entry(d, "cdc.postgres").update(retention="2w"),
     "topics[cdc.postgres].retention: found '2w'"),
    ("unknown field", lambda d: entry(d, "cdc.postgres").update(retension="7d"),
     "topics[cdc.postgres].retension: found '7d'"),
    ("a bus service without a topic", lambda d: d.update(topics=[t for t in d["topics"] if t["owner"] != "ai-service"]),
     "no topic owned or consumed by ai-service"),
]


@pytest.mark.parametrize(("case", "breaks", "expected"), BROKEN, ids=[c for c, _, _ in BROKEN])
def test_a_broken_entry_is_named(case: str, breaks: Any, expected: str, catalog: Catalog,
                                 dev_config: StackConfig) -> None:
    data = copy.deepcopy(registry_data())
    breaks(data)
    assert any(expected in p for p in problems(data, catalog, dev_config)), problems(data, catalog, dev_config)


def test_two_replicas_fail_in_prod_only(catalog: Catalog, dev_config: StackConfig, prod_config: StackConfig) -> None:
    data = copy.deepcopy(registry_data())
    entry(data, "dataset.changes")["replicas"] = 2
    assert problems(data, catalog, prod_config) == [
        "data/topics.yaml: topics[dataset.changes].replicas: found 2; allowed: 3 or more in prod"]
    assert "at most the dev stack's brokers (1)" in problems(data, catalog, dev_config)[0]


def test_grants_are_what_the_entries_name() -> None:
    topics = [Topic(name="a.b.v1", owner="x", consumers=["y"]), Topic(name="c.d.v1", owner="y", consumers=["x", "z"]),
              Topic(name="e.f.", owner="z", family=True)]
    assert {(g.resource, g.name, g.operations, g.pattern) for g in grants_for("x", topics)} == {
        ("topic", "a.b.v1", ("Describe", "Write"), "literal"), ("topic", "c.d.v1", ("Describe", "Read"), "literal"),
        ("group", "x", ("Read",), "literal"), ("group", "x.", ("Read",), "prefix")}
    assert {(g.resource, g.name, g.pattern) for g in grants_for("z", topics, ["z", "zed"])} == {
        ("topic", "c.d.v1", "literal"), ("topic", "e.f.", "prefix"), ("group", "z", "literal"), ("group", "z.", "prefix"),
        ("group", "zed", "literal"), ("group", "zed.", "prefix")}
    assert [g for g in grants_for("x", topics[:1], ["q"]) if g.resource == "group"] == []   # an owner only: no group
    assert [g.operations for g in grants_for("z", topics) if g.name == "e.f."] == [("Create", "Describe", "Write")]
    assert grants_for("nobody", topics) == []


def test_retention_becomes_milliseconds() -> None:
    assert Topic(name="a.b.v1", owner="x", retention="2d").retention_ms == 2 * 24 * 3_600_000
    assert Topic(name="a.b.v1", owner="x", retention="forever").retention_ms == -1
