"""ADR-0012's SLOs: recording rules, burn-rate alerts and dashboards, in prod only; every expression parses."""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest

from foundry.slos import load_slos
from tests.mocks import Registered, by_metadata_name

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
HISTOGRAMS = {  # ADR-0012's SLI histograms and their p99 targets, as the facts list them
    "flight_sql_query_duration_seconds": ('cache="hit",query_kind="point"', "0.02"),
    "datafusion_iceberg_scan_duration_seconds": ('bytes_bucket="1g",nodes="1"', "1.5"),
    "kafka_producer_request_latency_seconds": ('acks="all",topology="intra_az"', "0.025"),
    "vespa_query_latency_seconds": ('query_profile="hybrid_top50"', "0.08"),
    "nats_control_event_e2e_seconds": ('subject_class="control"', "0.005"),
}


def groups(resources: list[Registered]) -> list[dict[str, Any]]:
    (rule,) = by_metadata_name(resources, RULE).values()
    found: list[dict[str, Any]] = rule.inputs["spec"]["groups"]
    return found


def test_prod_measures_the_five_slis_against_their_p99_targets(prod_resources: list[Registered]) -> None:
    records = [r for g in groups(prod_resources) for r in g["rules"] if "record" in r]
    for histogram, (selector, target) in HISTOGRAMS.items():
        good = f'{histogram}_bucket{{{selector},le="{target}"}}[30d]'
        assert any(good in r["expr"] and f"{histogram}_count{{{selector}}}[30d]" in r["expr"] for r in records), histogram


def test_every_slo_pages_fast_and_slow_and_tickets(prod_resources: list[Registered]) -> None:
    alerts = [r for g in groups(prod_resources) for r in g["rules"] if "alert" in r]
    by_slo: dict[str, set[tuple[str, str]]] = {}
    for alert in alerts:
        windows = tuple(w.split("rate")[1].split()[0] for w in alert["expr"].split(" and "))
        by_slo.setdefault(alert["labels"]["slo"], set()).add((alert["labels"]["severity"], "/".join(windows)))
    assert by_slo == {slo.name: {("page", "1h/5m"), ("page", "6h/30m"), ("ticket", "3d/6h")}
                      for slo in load_slos().slos}
    fast = next(a for a in alerts if a["alert"].endswith("1h"))
    assert "> 0.144" in fast["expr"]


def test_every_expression_is_valid_promql(prod_resources: list[Registered]) -> None:
    for group in groups(prod_resources):
        for rule in group["rules"]:
            promql_parser.parse(rule["expr"])


def test_dev_is_out_of_slo_scope(dev_resources: list[Registered]) -> None:
    assert by_metadata_name(dev_resources, RULE) == {}


def test_dashboards_for_the_five_layers_and_the_iceberg_tables(prod_resources: list[Registered]) -> None:
    maps = {n: m for n, m in by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap").items()
            if n.startswith("dashboard-")}
    assert len(maps) == 6 and all(m.inputs["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps.values())
    dashboards = {n: json.loads(next(iter(m.inputs["data"].values()))) for n, m in maps.items()}
    iceberg = json.dumps(dashboards["dashboard-iceberg-tables"])
    for metric in ("iceberg_table_snapshot_count", "iceberg_table_data_files", "iceberg_table_total_records",
                   "iceberg_table_total_size_bytes", "iceberg_compaction_duration_seconds"):
        assert metric in iceberg
    for dashboard in dashboards.values():
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                promql_parser.parse(target["expr"])


@pytest.mark.parametrize("slo", load_slos().slos, ids=lambda s: s.name)
def test_targets_are_ordered(slo: Any) -> None:
    assert slo.p50 < slo.p99 < slo.p999
