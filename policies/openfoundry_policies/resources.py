"""Reading Kubernetes resources as the policy engine hands them over: a type string and raw camelCase inputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openfoundry_policies.flink import FLINK_DEPLOYMENT, FLINK_ROLES, flink_pod

# Kinds that carry a pod template: Kubernetes' own, and custom resources from whose template an operator makes pods.
WORKLOAD_TYPES = {
    "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Pod", FLINK_DEPLOYMENT,
}
LONG_RUNNING = {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"}
EXEMPT_ANNOTATION = "policy.openfoundry.dev/exempt"   # comma-separated policy names, with the reason beside it


@dataclass(frozen=True)
class Resource:
    """What a policy reads: the type (`kubernetes:<apiVersion>:<Kind>`), the inputs, and whether it is protected."""

    type: str
    props: Mapping[str, Any]
    name: str = ""
    protected: bool = False
    children: tuple[Any, ...] = field(default=())

    @property
    def kind(self) -> str:
        return self.type.rpartition(":")[2]

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.props.get("metadata") or {}

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.props.get("spec") or {}

    @property
    def label(self) -> str:
        meta = self.metadata
        return f"{self.kind} {meta.get('namespace', '')}/{meta.get('name', self.name)}".replace(" /", " ")

    @property
    def annotations(self) -> Mapping[str, Any]:
        return self.metadata.get("annotations") or {}

    def exempt_from(self, policy: str) -> bool:
        return policy in [p.strip() for p in str(self.annotations.get(EXEMPT_ANNOTATION, "")).split(",")]


def pod_spec(resource: Resource) -> Mapping[str, Any] | None:
    """The pod template of a workload, wherever its kind keeps it."""
    if resource.type not in WORKLOAD_TYPES:
        return None
    if resource.kind == "Pod":
        return resource.spec
    if resource.type == FLINK_DEPLOYMENT:
        return flink_pod(resource.spec, "jobManager")
    spec = resource.spec
    if resource.kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def pods(resource: Resource) -> list[tuple[str, Mapping[str, Any]]]:
    """Every pod template a workload makes pods from, each with the name a message gives it: a FlinkDeployment's
    JobManager and TaskManagers come from different templates."""
    if resource.type == FLINK_DEPLOYMENT:
        return [(f"{resource.label}: {role.lower()}", flink_pod(resource.spec, role)) for role in FLINK_ROLES]
    pod = pod_spec(resource)
    return [] if pod is None else [(resource.label, pod)]


def containers(pod: Mapping[str, Any], with_init: bool = True) -> Iterator[Mapping[str, Any]]:
    yield from pod.get("containers") or []
    if with_init:
        yield from pod.get("initContainers") or []


def pod_labels(resource: Resource) -> Mapping[str, Any]:
    spec = resource.spec
    if resource.type == FLINK_DEPLOYMENT:   # the operator merges its template's labels into every pod
        return ((spec.get("podTemplate") or {}).get("metadata") or {}).get("labels") or {}
    if resource.kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """A LabelSelector's matchLabels against labels (matchExpressions are not used by this platform's budgets)."""
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())
