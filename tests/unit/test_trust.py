"""Every client of a TLS server holds the CA that signs that server's certificate, and every client of an
authenticating server holds a way to get a credential it accepts, walked from what the program registers: the
Kafka listener's certificate back to its issuer and forward to the bundle in each client's pod; each database's
CA into its owner's pod with a host name the server's certificate carries; the catalog's audience in each
Iceberg client's projected token and in Lakekeeper's accepted audiences; Trino's client credentials."""

from __future__ import annotations

from typing import Any

import pytest

from foundry.catalog import Service
from foundry.labels import namespace_for
from tests.expectations import SEED_CATALOG_CLIENTS
from tests.mocks import Registered

CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"   # cert-manager's API: a look-alike group is nobody's


def find(resources: list[Registered], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    (found,) = [r.inputs for r in resources if r.type.rpartition(":")[2] == kind and r.inputs["metadata"]["name"] == name
                and (namespace is None or r.inputs["metadata"].get("namespace") == namespace)]
    return found


def pod(resources: list[Registered], service: Any) -> dict[str, Any]:
    spec: dict[str, Any] = find(resources, "Deployment", service.name, namespace_for(service.plane))["spec"]["template"]["spec"]
    return spec


def env(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def mounted_file(pod_spec: dict[str, Any], path: str) -> dict[str, Any]:
    """The volume source and key behind a file path in the pod's only container."""
    (container,) = pod_spec["containers"]
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
    key = path.removeprefix(mount["mountPath"] + "/")
    source = volume.get("configMap") or volume.get("secret") or volume.get("projected")
    items = {i["path"]: i["key"] for i in (source or {}).get("items") or []}
    return {"volume": volume, "key": items.get(key, key)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_kafka_client_trusts_the_ca_that_signs_the_listener(stack: str, request: pytest.FixtureRequest,
                                                                  deployed: list[Service]) -> None:
    resources: list[Registered] = request.getfixturevalue(f"{stack}_resources")
    kafka = find(resources, "Kafka", "openfoundry", "openfoundry-ingestion")
    (listener,) = [listener for listener in kafka["spec"]["kafka"]["listeners"] if listener["tls"]]
    secret = listener["configuration"]["brokerCertChainAndKey"]["secretName"]
    certificate = next(r.inputs for r in resources if r.type == CERTIFICATE
                       and r.inputs["spec"]["secretName"] == secret)
    issuer = find(resources, "ClusterIssuer", certificate["spec"]["issuerRef"]["name"])
    assert certificate["spec"]["issuerRef"]["kind"] == "ClusterIssuer"
    ca_secret = issuer["spec"]["ca"]["secretName"]
    bundle = find(resources, "Bundle", "openfoundry-internal-ca")
    assert {"secret": {"name": ca_secret, "key": "ca.crt"}} in bundle["spec"]["sources"]
    target = bundle["spec"]["target"]
    # the broker's name the clients dial is in the certificate
    bootstrap = "openfoundry-kafka-bootstrap.openfoundry-ingestion.svc"
    assert bootstrap in certificate["spec"]["dnsNames"]
    # the SCRAM clients: OpenFoundry's Go client trusts the system roots only; SSL_CERT_DIR adds every certificate
    # file of that directory to them (crypto/x509 root_unix.go), so the bundle's file must be in it
    clients = [s for s in deployed if "KAFKA_SASL_USERNAME" in env(pod(resources, s))]
    assert clients
    for service in clients:
        spec = pod(resources, service)
        variables = env(spec)
        assert variables["KAFKA_BOOTSTRAP_SERVERS"].startswith(bootstrap + ":")
        source = mounted_file(spec, f"{variables['SSL_CERT_DIR']}/{target['configMap']['key']}")
        assert source["volume"]["configMap"]["name"] == bundle["metadata"]["name"]
        assert source["key"] == target["configMap"]["key"]
        # trust-manager writes the bundle into namespaces its selector picks: the client's must be one of them
        namespace = find(resources, "Namespace", namespace_for(service.plane))
        assert target["namespaceSelector"]["matchLabels"].items() <= namespace["metadata"]["labels"].items()


def certificate_names(name: str, dns_names: list[str]) -> bool:
    """RFC 6125 6.4.3: a certificate names a host by its exact name, or by a wildcard for its left-most label."""
    first, _, rest = name.partition(".")
    return name in dns_names or (bool(first) and f"*.{rest}" in dns_names)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_listener_certificate_names_every_address_a_client_dials(stack: str, request: pytest.FixtureRequest) -> None:
    resources: list[Registered] = request.getfixturevalue(f"{stack}_resources")
    kafka = find(resources, "Kafka", "openfoundry", "openfoundry-ingestion")
    (listener,) = [listener for listener in kafka["spec"]["kafka"]["listeners"] if listener["tls"]]
    secret = listener["configuration"]["brokerCertChainAndKey"]["secretName"]
    (certificate,) = [r.inputs["spec"] for r in resources if r.type == CERTIFICATE
                      and r.inputs["spec"]["secretName"] == secret]
    # Strimzi: a client bootstraps through the <cluster>-kafka-bootstrap Service, then dials each broker at the
    # address it advertises, <pod>.<cluster>-kafka-brokers.<namespace>.svc, the pods named <cluster>-<pool>-<id>
    namespace = "openfoundry-ingestion"
    pools = [r.inputs for r in resources if r.type.endswith(":KafkaNodePool")]
    brokers = [f"openfoundry-{pool['metadata']['name']}-{i}.openfoundry-kafka-brokers.{namespace}.svc"
               for pool in pools if "broker" in pool["spec"]["roles"] for i in range(int(pool["spec"]["replicas"]))]
    assert brokers
    for name in ["openfoundry-kafka-bootstrap", f"openfoundry-kafka-bootstrap.{namespace}.svc", *brokers]:
        assert certificate_names(name, certificate["dnsNames"]), name
    assert not certificate_names("openfoundry-kafka-bootstrap.elsewhere.svc", certificate["dnsNames"])
    # a TLS server's certificate (RFC 5280 extendedKeyUsage) whose RSA key signs (ECDHE, TLS 1.3) and, for TLS 1.2's
    # RSA key exchange, enciphers; a new key at each renewal; Kafka's PEM key store (KIP-651), which Strimzi hands
    # the listener's key to, reads unencrypted PKCS#8 keys only
    assert sorted(certificate["usages"]) == ["digital signature", "key encipherment", "server auth"]
    assert certificate["privateKey"] == {"algorithm": "RSA", "size": 3072, "encoding": "PKCS8", "rotationPolicy": "Always"}


def test_every_database_owner_verifies_its_server_by_its_own_clusters_ca(prod_resources: list[Registered],
                                                                         deployed: list[Service]) -> None:
    owners = [s for s in deployed if s.database]
    assert len(owners) >= 10
    for service in owners:
        spec, cluster = pod(prod_resources, service), f"pg-{service.name}"
        variables = env(spec)
        assert variables["PGSSLMODE"] == "verify-full"
        source = mounted_file(spec, variables["PGSSLROOTCERT"])
        # CNPG's <cluster>-ca Secret, its certificate only (the same Secret holds the CA's key)
        assert source["volume"]["secret"]["secretName"] == f"{cluster}-ca" and source["key"] == "ca.crt"
        assert [i["key"] for i in source["volume"]["secret"]["items"]] == ["ca.crt"]
        host = variables["PGHOST"]
        namespace = namespace_for(service.plane)
        # CNPG's server certificate names the cluster's Services (-rw, -r, -ro in their four forms) and what
        # spec.certificates.serverAltDNSNames adds (cnpg api/v1 GetClusterAltDNSNames)
        names = {f"{cluster}-{suffix}.{namespace}.svc" for suffix in ("rw", "r", "ro")}
        names |= set((find(prod_resources, "Cluster", cluster, namespace)["spec"].get("certificates") or {})
                     .get("serverAltDNSNames") or [])
        assert host in names, (service.name, host)


def test_the_catalog_reviews_kubernetes_tokens_and_no_service_holds_one_for_it(prod_resources: list[Registered],
                                                                              deployed: list[Service]) -> None:
    lakekeeper = find(prod_resources, "Deployment", "lakekeeper", "openfoundry-storage")["spec"]["template"]["spec"]
    accepted = env(lakekeeper)
    assert accepted["LAKEKEEPER__ENABLE_KUBERNETES_AUTHENTICATION"] == "true"
    audience = accepted["LAKEKEEPER__KUBERNETES_AUTHENTICATION_AUDIENCE"]
    # the issuer's tokens are held to the same audience (unset, Lakekeeper accepts any token of the realm)
    assert accepted["LAKEKEEPER__OPENID_AUDIENCE"] == audience
    # Lakekeeper reviews the tokens with the API server: its own account may (system:auth-delegator)
    binding = find(prod_resources, "ClusterRoleBinding", "openfoundry-lakekeeper-token-review")
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": lakekeeper["serviceAccountName"],
                                    "namespace": "openfoundry-storage"}]
    # the seed's sinks would present one; at the pin no catalog service is a Lakekeeper client (their contracts), so
    # none is handed a token for it (the platform's engines' tokens: tests/unit/test_lakehouse.py)
    assert SEED_CATALOG_CLIENTS
    for service in deployed:
        sources = [source for volume in pod(prod_resources, service).get("volumes") or []
                   for source in (volume.get("projected") or {}).get("sources") or []]
        assert not [s for s in sources if (s.get("serviceAccountToken") or {}).get("audience") == audience], service.name


def test_trino_holds_client_credentials_and_reaches_the_issuer(prod_resources: list[Registered]) -> None:
    coordinator = find(prod_resources, "Deployment", "trino-coordinator", "openfoundry-compute")
    variables = env(coordinator["spec"]["template"]["spec"])
    assert variables["ICEBERG_OAUTH2_CREDENTIAL"] == {"secretKeyRef": {"name": "trino-catalog-oauth2", "key": "credential"}}
    policy = find(prod_resources, "NetworkPolicy", "trino", "openfoundry-compute")
    assert {"ports": [{"port": 443, "protocol": "TCP"}]} in policy["spec"]["egress"]
