"""The operators component, managed (prod) and external (dev), under mocks."""

from __future__ import annotations

from components.cluster.operators import operator_specs
from foundry.versions import CHARTS
from tests.mocks import Registered, of_type

CHART = "kubernetes:helm.sh/v4:Chart"


# Each operator's official chart, where its docs install it (chart, repository or OCI reference, namespace).
EXPECTED_CHARTS = {
    "cert-manager": ("cert-manager", "https://charts.jetstack.io", "cert-manager"),
    # trust-manager reads its sources from its trust namespace, cert-manager's by default
    "trust-manager": ("trust-manager", "https://charts.jetstack.io", "cert-manager"),
    "rook-ceph": ("rook-ceph", "https://charts.rook.io/release", "rook-ceph"),
    "ceph-csi-drivers": ("ceph-csi-drivers", "https://ceph.github.io/ceph-csi-operator", "rook-ceph"),
    "strimzi": ("oci://quay.io/strimzi-helm/strimzi-kafka-operator", None, "strimzi"),
    "cloudnative-pg": ("cloudnative-pg", "https://cloudnative-pg.github.io/charts", "cnpg-system"),
    # the Barman Cloud plugin must run in the CNPG operator's namespace (plugin-barman-cloud docs)
    "plugin-barman-cloud": ("plugin-barman-cloud", "https://cloudnative-pg.github.io/charts", "cnpg-system"),
    # namespaced beside the NATS it manages: its Role reads that namespace's Secrets only
    "nack": ("nack", "https://nats-io.github.io/k8s/helm/charts/", "openfoundry-control"),
    # superseded Apache releases move to the archive, which keeps them
    "flink-kubernetes-operator": ("flink-kubernetes-operator",
                                  "https://archive.apache.org/dist/flink/flink-kubernetes-operator-1.15.0/", "flink-system"),
    # its own namespace, watching the storage plane where the operational store is
    "k8ssandra-operator": ("k8ssandra-operator", "https://helm.k8ssandra.io/stable", "k8ssandra-operator"),
}


def test_managed_installs_every_operator_chart_at_its_pin(prod_resources: list[Registered]) -> None:
    charts = of_type(prod_resources, CHART)
    assert set(charts) == set(EXPECTED_CHARTS)
    for key, (chart, repository, namespace) in EXPECTED_CHARTS.items():
        registered = charts[key].inputs
        assert (registered["chart"], (registered.get("repositoryOpts") or {}).get("repo"), registered["namespace"]) == \
            (chart, repository, namespace), key
        assert registered["version"] == CHARTS[key].version
        assert "pulumi:providers:kubernetes::kubernetes" in charts[key].provider


def test_chart_values_are_what_the_platform_relies_on(prod_resources: list[Registered]) -> None:
    values = {key: chart.inputs.get("values", {}) for key, chart in of_type(prod_resources, CHART).items()}
    assert values["cert-manager"]["crds"] == {"enabled": True}
    assert values["cloudnative-pg"]["crds"] == {"create": True}
    # the warehouse claim grants Trino's RGW user by bucket policy: Rook must allow that claim field
    assert values["rook-ceph"]["obcAllowAdditionalConfigFields"] == "maxObjects,maxSize,bucketPolicy"
    # each operator watches the plane namespace its custom resources live in
    assert values["strimzi"]["watchNamespaces"] == ["openfoundry-ingestion"]
    assert values["flink-kubernetes-operator"]["watchNamespaces"] == ["openfoundry-storage"]
    # its own namespace too: its Medusa reconciler reads CronJobs there (k8ssandra-operator#1507)
    assert values["k8ssandra-operator"]["global"] == {"clusterScoped": True,
                                                      "watchNamespaces": ["openfoundry-storage", "k8ssandra-operator"]}
    # a pre-upgrade hook that would fetch the chart from the internet at every upgrade
    assert values["k8ssandra-operator"]["disableCrdUpgraderJob"] is True


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
