"""Grafana as code: dashboards and data sources as objects its sidecars load (kube-prometheus-stack's Grafana
watches ConfigMaps labelled `grafana_dashboard` and Secrets labelled `grafana_datasource`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DATASOURCE_LABEL = {"grafana_datasource": "1"}


def panel(panel_id: int, title: str, targets: list[dict[str, Any]], kind: str = "timeseries",
          thresholds: Sequence[float] = (), datasource: dict[str, str] | None = None) -> dict[str, Any]:
    """A panel on a two-column grid; Prometheus (the dashboard's `datasource` variable) unless told otherwise."""
    steps = [{"color": "green", "value": None}] + [
        {"color": color, "value": value} for color, value in zip(("yellow", "orange", "red"), thresholds, strict=False)]
    return {"id": panel_id, "type": kind, "title": title,
            "gridPos": {"h": 8, "w": 12, "x": 12 * ((panel_id - 1) % 2), "y": 8 * ((panel_id - 1) // 2)},
            "datasource": datasource or {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
            "targets": [{"refId": chr(ord("A") + i), **t} for i, t in enumerate(targets)]}


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], tags: Sequence[str] = ("openfoundry", "slo"),
              variables: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    templating = list(variables) if variables is not None else [
        {"name": "datasource", "type": "datasource", "query": "prometheus"}]
    return {"uid": uid, "title": title, "schemaVersion": 39, "tags": list(tags), "timezone": "utc",
            "time": {"from": "now-24h", "to": "now"}, "panels": panels, "templating": {"list": templating}}
