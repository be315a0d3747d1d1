"""Would the cluster admit every pod the platform runs? Each pod (the program's pod templates and the pods the
operators make from its custom resources) goes through the Pod Security Standards at the level its namespace
enforces, evaluated by the API server's own admission library (engines/podsecurity).

Namespaces the stack renders carry their level; an operator's namespace that only a managed install creates gets
the level the program would give it (components/cluster/operators.py). Exits 1 when a pod would be refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from components.cluster.operators import operator_specs
from ops.checks import engines
from ops.checks.runtime import Pod, Runtime

ENFORCE = "pod-security.kubernetes.io/enforce"


@dataclass(frozen=True)
class Admission:
    pod: Pod
    level: str
    allowed: bool
    violations: tuple[str, ...]


def namespace_levels(runtime: Runtime) -> dict[str, str]:
    """The Pod Security level each namespace enforces: rendered Namespaces' labels, else what the operators'
    namespaces are given when the program installs them."""
    levels = {spec.namespace: spec.pod_security for spec in operator_specs() if spec.plane is None}
    for namespace in runtime.of_kind("Namespace"):
        label = (namespace.metadata.get("labels") or {}).get(ENFORCE)
        if label:
            levels[str(namespace.metadata.get("name"))] = str(label)
    return levels


def admit(pods: Iterable[Pod], levels: Mapping[str, str]) -> list[Admission]:
    checked = [p for p in pods if p.namespace in levels]
    request = {"pods": [{"id": str(i), "level": levels[p.namespace],
                         "metadata": {"name": p.name.replace(" ", "-").replace("/", "-").lower()[:63],
                                      "namespace": p.namespace, "labels": dict(p.labels)},
                         "spec": _pod_spec(p)} for i, p in enumerate(checked)]}
    results = engines.call("podsecurity", request)["results"]
    return [Admission(pod, levels[pod.namespace], bool(r["allowed"]), tuple(r["violations"]))
            for pod, r in zip(checked, results, strict=True)]


def _pod_spec(pod: Pod) -> dict[str, object]:
    """The pod spec as the API server would see it: containers need a name and an image."""
    spec = dict(pod.spec)
    for key in ("containers", "initContainers"):
        spec[key] = [{"image": "registry.invalid/operand", **container} for container in spec.get(key) or []]
    if not spec["containers"]:
        spec["containers"] = [{"name": "main", "image": "registry.invalid/operand"}]
    return spec


def check(runtime: Runtime) -> list[Admission]:
    return admit(runtime.pods, namespace_levels(runtime))
