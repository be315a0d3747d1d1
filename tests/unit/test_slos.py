"""ADR-0012's SLOs: recording rules, burn-rate alerts and dashboards, in prod only; every expression parses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from foundry.catalog import Service
from foundry.config import ConfigErrors
from foundry.labels import namespace_for
from foundry.slos import SLO_PATH as SLO_FILE
from foundry.slos import load_slos
from tests.mocks import POD_MONITOR, Registered, by_metadata_name, by_namespaced_name

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
HISTOGRAMS = {  # ADR-0012's SLI histograms and their p99 targets, as the facts list them
    "flight_sql_query_duration_seconds": ('cache="hit",query_kind="point"', "0.02"),
    "datafusion_iceberg_scan_duration_seconds": ('bytes_bucket="1g",nodes="1"', "1.5"),
    "kafka_producer_request_latency_seconds": ('acks="all",topology="intra_az"', "0.025"),
    "vespa_query_latency_seconds": ('query_profile="hybrid_top50"', "0.08"),
    "nats_control_event_e2e_seconds": ('subject_class="control"', "0.005"),
}


def groups(resources: list[Registered]) -> list[dict[str, Any]]:
    rule = by_metadata_name(resources, RULE)["openfoundry-slos"]
    found: list[dict[str, Any]] = rule.inputs["spec"]["groups"]
    return found


def test_prod_measures_the_five_slis_against_their_p99_targets(prod_resources: list[Registered]) -> None:
    records = {r["record"]: r["expr"] for g in groups(prod_resources) for r in g["rules"] if "record" in r}
    for histogram, (selector, target) in HISTOGRAMS.items():
        (record,) = [name for name, expr in records.items() if name.endswith(":error_ratio_rate5m")
                     and f"{histogram}_bucket{{{selector},le=\"{target}\"," in expr and f"{histogram}_count{{{selector}," in expr]
        # the 30-day budget window averages the recorded 5-minute ratio instead of re-reading 30 days of samples
        base = record.removesuffix("5m")
        assert records[f"{base}30d"] == f"avg_over_time({record}[30d])"
        assert records[f"{base}3d"] == f"avg_over_time({record}[3d])"
        assert "[30d]" not in " ".join(e for n, e in records.items() if n.startswith(base) and "avg_over_time" not in e)


def selectors(node: Any) -> Iterator[Any]:
    """Every vector selector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        yield node
    for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from selectors(child)
    for child in getattr(node, "args", None) or []:
        yield from selectors(child)


def test_the_slo_rules_read_only_series_a_podmonitor_the_prometheus_selects_scrapes(
        prod_resources: list[Registered]) -> None:
    monitors = {key: m.inputs for key, m in by_namespaced_name(prod_resources, POD_MONITOR).items()}
    kinds = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
    workloads = [r.inputs for r in prod_resources if r.type in kinds]
    read = [s for g in groups(prod_resources) for r in g["rules"] for s in selectors(promql_parser.parse(r["expr"]))
            if not s.name.startswith("slo:")]
    assert len(read) >= 20
    for selector in read:
        (job,) = [m.value for m in selector.matchers.matchers if m.name == "job"]
        for alternative in job.split("|"):
            namespace, name = alternative.split("/")
            monitor = monitors[(namespace, name)]   # the Prometheus Operator's job label: <namespace>/<podmonitor>
            assert {"release": "kube-prometheus-stack"}.items() <= monitor["metadata"]["labels"].items()
            wanted = monitor["spec"]["selector"]["matchLabels"]
            (port,) = [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]]
            scraped = [w for w in workloads if w["metadata"]["namespace"] == namespace
                       and wanted.items() <= w["spec"]["template"]["metadata"]["labels"].items()
                       and any(p.get("name") == port for c in w["spec"]["template"]["spec"]["containers"]
                               for p in c.get("ports") or [])]
            assert scraped, (selector.name, alternative)


def test_every_running_service_is_scraped_on_a_named_metrics_port(prod_resources: list[Registered],
                                                                  deployed: list[Service]) -> None:
    monitors = {key: m.inputs for key, m in by_namespaced_name(prod_resources, POD_MONITOR).items()}
    assert deployed
    for service in deployed:
        monitor = monitors[(namespace_for(service.plane), service.name)]
        port, number = service.ports.metrics
        assert monitor["spec"]["podMetricsEndpoints"] == [{"port": port, "path": "/metrics"}]
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        (deployment,) = [r.inputs for r in prod_resources if r.type == "kubernetes:apps/v1:Deployment"
                         and r.inputs["metadata"]["name"] == service.name]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"name": port, "containerPort": number, "protocol": "TCP"} in container["ports"]


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
    # five SLO layers, the Iceberg tables, the lakehouse analytics (tests/unit/test_analytics.py)
    assert len(maps) == 7 and all(m.inputs["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps.values())
    dashboards = {n: json.loads(next(iter(m.inputs["data"].values()))) for n, m in maps.items()}
    iceberg = json.dumps(dashboards["dashboard-iceberg-tables"])
    for metric in ("iceberg_table_snapshot_count", "iceberg_table_data_files", "iceberg_table_total_records",
                   "iceberg_table_total_size_bytes", "iceberg_compaction_duration_seconds"):
        assert metric in iceberg
    prometheus = [d for n, d in dashboards.items() if n != "dashboard-lakehouse-analytics"]   # that one is SQL
    assert len(prometheus) == 6
    for dashboard in prometheus:
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                promql_parser.parse(target["expr"])


@pytest.mark.parametrize("slo", load_slos().slos, ids=lambda s: s.name)
def test_targets_are_ordered(slo: Any) -> None:
    assert slo.p50 < slo.p99 < slo.p999


def test_a_bad_slo_file_is_one_problem_per_entry_and_field_never_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "slos.yaml"
    bad.write_text(SLO_FILE.read_text().replace("p99: 0.02,", "p99: fast,").replace("window: 30d", "window: 30 days"))
    with pytest.raises(ConfigErrors) as raised:
        load_slos(bad)
    assert [p.path for p in raised.value.problems] == [f"{bad}: window", f"{bad}: slos[flight-sql-point-query].p99"]
    (tmp_path / "broken.yaml").write_text("slos: [")
    with pytest.raises(ConfigErrors) as raised:
        load_slos(tmp_path / "broken.yaml")
    assert [p.found for p in raised.value.problems] == ["text that is not YAML"]
