"""The operators component, managed (prod) and external (dev), under mocks."""

from __future__ import annotations

from components.cluster.operators import chart_values, operator_specs
from foundry.versions import CHARTS
from tests.mocks import Registered, of_type

CHART = "kubernetes:helm.sh/v4:Chart"


def test_managed_installs_every_operator_chart_at_its_pin(prod_resources: list[Registered]) -> None:
    charts = of_type(prod_resources, CHART)
    assert sorted(charts) == sorted(CHARTS)
    for key, registered in charts.items():
        pin = CHARTS[key]
        assert registered.inputs["version"] == pin.version
        if pin.is_oci:
            assert registered.inputs["chart"] == pin.repository
            assert "repositoryOpts" not in registered.inputs
        else:
            assert registered.inputs["chart"] == pin.chart
            assert registered.inputs["repositoryOpts"] == {"repo": pin.repository}
        assert registered.inputs.get("values", {}) == chart_values(key)
        assert "pulumi:providers:kubernetes::kubernetes" in registered.provider


def test_each_chart_lands_in_its_operator_namespace(prod_resources: list[Registered]) -> None:
    charts = of_type(prod_resources, CHART)
    for spec in operator_specs():
        assert charts[spec.key].inputs["namespace"] == spec.namespace


def test_operator_namespaces_allow_what_the_operators_need(prod_resources: list[Registered]) -> None:
    namespaces = of_type(prod_resources, "kubernetes:core/v1:Namespace")
    levels = {n: r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for n, r in namespaces.items()}
    assert levels["rook-ceph"] == "privileged"
    assert levels["cnpg-system"] == "restricted"
    assert levels["openfoundry-compute"] == "restricted"


def test_rook_csi_driver_names_match_the_provisioner(prod_resources: list[Registered]) -> None:
    values = of_type(prod_resources, CHART)["ceph-csi-drivers"].inputs["values"]
    assert values["drivers"]["rbd"]["name"] == "rook-ceph.rbd.csi.ceph.com"
    assert values["operatorConfig"]["namespace"] == "rook-ceph"


def test_external_registers_no_chart(dev_resources: list[Registered]) -> None:
    assert of_type(dev_resources, CHART) == {}
    assert not {"rook-ceph", "cnpg-system", "strimzi"} & set(of_type(dev_resources, "kubernetes:core/v1:Namespace"))
    assert "openfoundry:platform:Operators" in {r.type for r in dev_resources}


def test_dependencies_point_at_earlier_operators() -> None:
    order = [spec.key for spec in operator_specs()]
    for spec in operator_specs():
        assert all(order.index(need) < order.index(spec.key) for need in spec.needs)
