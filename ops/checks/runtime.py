"""The platform as it will run, read from a stack's rendered manifests: every resource, every pod (the program's
own pod templates and the pods the operators make from its custom resources), every NetworkPolicy (the program's
and the ones Strimzi writes), and the peers outside the stack a flow starts or ends at.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.cluster.operators import NACK_POD_LABELS, chart_values, operator_specs
from foundry.config import StackConfig
from ops.engine.toolchain import REPO

sys.path.insert(0, str(REPO / "policies"))

from openfoundry_policies.connect import CONNECT, connect_network_policies
from openfoundry_policies.operands import (
    KAFKA,
    OperatorSettings,
    Pod,
    operand_pods,
    strimzi_network_policies,
)
from openfoundry_policies.resources import Resource

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def load_manifests(directory: Path) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents = [yaml.load(path.read_text(), Loader=loader) for path in sorted(directory.rglob("*.yaml"))]
    return [d for d in documents if isinstance(d, dict)]


def as_resource(document: Mapping[str, Any]) -> Resource:
    return Resource(f"kubernetes:{document.get('apiVersion')}:{document.get('kind')}", document,
                    str((document.get("metadata") or {}).get("name", "")))


def operator_settings() -> OperatorSettings:
    """How the operators make their pods: the values the program installs them with (the same for external)."""
    values = {spec.key: chart_values(spec.key) for spec in operator_specs()}
    nack = next(spec.namespace for spec in operator_specs() if spec.key == "nack")
    return OperatorSettings.from_chart_values(values, nack)


def _template_of(document: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = document.get("spec") or {}
    if document.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return spec.get("template") or {}


def program_pods(documents: list[dict[str, Any]]) -> Iterator[Pod]:
    """The pods of the program's own workloads, one per pod template."""
    for document in (d for d in documents if d.get("kind") in WORKLOADS):
        template = _template_of(document)
        spec = template.get("spec") or {}
        ports = {p["name"]: p["containerPort"] for c in spec.get("containers") or [] for p in c.get("ports") or []
                 if p.get("name")}
        metadata = document.get("metadata") or {}
        yield Pod(f"{document['kind']} {metadata.get('namespace')}/{metadata.get('name')}", metadata.get("namespace", ""),
                  dict((template.get("metadata") or {}).get("labels") or {}), ports, spec)


@dataclass(frozen=True)
class Runtime:
    """A stack's pods, NetworkPolicies and resources, and the peers outside it."""

    config: StackConfig
    resources: list[Resource]
    pods: list[Pod]
    policies: list[dict[str, Any]]

    @classmethod
    def of(cls, config: StackConfig, directory: Path) -> Runtime:
        documents = load_manifests(directory)
        resources = [as_resource(d) for d in documents]
        settings = operator_settings()
        pods = [*program_pods(documents), *operand_pods(resources, settings)]
        policies = [d for d in documents if d.get("kind") == "NetworkPolicy"]
        policies += [p for r in resources if r.type == KAFKA for p in strimzi_network_policies(r, settings)]
        policies += [p for r in resources if r.type == CONNECT for p in connect_network_policies(r, settings.strimzi_namespace)]
        return cls(config, resources, pods, policies)

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def selected(self, namespace: str, selector: Mapping[str, str]) -> list[Pod]:
        """The pods a label selector (matchLabels) picks in a namespace."""
        return [p for p in self.pods if p.namespace == namespace and selector.items() <= p.labels.items()]

    # --- peers outside the stack -----------------------------------------------------------------------------

    def prometheus(self) -> Pod:
        return Pod("Prometheus", self.config.monitoring.namespace, {"app.kubernetes.io/name": "prometheus"})

    def grafana(self) -> Pod:
        """kube-prometheus-stack's Grafana, beside Prometheus."""
        return Pod("Grafana", self.config.monitoring.namespace, {"app.kubernetes.io/name": "grafana"})

    def ingress_controller(self) -> Pod:
        return Pod("the ingress controller", self.config.edge.ingress_namespace,
                   {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"})

    @staticmethod
    def dns() -> Pod:
        return Pod("cluster DNS", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53, "dns-tcp": 53})

    @staticmethod
    def operator(key: str) -> Pod:
        """An operator's own pod, labelled as its official chart labels it."""
        namespaces = {spec.key: spec.namespace for spec in operator_specs()}
        namespaces["cass-operator"] = namespaces["k8ssandra-operator"]   # a subchart of it, in the same release
        labels = {"cloudnative-pg": {"app.kubernetes.io/name": "cloudnative-pg"},
                  "strimzi": {"name": "strimzi-cluster-operator", "strimzi.io/kind": "cluster-operator"},
                  "flink-kubernetes-operator": {"app.kubernetes.io/name": "flink-kubernetes-operator"},
                  "nack": dict(NACK_POD_LABELS),
                  # the chart's selector labels (k8ssandra-common.selectorLabels: app.kubernetes.io/name = the chart)
                  "k8ssandra-operator": {"app.kubernetes.io/name": "k8ssandra-operator"},
                  "cass-operator": {"app.kubernetes.io/name": "cass-operator"}}[key]
        return Pod(f"the {key} operator", namespaces[key], labels)


API_SERVER_IP = "192.0.2.1"          # outside every pod network: the API server's endpoint (TEST-NET-1)
IDENTITY_PROVIDER_IP = "203.0.113.10"  # the OIDC issuer, outside the cluster (TEST-NET-3)
