"""The pods and the NetworkPolicy Strimzi makes for a KafkaConnect (the outbox relay), as Strimzi 1.2.0 makes them:
labels (Labels.java:492-506), the REST API on 8083 (KafkaConnectCluster.java:115-118), the metrics port when
metricsConfig is set, the security contexts (a template's replaces the provider's whole), and the policy it writes
when connectors are managed as resources (KafkaConnectCluster.java:696-727: ingress only; 8083 from its own pods and
the Cluster Operator, metrics from everyone)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from openfoundry_policies.resources import Resource

CONNECT = "kubernetes:kafka.strimzi.io/v1:KafkaConnect"
REST_PORT, METRICS_PORT = 8083, 9404
CONNECTOR_RESOURCES = "strimzi.io/use-connector-resources"

ContainerSecurity = Callable[[Mapping[str, Any] | None], "dict[str, Any] | None"]


def _ident(resource: Resource) -> tuple[str, str]:
    return str(resource.metadata.get("name", "")), str(resource.metadata.get("namespace", ""))


def connect_labels(connect: Resource) -> dict[str, str]:
    name, _ = _ident(connect)
    template = (connect.spec.get("template") or {}).get("pod") or {}
    own = ((template.get("metadata") or {}).get("labels")) or {}
    return {**own, "strimzi.io/cluster": name, "strimzi.io/kind": "KafkaConnect", "strimzi.io/name": f"{name}-connect",
            "strimzi.io/component-type": "kafka-connect", "app.kubernetes.io/name": "kafka-connect",
            "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "strimzi-cluster-operator"}


def connect_pod_spec(connect: Resource, container_security: ContainerSecurity) -> tuple[dict[str, int], dict[str, Any]]:
    """The ports a worker opens and its PodSpec (security contexts and the container's named ports)."""
    template = connect.spec.get("template") or {}
    ports = {"rest-api": REST_PORT, **({"tcp-prometheus": METRICS_PORT} if connect.spec.get("metricsConfig") else {})}
    container: dict[str, Any] = {"name": f"{_ident(connect)[0]}-connect", "image": connect.spec.get("image", "strimzi/kafka"),
                                 "ports": [{"name": n, "containerPort": p} for n, p in ports.items()]}
    security = container_security((template.get("connectContainer") or {}).get("securityContext"))
    if security is not None:
        container["securityContext"] = security
    pod_security = (template.get("pod") or {}).get("securityContext")
    return ports, {"containers": [container], **({"securityContext": dict(pod_security)} if pod_security else {})}


def connect_network_policies(connect: Resource, operator_namespace: str) -> Iterator[dict[str, Any]]:
    if str((connect.metadata.get("annotations") or {}).get(CONNECTOR_RESOURCES, "")).lower() != "true":
        return
    name, namespace = _ident(connect)
    workers = {"strimzi.io/cluster": name, "strimzi.io/kind": "KafkaConnect", "strimzi.io/name": f"{name}-connect"}
    operator = {"podSelector": {"matchLabels": {"strimzi.io/kind": "cluster-operator"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": operator_namespace}}}
    ingress: list[dict[str, Any]] = [{"ports": [{"port": REST_PORT, "protocol": "TCP"}],
                                      "from": [{"podSelector": {"matchLabels": workers}}, operator]}]
    if connect.spec.get("metricsConfig"):
        ingress.append({"ports": [{"port": METRICS_PORT, "protocol": "TCP"}]})
    yield {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": f"{name}-connect", "namespace": namespace},
           "spec": {"podSelector": {"matchLabels": workers}, "ingress": ingress}}
