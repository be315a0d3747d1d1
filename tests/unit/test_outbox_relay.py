"""The outbox relay under mocks: the outbox registry, what each outbox database declares for the relay, and the
Connect cluster's principal, topics and connectors (the engine tier runs them: tests/engine/test_outbox_relay.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.ingestion.relay import heartbeat_topic, relay_grants
from foundry import versions
from foundry.catalog import Catalog
from foundry.config import ConfigErrors
from foundry.outboxes import load_outboxes, outbox_problems, parse_outboxes, topic_pattern
from foundry.topics import load_registry
from tests.mocks import Registered, by_metadata_name

CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
PUBLICATION = "kubernetes:postgresql.cnpg.io/v1:Publication"
CONNECTOR = "kubernetes:kafka.strimzi.io/v1:KafkaConnector"
USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
DOCKERFILE = Path(__file__).resolve().parents[2] / "images" / "outbox-relay" / "Dockerfile"


def problems_of(data: dict, catalog: Catalog) -> list[str]:
    return [str(p) for p in outbox_problems(parse_outboxes(data), catalog, load_registry())]


def test_the_registry_holds_together(catalog: Catalog) -> None:
    assert list(outbox_problems(load_outboxes(), catalog, load_registry())) == []


def test_registry_problems_name_the_entry_and_field(catalog: Catalog) -> None:
    source = "of:services/x/migrations/1.sql:1"
    found = problems_of({"outboxes": [
        {"name": "no-such-service", "source": source},
        {"name": "workflow-automation-service", "source": source,
         "topics": [{"name": "not.registered.v1", "source": source}],
         "parked": [{"name": "audit.events.v1", "source": source, "why": "x"}]},
    ]}, catalog)
    assert any("outboxes[no-such-service].name" in p and "owns a database" in p for p in found)
    assert any("outboxes[workflow-automation-service].topics[0].name" in p and "not.registered.v1" in p for p in found)
    assert any("outboxes[workflow-automation-service].parked[0].name" in p for p in found)


def test_an_entry_without_provenance_is_refused() -> None:
    with pytest.raises(ConfigErrors) as refused:
        parse_outboxes({"outboxes": [{"name": "media-sets-service", "source": "the migrations"}]})
    assert "outboxes[media-sets-service].source" in str(refused.value.problems[0])


def test_the_topic_pattern_matches_exactly_the_listed_names() -> None:
    pattern = re.compile(topic_pattern(["saga.step.requested.v1", "audit.events.v1"]))
    assert pattern.fullmatch("audit.events.v1") and pattern.fullmatch("saga.step.requested.v1")
    assert not pattern.fullmatch("auditXevents.v1") and not pattern.fullmatch("audit.events.v10")
    assert not re.compile(topic_pattern([])).fullmatch("")


def test_the_relay_may_write_its_topics_and_create_none() -> None:
    outboxes = load_outboxes().outboxes
    grants = relay_grants(outboxes)
    written = {g.name for g in grants if g.resource == "topic" and "Write" in g.operations}
    expected = set(load_outboxes().relayed_topics()) | {o.dead_letters for o in outboxes} | {heartbeat_topic(o) for o in outboxes}
    assert expected <= written and all(g.pattern == "literal" for g in grants)
    assert not any("Create" in g.operations or "All" in g.operations for g in grants)
    assert [g.name for g in grants if g.resource == "group"] == ["outbox-relay"]


def test_each_outbox_database_declares_a_publication_and_a_bare_replication_role(prod_resources: list[Registered]) -> None:
    clusters = by_metadata_name(prod_resources, CLUSTER)
    publications = by_metadata_name(prod_resources, PUBLICATION)
    for outbox in load_outboxes().outboxes:
        spec = clusters[f"pg-{outbox.name}"].inputs["spec"]
        (role,) = [r for r in spec["managed"]["roles"] if r.get("replication")]
        assert role["login"] and not role.get("inRoles") and not role.get("superuser")
        assert spec["postgresql"]["parameters"]["wal_level"] == "logical"
        assert spec["replicationSlots"]["highAvailability"]["synchronizeLogicalDecoding"] is True
        publication = publications[f"pg-{outbox.name}-outbox"].inputs["spec"]
        assert publication["target"] == {"objects": [{"table": {"schema": "outbox", "name": "events"}}]}
    others = {name for name in clusters if name.removeprefix("pg-") not in load_outboxes().by_service()}
    assert all(not any(r.get("replication") for r in (clusters[n].inputs["spec"].get("managed") or {}).get("roles", []))
               for n in others)


def test_a_connector_per_outbox_routes_by_its_topic_column(prod_resources: list[Registered]) -> None:
    connectors = by_metadata_name(prod_resources, CONNECTOR)
    assert sorted(connectors) == sorted(f"outbox-{o.name}" for o in load_outboxes().outboxes)
    for outbox in load_outboxes().outboxes:
        config = connectors[f"outbox-{outbox.name}"].inputs["spec"]["config"]
        assert config["transforms.outbox.route.by.field"] == "topic"
        assert config["publication.autocreate.mode"] == "disabled" and config["slot.failover"] == "true"
        assert config["transforms.unlisted.replacement"] == outbox.dead_letters
        listed = re.compile(config["predicates.listed.pattern"])
        assert all(listed.fullmatch(t) for t in outbox.topic_names)
        assert not any(listed.fullmatch(p.name) for p in outbox.parked)


def test_the_image_recipe_carries_the_pins() -> None:
    text = DOCKERFILE.read_text()
    assert f"FROM {versions.STRIMZI_KAFKA_IMAGE}\n" in text
    assert f"--checksum=sha256:{versions.DEBEZIUM_POSTGRES_PLUGIN_SHA256}" in text
    assert f"/{versions.DEBEZIUM_VERSION}/debezium-connector-postgres-{versions.DEBEZIUM_VERSION}-plugin.tar.gz" in text
    assert versions.OUTBOX_RELAY_IMAGE_TAG in text
