"""The mock tier: what the program registers for each stack, checked without an engine."""

from __future__ import annotations

import pytest

from foundry.binaries import running
from foundry.catalog import Catalog, Service
from foundry.config import StackConfig
from foundry.labels import namespace_for
from foundry.upstream import load_contracts
from tests.conftest import BuiltStack
from tests.mocks import Registered, of_type

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# platform components beside the services
PLATFORM_DEPLOYMENTS = {"lakekeeper", "openfga", "trino-coordinator", "trino-worker", "clickhouse",
                        "iceberg-table-exporter", "valkey-primary"}
PLATFORM_BUDGETS = {"lakekeeper", "openfga", "trino-worker", "vespa-configserver", "vespa-content", "vespa-container", "nats",
                    "valkey", "valkey-primary", "clickhouse"}


def test_every_kubernetes_resource_goes_through_the_explicit_provider(prod_resources: list[Registered]) -> None:
    kubernetes = [r for r in prod_resources if r.type.startswith("kubernetes:") and r.type != "pulumi:providers:kubernetes"]
    assert kubernetes
    missing = [r.name for r in kubernetes if "pulumi:providers:kubernetes::kubernetes" not in r.provider]
    assert missing == []


def test_a_deployment_named_after_every_service_that_runs_a_binary(prod_resources: list[Registered],
                                                                   deployed: list[Service]) -> None:
    deployments = of_type(prod_resources, DEPLOYMENT)
    assert sorted(set(deployments) - PLATFORM_DEPLOYMENTS) == sorted(s.name for s in deployed)
    for service in deployed:
        metadata = deployments[service.name].inputs["metadata"]
        assert metadata["name"] == service.name
        assert metadata["namespace"] == namespace_for(service.plane)


