"""`make report`: the topology diagram, capacity and zone-loss reports of the rendered dev and prod stacks, prod's
zone-loss verdicts against what an SRE computes by hand from its manifests, and a stack too big for its nodes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest

from foundry.catalog import load_catalog
from foundry.outboxes import load_outboxes
from foundry.topics import load_registry
from ops import report
from ops.engine import stacks, tools
from tests.engine.conftest import REPO, rendered

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", autouse=True)
def graphviz() -> None:
    tools.ensure("graphviz")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_make_report_writes_every_file_and_the_diagram_names_every_service(stack: str) -> None:
    rendered(stack)
    assert report.main([stack]) == 0
    target = REPO / "reports" / stack
    for name in ("topology.svg", "topology.png", "capacity.md", "capacity.json", "zone-loss.md", "zone-loss.json"):
        assert (target / name).stat().st_size > 0, name
    svg = ElementTree.parse(target / "topology.svg")
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {s.name for s in load_catalog().services} <= texts
    assert {"Kafka", "NATS JetStream", "Postgres", "Ceph RGW", "Lakekeeper", "Vespa"} <= texts
    assert ("Trino" in texts) is (stack == "prod")   # dev runs without Trino
    capacity = json.loads((target / "capacity.json").read_text())
    assert capacity["problems"] == [] and capacity["total"]["no_requests"] == 0


def zone_loss(stack: str) -> dict[str, dict[str, Any]]:
    document = json.loads((REPO / "reports" / stack / "zone-loss.json").read_text())
    return {v["system"]: v for v in document["verdicts"]}


def test_prods_zone_loss_verdicts_are_what_the_manifests_say_by_hand() -> None:
    rendered("prod")
    report.main(["prod"])
    found = zone_loss("prod")
    survives = {name for name, v in found.items() if v["survives"]}
    # 3 zones of 3 nodes, racks 3/2/2. Monitors 5 spread by zone (2/2/1): 3 left of a majority of 3
    assert "Ceph monitors" in survives
    # replicated size 3 by zone: one copy per zone, 2 left = min_size; the bucket index too, since it follows the
    # block pool's failure domain
    assert {"pool fast-rbd", "pool .mgr", "pool lake metadata"} <= survives
    # EC 4+2 by rack: three racks in one zone can hold 3 chunks: 3 left < k+1 (accepted, with its reason)
    assert not found["pool lake data"]["survives"] and "min_size 5" in found["pool lake data"]["reason"]
    assert found["pool lake data"]["accepted"]
    # KRaft 3 by zone, brokers rack-aware by zone: every topic of replication 3 keeps 2 in sync = min ISR 2
    assert "KRaft controllers (controllers)" in survives
    topics = [v for v in found.values() if v["kind"] == "Kafka partitions"]
    relay = [v for name, v in found.items() if v["kind"] == "Kafka partitions" and (
        "outbox" in name or name.startswith("topic outbox-relay."))]   # the outbox relay's own (components/ingestion/relay.py)
    assert len(relay) == 3 + 2 * len(load_outboxes().outboxes)
    assert len(topics) - len(relay) == len([t for t in load_registry().topics if not t.family])
    assert all(v["survives"] for v in topics)
    # NATS 3 by zone, streams of 3; Valkey 3 by zone with quorum 2; Vespa's config servers 3 by zone
    assert {"NATS JetStream meta group", "JetStream streams of 3 replicas", "Valkey Sentinels",
            "Vespa config servers (ZooKeeper)"} <= survives
    # the streams OpenFoundry's binaries ensure with one replica at every start: on one server (accepted)
    assert not found["JetStream streams of 1 replicas"]["survives"] and found["JetStream streams of 1 replicas"]["accepted"]
    # every CloudNativePG cluster: 3 instances by zone, 1 synchronous standby required: 2 left, 2 needed
    clusters = [v for v in found.values() if v["kind"].startswith("Postgres")]
    assert len(clusters) == len(load_catalog().database_owners()) and all(v["survives"] for v in clusters)
    # every Deployment survives but Trino's single coordinator and the table exporter, one scrape target (accepted)
    deployments = {name for name, v in found.items() if v["kind"] == "Deployment" and not v["survives"]}
    assert deployments == {"trino-coordinator", "iceberg-table-exporter"}
    assert found["trino-coordinator"]["accepted"] and found["iceberg-table-exporter"]["accepted"]
    # ClickHouse: three replicas spread hard over the zones
    assert found["clickhouse"]["survives"]
    assert "node capacity" in survives
    assert {name for name, v in found.items() if not v["survives"] and not v["accepted"]} == set()


def test_a_stack_too_big_for_its_nodes_is_refused_with_the_config_path(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rendered("prod")
    values = stacks.read_stack_values("prod")
    values.setdefault("topology", {})["node"] = {"cpu": "16", "memory": "64Gi"}
    monkeypatch.setattr(stacks, "read_stack_values", lambda stack: values)
    before = {p.name: p.stat().st_mtime_ns for p in (REPO / "reports" / "prod").iterdir()}
    assert report.main(["prod"]) == 2
    assert {p.name: p.stat().st_mtime_ns for p in (REPO / "reports" / "prod").iterdir()} == before
    err = capsys.readouterr().err
    assert "the stack does not fit its nodes" in err
    assert "openfoundry:topology.node.cpu: found 9 nodes of 16 cores = 144 cores" in err
    assert "openfoundry:topology.node.memory" in err
