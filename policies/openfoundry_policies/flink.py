"""The pods the Flink operator 1.15.0 and Flink 1.20 make of a FlinkDeployment, as the policies judge them.

FlinkConfigBuilder.applyPodTemplate merges `podTemplate` with `jobManager.podTemplate` for the JobManager and with
`taskManager.podTemplate` for the TaskManagers (FlinkUtils.mergeInto). Flink then takes `flink-main-container` out
of the template (an empty one if it has none), writes into it the image and the role's cpu and memory as requests
and limits (Init{JobManager,TaskManager}Decorator; the limit factors default to 1.0), and appends it after the
template's other containers (Kubernetes{JobManager,TaskManager}Factory)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FLINK_DEPLOYMENT = "kubernetes:flink.apache.org/v1beta1:FlinkDeployment"
FLINK_MAIN_CONTAINER = "flink-main-container"
FLINK_ROLES = ("jobManager", "taskManager")
# dynamic: the deployment may set it; Flink reads a boolean case-insensitively (ConfigurationUtils.convertToBoolean)
MERGE_BY_NAME = "kubernetes.operator.pod-template.merge-arrays-by-name"


def flink_pod(spec: Mapping[str, Any], role: str) -> Mapping[str, Any]:
    """The pod spec the operator and Flink make for `role` (`jobManager` or `taskManager`)."""
    pod = dict(flink_pod_template(spec, role).get("spec") or {})
    resource = (spec.get(role) or {}).get("resource") or {}
    quantities = {key: str(resource[key]) for key in ("cpu", "memory") if resource.get(key) is not None}
    containers = pod.get("containers") or []
    main = dict(next((c for c in containers if c.get("name") == FLINK_MAIN_CONTAINER), {"name": FLINK_MAIN_CONTAINER}))
    if spec.get("image"):   # the operator sets kubernetes.container.image from it; else the template's image stays
        main["image"] = spec["image"]
    resources = main.get("resources") or {}
    main["resources"] = {**resources, "requests": {**(resources.get("requests") or {}), **quantities},
                         "limits": {**(resources.get("limits") or {}), **quantities}}
    pod["containers"] = [*(c for c in containers if c.get("name") != FLINK_MAIN_CONTAINER), main]
    return pod


def flink_pod_template(spec: Mapping[str, Any], role: str) -> Mapping[str, Any]:
    by_name = str((spec.get("flinkConfiguration") or {}).get(MERGE_BY_NAME)).lower() == "true"
    return _merge_into(spec.get("podTemplate") or {}, (spec.get(role) or {}).get("podTemplate") or {}, by_name)


def _merge_into(to: Any, update: Any, by_name: bool) -> Any:
    """FlinkUtils.mergeInto: an object's fields merged one by one; a field that is neither an object nor a list
    takes the update's value, and what is not an object takes nothing from the update."""
    if not isinstance(to, Mapping) or not isinstance(update, Mapping):
        return to
    merged = dict(to)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(current, list) and isinstance(value, list):
            merged[key] = _merge_arrays(current, value, by_name)
        elif isinstance(current, Mapping):
            merged[key] = _merge_into(current, value, by_name)
        else:
            merged[key] = value
    return merged


def _merge_arrays(to: list[Any], update: list[Any], by_name: bool) -> list[Any]:
    """FlinkUtils.mergeArray: by name when asked and every element of both lists has one, else position by
    position, the update's extra elements appended."""
    if by_name and all(isinstance(e, Mapping) and "name" in e for e in [*to, *update]):
        named = {e["name"]: e for e in to}
        for element in update:
            named[element["name"]] = _merge_into(named[element["name"]], element, by_name) \
                if element["name"] in named else element
        return list(named.values())
    merged = list(to)
    for index, value in enumerate(update):
        if index < len(merged):
            merged[index] = _merge_into(merged[index], value, by_name)
        else:
            merged.append(value)
    return merged
