"""ADR-0012's SLOs as Prometheus rules and Grafana dashboards (prod only: development is out of SLO scope).

Per SLO: recording rules for the error ratio over every alert window and the 30-day window, the error budget
left, and multi-window burn-rate alerts (fast and slow pages, a ticket). Dashboards are ConfigMaps labelled
for Grafana's dashboard sidecar: one per SLO layer, and one for the Iceberg table metrics of the blueprint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.grafana import DASHBOARD_LABEL, dashboard, panel
from foundry.catalog import Catalog
from foundry.config import Monitoring
from foundry.labels import common_labels, namespace_for
from foundry.slos import BURN_RATE_ALERTS, OBJECTIVE, PLATFORM_EMITTERS, RAW_WINDOWS, WINDOWS, Slo, SloCatalog
from foundry.topics import TopicRegistry

PLANE = "control"   # the observability objects live beside the control services
ICEBERG_METRICS = ("iceberg_table_snapshot_count", "iceberg_table_data_files", "iceberg_table_total_records",
                   "iceberg_table_total_size_bytes")


def emitter_jobs(slo: Slo, catalog: Catalog, topics: TopicRegistry) -> tuple[str, ...]:
    """The Prometheus jobs an SLO's histogram comes from: each emitter's PodMonitor, `<namespace>/<name>` (the
    job label the Prometheus Operator gives a PodMonitor's targets)."""
    names: set[str] = set()
    for emitter in slo.emitters:
        if emitter == "@topic-owners":
            names |= {t.owner for t in topics.topics}
        elif emitter == "@nats-subscribers":
            names |= {s.name for s in catalog.services if s.nats.subscribes}
        else:
            names.add(emitter)
    planes = {**PLATFORM_EMITTERS, **{s.name: s.plane for s in catalog.services}}
    return tuple(sorted(f"{namespace_for(planes[name])}/{name}" for name in names))


def recording_rules(slo: Slo, window: str, jobs: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The error ratio from the histogram over the short windows; the long ones (the ticket's 3d, the budget's 30d)
    average the 5-minute ratio, so no evaluation re-reads days of raw samples."""
    rules = [{"record": f"slo:{slo.record}:error_ratio_rate{w}", "expr": slo.error_ratio(w, jobs)} for w in RAW_WINDOWS]
    rules += [{"record": f"slo:{slo.record}:error_ratio_rate{w}",
               "expr": f"avg_over_time(slo:{slo.record}:error_ratio_rate5m[{w}])"}
              for w in dict.fromkeys((*WINDOWS, window)) if w not in RAW_WINDOWS]
    budget = 1 - OBJECTIVE
    rules.append({"record": f"slo:{slo.record}:error_budget_remaining",
                  "expr": f"1 - (slo:{slo.record}:error_ratio_rate{window} / {budget:g})"})
    return rules


def alert_rules(slo: Slo) -> list[dict[str, Any]]:
    budget = 1 - OBJECTIVE
    alerts = []
    for alert in BURN_RATE_ALERTS:
        threshold = f"{alert.factor * budget:g}"
        alerts.append({
            "alert": f"SLOBurn{slo.record.title().replace('_', '')}{alert.long}",
            "expr": (f"slo:{slo.record}:error_ratio_rate{alert.long} > {threshold} and "
                     f"slo:{slo.record}:error_ratio_rate{alert.short} > {threshold}"),
            "labels": {"severity": alert.severity, "slo": slo.name, "plane": slo.plane},
            "annotations": {
                "summary": f"{slo.layer}: error budget burning at {alert.factor:g}x over {alert.long}",
                "description": (f"More than {alert.factor * budget:.1%} of events over {alert.long} (and {alert.short}) "
                                f"are slower than the p99 target of {slo.p99 * 1000:g} ms (ADR-0012)."),
            },
        })
    return alerts


def slo_dashboard(slo: Slo, window: str, jobs: Sequence[str] = ()) -> dict[str, Any]:
    targets = [(q, slo.quantile(q, jobs=jobs)) for q in (0.5, 0.99, 0.999)]
    panels = [
        panel(1, "Latency quantiles (s)", [{"expr": expr, "legendFormat": f"p{q * 100:g}"} for q, expr in targets],
               thresholds=[slo.p50, slo.p99, slo.p999]),
        panel(2, f"Error budget remaining ({window})", [{"expr": f"slo:{slo.record}:error_budget_remaining"}],
               kind="stat"),
        panel(3, "Error ratio by window", [{"expr": f"slo:{slo.record}:error_ratio_rate{w}", "legendFormat": w}
                                           for w in WINDOWS]),
    ]
    return dashboard(f"openfoundry-slo-{slo.name}", f"SLO: {slo.layer}", panels)


def iceberg_dashboard() -> dict[str, Any]:
    panels = [panel(i, metric.removeprefix("iceberg_table_").replace("_", " "),
                     [{"expr": f"sum by (table) ({metric})", "legendFormat": "{{table}}"}])
              for i, metric in enumerate(ICEBERG_METRICS, start=1)]
    panels.append(panel(len(panels) + 1, "compaction duration p99 (s)", [{
        "expr": "histogram_quantile(0.99, sum by (le) (rate(iceberg_compaction_duration_seconds_bucket[1h])))"}]))
    return dashboard("openfoundry-iceberg-tables", "Iceberg tables (lakehouse blueprint)", panels)


@dataclass(frozen=True)
class ServiceLevelObjectivesArgs:
    monitoring: Monitoring
    slos: SloCatalog
    catalog: Catalog            # who emits each SLO's histogram
    topics: TopicRegistry
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class ServiceLevelObjectives(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceLevelObjectivesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:platform:ServiceLevelObjectives", name, None, opts)
        namespace = namespace_for(PLANE)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        rule_labels = {**common_labels(PLANE), **args.monitoring.selector_labels}
        groups = []
        jobs = {slo.name: emitter_jobs(slo, args.catalog, args.topics) for slo in args.slos.slos}
        for slo in args.slos.slos:
            groups.append({"name": f"slo-{slo.name}-records",
                           "rules": recording_rules(slo, args.slos.window, jobs[slo.name])})
            groups.append({"name": f"slo-{slo.name}-alerts", "rules": alert_rules(slo)})
        k8s.apiextensions.CustomResource(
            "openfoundry-slos-prometheusrule", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="openfoundry-slos", namespace=namespace, labels=rule_labels),
            spec={"groups": groups}, opts=child)
        dashboards = {f"slo-{s.name}": slo_dashboard(s, args.slos.window, jobs[s.name]) for s in args.slos.slos}
        dashboards["iceberg-tables"] = iceberg_dashboard()
        for key, board in dashboards.items():
            k8s.core.v1.ConfigMap(
                f"dashboard-{key}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"dashboard-{key}", namespace=namespace,
                                                    labels={**common_labels(PLANE), **DASHBOARD_LABEL}),
                data={f"{key}.json": json.dumps(board, indent=1, sort_keys=True)}, opts=child)
        self.register_outputs({"slos": [s.name for s in args.slos.slos], "dashboards": sorted(dashboards)})
