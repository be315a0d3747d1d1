"""Reading the scheduler's work on the rehearsal cluster: which pods wait on volumes, why one is unplaced, and
which pods a spread or anti-affinity rule counts."""

from __future__ import annotations

from typing import Any


def claims_volumes(pod: dict[str, Any]) -> bool:
    return any("persistentVolumeClaim" in v for v in pod["spec"].get("volumes") or [])


def scheduler_message(pod: dict[str, Any]) -> str:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return next((c.get("message", "") for c in conditions if c["type"] == "PodScheduled"), "not yet considered")


def selected_pods(pods: list[dict[str, Any]], pod: dict[str, Any], selector: dict[str, Any],
              own_keys: list[str] | None = None) -> list[dict[str, Any]]:
    """The pods of `pod`'s namespace a label selector picks, narrowed to those sharing `pod`'s values of `own_keys`
    (a spread's matchLabelKeys)."""
    labels = pod["metadata"].get("labels") or {}
    wanted = {**(selector.get("matchLabels") or {}), **{k: labels.get(k) for k in own_keys or [] if k in labels}}
    within = [(e["key"], set(e.get("values") or [])) for e in selector.get("matchExpressions") or [] if e["operator"] == "In"]
    assert all(e["operator"] == "In" for e in selector.get("matchExpressions") or []), selector

    def picked(other: dict[str, Any]) -> bool:
        theirs = other["metadata"].get("labels") or {}
        return all(theirs.get(k) == v for k, v in wanted.items()) and all(theirs.get(k) in vs for k, vs in within)

    return [p for p in pods if p["metadata"]["namespace"] == pod["metadata"]["namespace"] and picked(p)]
