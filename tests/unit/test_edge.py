"""The edge under mocks: the Ingresses, their certificates, and the gateway's settings."""

from __future__ import annotations

import pytest

from foundry.config import ConfigErrors, load_stack_config
from foundry.defaults import deep_merge
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, by_metadata_name, by_namespaced_name

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"


def test_prod_ingresses_terminate_tls_for_the_web_gateway_and_flight_sql(prod_resources: list[Registered]) -> None:
    ingresses = by_metadata_name(prod_resources, INGRESS)
    web = ingresses["openfoundry"].inputs["spec"]
    assert web["ingressClassName"] == "nginx" and web["tls"] == [{"hosts": ["foundry.example.com"],
                                                                  "secretName": "openfoundry-edge-tls"}]
    backends = {p["path"]: p["backend"]["service"]["name"] for p in web["rules"][0]["http"]["paths"]}
    assert backends == {"/api": "gateway", "/": "web"}
    sql = ingresses["openfoundry-flight-sql"].inputs
    assert sql["metadata"]["namespace"] == "openfoundry-compute"
    assert sql["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert sql["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "sql-bi-gateway-service", "port": {"name": "flight-sql"}}
    certificates = by_metadata_name(prod_resources, CERTIFICATE)
    assert {c.inputs["spec"]["issuerRef"]["kind"] for c in certificates.values()} == {"ClusterIssuer"}


def test_dev_certificates_come_from_self_signed_issuers(dev_resources: list[Registered]) -> None:
    def placed(kind: str) -> dict[tuple[str, str], Registered]:
        return by_namespaced_name(dev_resources, f"kubernetes:cert-manager.io/v1:{kind}")

    # an Issuer serves its own namespace only: one beside each certificate (the edge's and the Flight SQL surface's)
    assert set(placed("Issuer")) == {("openfoundry-edge", "openfoundry-selfsigned"),
                                     ("openfoundry-compute", "openfoundry-selfsigned")}
    certificates = placed("Certificate")
    edge = {key: c for key, c in certificates.items() if key[0] in ("openfoundry-edge", "openfoundry-compute")}
    assert set(edge) == {("openfoundry-edge", "openfoundry-edge-tls"), ("openfoundry-compute", "openfoundry-flight-sql-tls")}
    assert {c.inputs["spec"]["issuerRef"]["name"] for c in edge.values()} == {"openfoundry-selfsigned"}


def test_the_gateway_reads_its_edge_settings(prod_resources: list[Registered]) -> None:
    (container,) = by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment")["gateway"].inputs["spec"][
        "template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # the binary's own names (koanf, OF_ and `__` for a level: its internal/config/config.go)
    assert env["OF_CORS_ORIGINS"] == "https://foundry.example.com"
    assert env["OF_RATE_LIMIT__ANONYMOUS_REQUESTS_PER_MINUTE"] == "600"
    assert env["OF_SERVER__TRUST_FORWARDED_HEADERS"] == "true"
    assert not [name for name in env if name.startswith("GATEWAY_")]


def test_prod_needs_a_real_issuer() -> None:
    values = deep_merge(read_stack_values("prod"), {"edge": {"tlsClusterIssuer": None}})
    with pytest.raises(ConfigErrors) as caught:
        load_stack_config(values, "prod")
    assert any("openfoundry:edge.tlsClusterIssuer: found nothing" in str(p) for p in caught.value.problems)