@pytest.mark.parametrize("service", ["gateway", "sql-bi-gateway-service", "identity-federation-service", "audit-sink"])
def test_pods_run_restricted(prod_resources: list[Registered], service: str) -> None:
    pod = of_type(prod_resources, DEPLOYMENT)[service].inputs["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]) == {"requests", "limits"}
    assert not container["image"].endswith(":latest")
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {"topology.kubernetes.io/zone",
                                                                          "kubernetes.io/hostname"}


def test_every_service_container_is_restricted_probed_and_sized_from_the_config(
        built: BuiltStack, catalog: Catalog) -> None:
    """Image, listeners and probes follow the binary's contract (tests/unit/test_binary_contracts.py); the rest is
    the platform's: its security context, sizing, timings and labels."""
    registered, config = built.resources, built.config
    deployments = of_type(registered, DEPLOYMENT)
    for run in running(catalog, load_contracts()):
        service, binary = run.service, run.binary
        (container,) = deployments[service.name].inputs["spec"]["template"]["spec"]["containers"]
        sizing = config.compute.workloads if service.plane == "compute" and config.compute.workloads else config.workloads
        health = {"httpGet": {"path": binary.health.path, "port": binary.health.port}, "timeoutSeconds": 2,
                  "failureThreshold": 3}
        assert {key: container[key] for key in ("name", "image", "imagePullPolicy", "securityContext", "ports",
                                                "resources", "readinessProbe", "livenessProbe")} == {
            "name": service.name,
            "image": f"{config.images.registry}/{binary.name}:{config.images.tag}",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"runAsNonRoot": True, "privileged": False, "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
            "ports": [{"name": name, "containerPort": number, "protocol": "TCP"}
                      for name, number in service.ports.all().items()],
            "resources": {"requests": {"cpu": sizing.cpu_request, "memory": sizing.memory_request},
                          "limits": {"cpu": sizing.cpu_limit, "memory": sizing.memory_limit}},
            "readinessProbe": {**health, "periodSeconds": 10},
            "livenessProbe": {**health, "periodSeconds": 20, "initialDelaySeconds": 10},
        }, service.name
        labels = [{"name": "OPENFOUNDRY_SERVICE", "value": service.name},
                  {"name": "OPENFOUNDRY_PLANE", "value": service.plane},
                  {"name": "OPENFOUNDRY_ENVIRONMENT", "value": built.name}]
        listeners = len([listener for listener in binary.listens if listener.env])
        assert container["env"][listeners:listeners + 3] == labels, service.name


def test_prod_has_a_budget_and_an_autoscaler_per_service(prod_resources: list[Registered], catalog: Catalog) -> None:
    """Every running service but those scaled to zero until the operational store exists (nothing to budget)."""
    names = sorted(run.service.name for run in running(catalog, load_contracts()) if not run.waiting)
    budgets = set(of_type(prod_resources, "kubernetes:policy/v1:PodDisruptionBudget"))
    assert sorted(budgets - PLATFORM_BUDGETS) == names and budgets >= PLATFORM_BUDGETS
    hpas = of_type(prod_resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert sorted(hpas) == names
    assert all(h.inputs["spec"]["minReplicas"] == 3 for h in hpas.values())


def test_each_service_budget_lets_one_of_its_own_pods_go_at_a_time(prod_resources: list[Registered],
                                                                    catalog: Catalog) -> None:
    budgets = of_type(prod_resources, "kubernetes:policy/v1:PodDisruptionBudget")
    deployments = of_type(prod_resources, DEPLOYMENT)
    for service in (run.service for run in running(catalog, load_contracts()) if not run.waiting):
        budget = budgets[service.name].inputs
        pods = {"app.kubernetes.io/name": service.name, "app.kubernetes.io/part-of": "openfoundry"}
        assert budget["metadata"]["namespace"] == f"openfoundry-{service.plane}", service.name
        assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": pods}}, service.name
        template = deployments[service.name].inputs["spec"]["template"]["metadata"]["labels"]
        assert pods.items() <= template.items(), service.name   # it selects the service's pods


def test_dev_has_neither_budgets_nor_autoscalers(dev_resources: list[Registered]) -> None:
    types = {r.type for r in dev_resources}
    assert "kubernetes:policy/v1:PodDisruptionBudget" not in types
    assert "kubernetes:autoscaling/v2:HorizontalPodAutoscaler" not in types


def test_network_policy_admits_exactly_the_catalog_callers(prod_resources: list[Registered], catalog: Catalog) -> None:
    policies = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    definitions = policies["ontology-definition-service"].inputs["spec"]
    peers = definitions["ingress"][0]["from"]
    admitted = sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in peers)
    assert admitted == sorted(catalog.by_name("ontology-definition-service").callers)
    assert {p["port"] for p in definitions["ingress"][0]["ports"]} == {8080}


def test_a_service_nobody_calls_admits_nobody(prod_resources: list[Registered]) -> None:
    policy = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["audit-sink"].inputs["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    # only the cluster's Prometheus, from its namespace, on the metrics port
    assert policy["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                                  "ports": [{"port": 9090, "protocol": "TCP"}]}]


def test_plane_namespaces_are_restricted_and_closed(prod_resources: list[Registered]) -> None:
    planes = ("storage", "ingestion", "compute", "control", "edge")
    namespaces = {n: r for n, r in of_type(prod_resources, "kubernetes:core/v1:Namespace").items()
                  if n.startswith("openfoundry-")}
    assert sorted(namespaces) == sorted(namespace_for(p) for p in planes)
    # kubernetes.io/docs/concepts/security/pod-security-admission: refused, audited and warned at restricted
    pod_security = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    for plane in planes:
        assert namespaces[namespace_for(plane)].inputs["metadata"]["labels"] == {
            "app.kubernetes.io/part-of": "openfoundry", "app.kubernetes.io/managed-by": "pulumi",
            "openfoundry.io/plane": plane, **pod_security}
    policies = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    for plane in planes:
        # every pod of the namespace (an empty selector), nothing in or out but DNS to the cluster's resolver
        deny, dns = policies[f"{plane}-default-deny"].inputs, policies[f"{plane}-allow-dns"].inputs
        assert (deny["metadata"]["name"], deny["metadata"]["namespace"]) == ("default-deny", namespace_for(plane))
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert (dns["metadata"]["name"], dns["metadata"]["namespace"]) == ("allow-dns", namespace_for(plane))
        assert dns["spec"] == {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}


def test_components_use_their_plane_tokens(prod_resources: list[Registered]) -> None:
    tokens = {r.type for r in prod_resources if r.type.startswith("openfoundry:")}
    assert tokens == {
        "openfoundry:platform:PlaneNamespaces", "openfoundry:platform:Operators", "openfoundry:platform:Trust",
        "openfoundry:platform:Jwt", "openfoundry:workload:ServiceWorkload",
        "openfoundry:relational:RelationalStatePlane", "openfoundry:ingestion:IngestionPlane",
        "openfoundry:storage:StoragePlane", "openfoundry:storage:CephStorage",
        "openfoundry:storage:OffsiteCopy", "openfoundry:storage:Lakehouse",
        "openfoundry:storage:Lakekeeper",
        "openfoundry:storage:OpenFga", "openfoundry:storage:Vespa", "openfoundry:storage:IcebergMaintenance",
        "openfoundry:storage:LakehouseAnalytics", "openfoundry:storage:ClickHouse", "openfoundry:storage:IcebergWriters",
        "openfoundry:storage:IcebergTableHealth", "openfoundry:storage:OperationalStore",
        "openfoundry:control:ControlPlane",
        "openfoundry:platform:ServiceLevelObjectives", "openfoundry:edge:Edge", "openfoundry:edge:GatewayCache",
        "openfoundry:edge:PrimaryProxy", "openfoundry:ingestion:AnonymousAccess", "openfoundry:ingestion:OutboxRelay",
        "openfoundry:control:SessionConsumerReaper",
        "openfoundry:compute:ComputePlane", "openfoundry:compute:Trino",
        *(f"openfoundry:{p}:PlaneServices" for p in ("storage", "ingestion", "compute", "control", "edge")),
    }


def test_compute_services_get_the_compute_sizing(prod_resources: list[Registered], prod_config: StackConfig) -> None:
    deployments = of_type(prod_resources, DEPLOYMENT)
    warehouse = deployments["sql-bi-gateway-service"].inputs["spec"]["template"]["spec"]["containers"][0]
    gateway = deployments["gateway"].inputs["spec"]["template"]["spec"]["containers"][0]
    assert prod_config.compute.workloads is not None
    assert warehouse["resources"]["limits"]["memory"] == prod_config.compute.workloads.memory_limit
    assert gateway["resources"]["limits"]["memory"] == prod_config.workloads.memory_limit


def test_the_api_server_is_reached_over_tcp_on_its_two_ports(prod_resources: list[Registered]) -> None:
    """The Kubernetes service's 443 and a control plane's own 6443; a NetworkPolicy port without a protocol is TCP,
    so the explicit protocol is checked as what the API server would accept."""
    policies = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    rules = [rule for p in policies.values() for rule in p.inputs["spec"].get("egress") or []
             if {port["port"] for port in rule.get("ports") or []} == {443, 6443}]
    assert len(rules) >= 3   # the NATS controller, the maintenance job, the lakehouse writers
    assert all(rule["ports"] == [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}] for rule in rules)
