"""Each catalog service's own NetworkPolicy, read as the API server would store it: which pods it governs, who may
open which of its ports, and where it may go. Expected values come from the catalog and the seed, never from the
builders (the flow matrix evaluates the same policies with a real matcher in the engine tier: docs/checks.md)."""

from __future__ import annotations

from typing import Any

import pytest

from foundry.binaries import running
from foundry.catalog import Catalog, Service
from foundry.config import StackConfig
from foundry.labels import namespace_for
from foundry.upstream import load_contracts
from tests.mocks import Registered, of_type
from tests.unit.test_wiring import DEPLOYMENT, peer_namespace, peers, pod_labels, policies

NAME = "app.kubernetes.io/name"
# Strimzi labels a KRaft node pool's broker pods strimzi.io/broker-role=true; the seed's listener is TLS on 9093
BROKERS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openfoundry-ingestion"}},
           "podSelector": {"matchLabels": {"strimzi.io/cluster": "openfoundry", "strimzi.io/broker-role": "true"}}}


def own_policy(resources: list[Registered], service: Service) -> dict[str, Any]:
    return policies(resources)[(namespace_for(service.plane), service.name)]


def tcp(*numbers: int) -> list[dict[str, Any]]:
    return [{"port": n, "protocol": "TCP"} for n in numbers]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_service_policy_governs_exactly_its_own_pods_both_ways(stack: str, deployed: list[Service],
                                                                     request: pytest.FixtureRequest) -> None:
    resources = request.getfixturevalue(f"{stack}_resources")
    deployments = of_type(resources, DEPLOYMENT)
    for service in deployed:
        spec = own_policy(resources, service)
        pods = {NAME: service.name, "app.kubernetes.io/part-of": "openfoundry"}
        assert spec["podSelector"] == {"matchLabels": pods}, service.name
        assert deployments[service.name].inputs["spec"]["selector"]["matchLabels"] == pods
        assert spec["policyTypes"] == ["Ingress", "Egress"]


def test_callers_open_exactly_the_serving_ports_and_the_edge_comes_from_the_ingress_namespace(
        prod_resources: list[Registered], catalog: Catalog, deployed: list[Service], prod_config: StackConfig) -> None:
    edge_called = [s for s in deployed if "ingress" in s.callers]
    assert edge_called and len(deployed) > len(edge_called)
    for service in deployed:
        spec = own_policy(prod_resources, service)
        serving = tcp(*service.ports.serving().values())
        callers = [rule for rule in spec["ingress"] if rule["ports"] == serving
                   and not any(peer_namespace(p) == "monitoring" for p in rule["from"])]
        expected: set[tuple[str | None, str | None]] = {
            (namespace_for(catalog.by_name(c).plane), c) for c in service.callers if c != "ingress"}
        if "ingress" in service.callers:
            expected.add((prod_config.edge.ingress_namespace, None))
        admitted = {(peer_namespace(p), pod_labels(p).get(NAME)) for rule in callers for _, p in peers([rule])}
        assert admitted == expected, service.name
        assert len(spec["ingress"]) == (2 if expected else 1), service.name   # callers, and Prometheus


def test_a_service_opens_each_callees_serving_ports_and_reaches_the_brokers_its_kafka_client_speaks_to(
        prod_resources: list[Registered], catalog: Catalog) -> None:
    """The brokers' TLS listener for a SCRAM client on the data bus, the PLAINTEXT one for a client that speaks
    nothing else (data/upstream/binaries/), none for a binary without a Kafka client."""
    runs = running(catalog, load_contracts())
    listeners = {run.service.name: {"scram-sha-512": 9093, "plaintext": 9092}[run.binary.kafka.security]
                 for run in runs if run.binary.kafka and (run.service.uses_kafka or run.binary.kafka.security == "plaintext")}
    assert set(listeners.values()) == {9092, 9093} and len(runs) > len(listeners)
    for service in (run.service for run in runs):
        egress = own_policy(prod_resources, service)["egress"]
        assert all(rule.get("to") for rule in egress), service.name   # a rule without peers reaches everything
        names = {run.service.name for run in runs}
        callees = {(peer_namespace(p), pod_labels(p)[NAME]): rule["ports"] for rule, p in peers(egress)
                   if pod_labels(p).get(NAME) in names}
        expected = {(namespace_for(callee.plane), callee.name): tcp(*callee.ports.serving().values())
                    for callee in catalog.callees_of(service.name)}
        assert callees == expected, service.name
        brokers = [rule for rule in egress if BROKERS in rule["to"]]
        port = listeners.get(service.name)
        assert brokers == ([{"to": [BROKERS], "ports": tcp(port)}] if port else []), service.name
