"""What the engine holds the program to, beyond each resource's inputs: where each resource sits in the tree (its
URN), that no two resources claim the same URN, and what each component records as its outputs."""

from __future__ import annotations

import re
from collections import Counter

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.namespaces import PlaneNamespaces, PlaneNamespacesArgs
from foundry.labels import namespace_for
from tests.mocks import STACK, Registered, register

NAMESPACED_PLANES = ("storage", "ingestion", "compute", "control", "edge")


def test_only_the_provider_and_the_top_level_components_sit_under_the_stack(prod_resources: list[Registered]) -> None:
    """A child that loses `parent=self` moves to the stack: a new URN, so the next `up` replaces it (a Namespace
    replaced is everything in it deleted)."""
    under_stack = Counter(r.type for r in prod_resources if r.parent == STACK)
    assert under_stack == Counter({
        "pulumi:providers:kubernetes": 1, "openfoundry:platform:PlaneNamespaces": 1, "openfoundry:platform:Trust": 1,
        "openfoundry:platform:Operators": 1, "openfoundry:platform:Jwt": 1, "openfoundry:storage:StoragePlane": 1,
        "openfoundry:relational:RelationalStatePlane": 1, "openfoundry:ingestion:IngestionPlane": 1,
        "openfoundry:control:ControlPlane": 1, "openfoundry:compute:ComputePlane": 1,
        "openfoundry:edge:GatewayCache": 1, "openfoundry:edge:Edge": 1, "openfoundry:platform:ServiceLevelObjectives": 1,
        **{f"openfoundry:{plane}:PlaneServices": 1 for plane in NAMESPACED_PLANES},
    })
    assert all(r.parent.startswith("openfoundry:") for r in prod_resources if r.parent != STACK)


def test_the_plane_namespaces_own_their_namespaces_and_network_policies(prod_resources: list[Registered]) -> None:
    owned = {(r.type, r.name) for r in prod_resources if r.parent == "openfoundry:platform:PlaneNamespaces"}
    assert owned == {
        *(("kubernetes:core/v1:Namespace", namespace_for(plane)) for plane in NAMESPACED_PLANES),
        *(("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{plane}-{rule}")
          for plane in NAMESPACED_PLANES for rule in ("default-deny", "allow-dns")),
    }


def test_no_two_resources_claim_the_same_urn(prod_resources: list[Registered], dev_resources: list[Registered]) -> None:
    """A URN is the parent's type, the type and the name: the engine refuses a program that registers one twice."""
    for resources in (prod_resources, dev_resources):
        urns = Counter((r.parent, r.type, r.name) for r in resources)
        assert [urn for urn, count in urns.items() if count > 1] == []
        assert len(urns) > 1000 if resources is prod_resources else len(urns) > 500


def test_every_component_records_its_outputs(prod_resources: list[Registered]) -> None:
    components = [r for r in prod_resources if r.type.startswith("openfoundry:")]
    assert len(components) > 70
    assert [(r.type, r.name) for r in components if not r.outputs] == []


def test_the_plane_namespaces_record_each_planes_namespace(prod_resources: list[Registered]) -> None:
    namespaces = next(r for r in prod_resources if r.type == "openfoundry:platform:PlaneNamespaces")
    assert namespaces.outputs == {"namespaces": {plane: f"openfoundry-{plane}" for plane in NAMESPACED_PLANES}}


# kubernetes.io/docs/concepts/overview/working-with-objects/labels: the API server refuses any other key or value
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
PLANES = {"storage", "ingestion", "compute", "control", "edge", "relational"}
CLUSTER_WIDE = {"openfoundry:platform:Operators", "openfoundry:platform:Trust"}  # no plane owns them


def _label_problems(labels: dict[str, object]) -> list[str]:
    problems = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and not (len(prefix) <= 253 and DNS_SUBDOMAIN.fullmatch(prefix))) \
                or not (len(name) <= 63 and LABEL_NAME.fullmatch(name)):
            problems.append(f"key {key!r}")
        if not isinstance(value, str) or len(value) > 63 or (value and not LABEL_NAME.fullmatch(value)):
            problems.append(f"{key}={value!r}")
    return problems


def test_every_object_carries_the_platform_labels_in_a_form_the_api_server_accepts(
        prod_resources: list[Registered], dev_resources: list[Registered]) -> None:
    for resources in (prod_resources, dev_resources):
        objects = [r for r in resources if r.type.startswith("kubernetes:") and "metadata" in r.inputs]
        assert len(objects) > 700
        for r in objects:
            labels = r.inputs["metadata"].get("labels") or {}
            assert _label_problems(labels) == [], (r.type, r.name)
            assert (labels.get("app.kubernetes.io/part-of"), labels.get("app.kubernetes.io/managed-by")) \
                == ("openfoundry", "pulumi"), (r.type, r.name)
            if r.parent not in CLUSTER_WIDE:
                assert labels.get("openfoundry.io/plane") in PLANES, (r.type, r.name)


def test_every_network_policy_port_names_its_protocol_as_the_api_spells_it(prod_resources: list[Registered]) -> None:
    """The API server accepts TCP, UDP and SCTP only; omitted means TCP, and the platform always says it."""
    policies = [r for r in prod_resources if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    ports = [(p.name, port) for p in policies for direction in ("ingress", "egress")
             for rule in p.inputs["spec"].get(direction) or [] for port in rule.get("ports") or []]
    assert len(ports) > 500
    assert [(name, port) for name, port in ports if port.get("protocol") not in ("TCP", "UDP", "SCTP")] == []


def test_the_plane_namespaces_take_the_options_their_caller_gives() -> None:
    """A component passes its `opts` to Pulumi: here a dependency, which the engine then creates first."""
    def program() -> None:
        provider = k8s.Provider("k8s")
        gate = k8s.core.v1.ConfigMap("gate", metadata={"name": "gate", "namespace": "default"},
                                     opts=pulumi.ResourceOptions(provider=provider))
        PlaneNamespaces("planes", PlaneNamespacesArgs(planes=["storage"], provider=provider),
                        opts=pulumi.ResourceOptions(depends_on=[gate]))

    (component,) = [r for r in register("prod", program) if r.type == "openfoundry:platform:PlaneNamespaces"]
    assert component.depends_on == {("kubernetes:core/v1:ConfigMap", "gate")}
