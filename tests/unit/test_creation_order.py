"""The order the engine creates the platform in, as the SDK states it to the engine (each resource's explicit
`depends_on` and the resources its inputs' Outputs come from): every object after its namespace, every custom
resource after the chart that installs its definition. Out of order, the API server refuses the object
(`namespaces "…" not found`, `no matches for kind`) and the first `up` fails half-way."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import BuiltStack
from tests.mocks import Registered

NAMESPACE = "kubernetes:core/v1:Namespace"
CHART = "kubernetes:helm.sh/v4:Chart"

# The official chart that installs each API group's CustomResourceDefinitions (each operator's chart docs).
CHART_OF_GROUP = {
    "cert-manager.io": "cert-manager",
    "trust.cert-manager.io": "trust-manager",
    "kafka.strimzi.io": "strimzi",
    "postgresql.cnpg.io": "cloudnative-pg",
    "barmancloud.cnpg.io": "plugin-barman-cloud",
    "ceph.rook.io": "rook-ceph",
    "objectbucket.io": "rook-ceph",   # the rook-ceph chart carries the bucket provisioner's CRDs
    "flink.apache.org": "flink-kubernetes-operator",
    "jetstream.nats.io": "nack",
    "k8ssandra.io": "k8ssandra-operator",
    "medusa.k8ssandra.io": "k8ssandra-operator",
}
# Where the operators run: the program makes these namespaces when it installs the operators, and finds them
# when the stack says they are installed outside it (`operators.install: external`).
OPERATOR_NAMESPACES = {"cert-manager", "cnpg-system", "flink-system", "k8ssandra-operator", "rook-ceph", "strimzi"}
# Groups the cluster has before the platform: Kubernetes' own, and the Prometheus Operator that the stack's
# `monitoring` section points at (outside the platform, like the Prometheus it runs).
PRESENT_BEFORE = {"core", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
                  "storage.k8s.io", "monitoring.coreos.com"}


def api_group(type_: str) -> str:
    """`kubernetes:<group>/<version>:<Kind>` → group."""
    return type_.split(":")[1].rpartition("/")[0]


def namespace_of(resource: Registered) -> str | None:
    if resource.type == CHART:
        return resource.inputs.get("namespace")
    metadata = resource.inputs.get("metadata")
    return metadata.get("namespace") if isinstance(metadata, dict) else None


def created_before(resources: list[Registered]) -> Callable[[Registered], set[tuple[str, str]]]:
    """Everything the engine finishes before it creates a resource: its dependencies, theirs, and so on."""
    direct = {(r.type, r.name): r.depends_on for r in resources}

    def before(resource: Registered) -> set[tuple[str, str]]:
        seen: set[tuple[str, str]] = set()
        pending = list(resource.depends_on)
        while pending:
            key = pending.pop()
            if key not in seen:
                seen.add(key)
                pending.extend(direct.get(key, ()))
        return seen
    return before


def test_every_object_is_created_after_its_namespace(built: BuiltStack) -> None:
    namespaces = {r.inputs["metadata"]["name"]: (r.type, r.name) for r in built.resources if r.type == NAMESPACE}
    before = created_before(built.resources)
    placed = [(r, namespace_of(r)) for r in built.resources if namespace_of(r)]
    early = [f"{r.type} {r.name} in {ns}" for r, ns in placed if ns in namespaces and namespaces[ns] not in before(r)]
    assert early == []
    outside = {ns for _, ns in placed} - set(namespaces)
    found = OPERATOR_NAMESPACES if built.config.operators.install == "external" else set()
    assert outside <= {built.config.monitoring.namespace, *found}
    assert set(namespaces) <= {ns for _, ns in placed}
    assert {f"openfoundry-{plane}" for plane in ("compute", "control", "edge", "ingestion", "storage")} <= set(namespaces)


def test_every_custom_resource_is_created_after_its_operator_chart(prod_resources: list[Registered]) -> None:
    """prod installs the operators (dev finds them installed)."""
    before = created_before(prod_resources)
    kubernetes = [r for r in prod_resources if r.type.startswith("kubernetes:") and r.type != CHART]
    groups = {api_group(r.type) for r in kubernetes}
    assert groups - PRESENT_BEFORE - set(CHART_OF_GROUP) == set()
    assert set(CHART_OF_GROUP) <= groups
    early = [f"{r.type} {r.name} before the {CHART_OF_GROUP[api_group(r.type)]} chart" for r in kubernetes
             if api_group(r.type) in CHART_OF_GROUP and (CHART, CHART_OF_GROUP[api_group(r.type)]) not in before(r)]
    assert early == []
