"""The operational store (Cassandra, ADR-0020) under mocks: the cluster's shape per environment, the roles and their
grants, the clients' wiring, who reaches CQL, and the config rules it is held to."""

from __future__ import annotations

from typing import Any

import pytest

from components.storage.cassandra import Client, schema_cql
from components.storage.cassandra_ops import credentials_file
from foundry.upstream import load_contracts
from tests.mocks import Registered, by_metadata_name, by_namespaced_name
from tests.unit.test_analytics import secret_data
from tests.unit.test_config import problems_of

K8SSANDRA = "kubernetes:k8ssandra.io/v1alpha1:K8ssandraCluster"
SECRET = "kubernetes:core/v1:Secret"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CLIENTS = {"object-database-service": "openfoundry-storage", "ontology-query-service": "openfoundry-compute",
           "ontology-actions-service": "openfoundry-control"}


def cluster(resources: list[Registered]) -> Registered:
    return by_metadata_name(resources, K8SSANDRA)["cassandra"]


def test_prod_runs_a_rack_per_zone_with_authentication_protected(prod_resources: list[Registered]) -> None:
    found = cluster(prod_resources)
    spec = found.inputs["spec"]
    assert found.protected   # protect and retain on delete
    assert spec["auth"] is True
    (dc,) = spec["cassandra"]["datacenters"]
    assert (dc["metadata"]["name"], dc["size"]) == ("dc1", 3)
    assert dc["racks"] == [{"name": z, "nodeAffinityLabels": {"topology.kubernetes.io/zone": z}}
                           for z in ("zone-a", "zone-b", "zone-c")]
    assert spec["cassandra"]["superuserSecretRef"] == {"name": "cassandra-superuser"}
    assert spec["cassandra"]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # cass-operator keeps the order given; the config builder needs the base container's copy first
    assert [c["name"] for c in spec["cassandra"]["initContainers"]] == ["server-config-init-base", "server-config-init"]


def test_dev_runs_one_unprotected_node(dev_resources: list[Registered]) -> None:
    found = cluster(dev_resources)
    (dc,) = found.inputs["spec"]["cassandra"]["datacenters"]
    assert (dc["size"], dc["racks"], found.protected) == (1, [{"name": "rack1"}], False)


def schema(resources: list[Registered]) -> str:
    return str(by_metadata_name(resources, CONFIG_MAP)["cassandra-schema"].inputs["data"]["schema.cql"])


def test_each_role_is_granted_its_own_keyspaces_only(prod_resources: list[Registered]) -> None:
    cql = schema(prod_resources).splitlines()
    replication = "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
    for keyspace in ("ontology_objects", "actions_log"):
        assert f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication};" in cql
    grants = sorted(line for line in cql if line.startswith("GRANT"))
    assert grants == sorted([
        *(f"GRANT {p} ON KEYSPACE ontology_objects TO object_database_service;" for p in ("CREATE", "SELECT", "MODIFY")),
        *(f"GRANT {p} ON KEYSPACE ontology_objects TO ontology_query_service;" for p in ("CREATE", "SELECT")),
        *(f"GRANT {p} ON KEYSPACE actions_log TO ontology_actions_service;" for p in ("CREATE", "SELECT", "MODIFY")),
    ])
    assert not any("ALL KEYSPACES" in line or "SUPERUSER" in line.upper() for line in cql)
    assert "${ONTOLOGY_QUERY_SERVICE_PASSWORD}" in schema(prod_resources)   # filled in by the Job, never rendered


def test_every_password_is_a_secret_and_each_client_reads_its_own(prod_resources: list[Registered]) -> None:
    secrets = by_namespaced_name(prod_resources, SECRET)
    for service, namespace in CLIENTS.items():
        for where in (namespace, "openfoundry-storage"):
            data = secret_data(secrets[(where, f"cassandra-{service}")].inputs)   # a Pulumi secret, whole
            assert data["username"] == service.replace("-", "_")


def test_cql_admits_the_clients_and_the_schema_job_only(prod_resources: list[Registered]) -> None:
    policy = by_namespaced_name(prod_resources, POLICY)[("openfoundry-storage", "cassandra-nodes")].inputs["spec"]
    cql = next(rule for rule in policy["ingress"] if {"port": 9042, "protocol": "TCP"} in rule["ports"])
    admitted = {(peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name"),
                 peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]) for peer in cql["from"]}
    assert admitted == {*((ns, svc) for svc, ns in CLIENTS.items()), (None, "cassandra-schema")}


def test_a_grant_the_contract_does_not_name_is_not_rendered() -> None:
    contract = load_contracts().of("ontology-query-service").cassandra
    assert contract is not None
    cql = schema_cql([Client("ontology-query-service", "openfoundry-compute", contract)], 1)
    assert "MODIFY" not in cql and "GRANT SELECT ON KEYSPACE ontology_objects TO ontology_query_service;" in cql


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"replicationFactor": 5}, "openfoundry:relational.cassandra.replicationFactor: found 5; allowed: at most nodes (3)"),
    ({"replicationFactor": 2}, "openfoundry:relational.cassandra.replicationFactor: found 2; allowed: 3 or more in prod"),
    ({"nodes": 4}, "openfoundry:relational.cassandra.nodes: found 4; allowed: a multiple of the zones (3) in prod"),
    ({"heap": "8G"}, "openfoundry:relational.cassandra.heap: found '8G'"),
])
def test_a_cassandra_setting_that_cannot_work_is_a_config_problem(overrides: dict[str, Any], problem: str) -> None:
    found = problems_of({"relational": {"cassandra": overrides}})
    assert any(p.startswith(problem) for p in found), found


def test_medusa_backs_up_to_its_bucket_with_keys_the_platform_generated(prod_resources: list[Registered]) -> None:
    medusa = cluster(prod_resources).inputs["spec"]["medusa"]
    assert medusa["storageProperties"] == {
        "storageProvider": "s3_compatible", "bucketName": "cassandra-backups", "prefix": "cassandra",
        "storageSecretRef": {"name": "cassandra-medusa-s3"}, "host": "rook-ceph-rgw-lake.rook-ceph.svc", "port": 80,
        "secure": False, "maxBackupAge": 30}
    assert medusa["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    keys = secret_data(by_namespaced_name(prod_resources, SECRET)[("openfoundry-storage", "cassandra-medusa-s3")].inputs)
    assert set(keys) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "credentials"}
    user = by_metadata_name(prod_resources, "kubernetes:ceph.rook.io/v1:CephObjectStoreUser")["cassandra-medusa"]
    assert user.inputs["spec"]["keys"] == [{"accessKeyRef": {"name": "cassandra-medusa-s3", "key": "AWS_ACCESS_KEY_ID"},
                                           "secretKeyRef": {"name": "cassandra-medusa-s3", "key": "AWS_SECRET_ACCESS_KEY"}}]
    # never a Secret of the name k8ssandra gives Medusa's own login and its medusa.ini volume
    assert ("openfoundry-storage", "cassandra-medusa") not in by_namespaced_name(prod_resources, SECRET)
    claim = by_metadata_name(prod_resources, "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim")["cassandra-backups"]
    assert "cassandra-medusa" in claim.inputs["spec"]["additionalConfig"]["bucketPolicy"]
    schedule = by_metadata_name(prod_resources, "kubernetes:medusa.k8ssandra.io/v1alpha1:MedusaBackupSchedule")
    assert schedule["cassandra-dc1-backups"].inputs["spec"] == {
        "cronSchedule": "30 2 * * *", "concurrencyPolicy": "Forbid",
        "backupSpec": {"cassandraDatacenter": "dc1", "backupType": "differential"}}


def test_medusas_credentials_file_is_the_aws_one() -> None:
    assert credentials_file("AK", "SK") == "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n"


def test_the_alerts_watch_the_scraped_nodes(prod_resources: list[Registered]) -> None:
    rules = by_metadata_name(prod_resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["cassandra"]
    (group,) = rules.inputs["spec"]["groups"]
    alerts = {rule["alert"]: rule["expr"] for rule in group["rules"]}
    assert set(alerts) == {"CassandraNodeDown", "CassandraNodeMissing", "CassandraPendingCompactionsHigh",
                           "CassandraDroppedMutations"}
    assert 'job="cassandra-dc1-all-pods-service"' in alerts["CassandraNodeDown"]
    assert ") < 3 or absent(" in alerts["CassandraNodeMissing"]
    assert 'message_type="MUTATION_REQ"' in alerts["CassandraDroppedMutations"]
    telemetry = cluster(prod_resources).inputs["spec"]["cassandra"]["telemetry"]["prometheus"]
    assert telemetry["enabled"] is True and telemetry["commonLabels"]   # selected by the cluster's Prometheus


def test_nodes_speak_tls_to_each_other_with_the_platform_cas_certificate(prod_resources: list[Registered]) -> None:
    cassandra = cluster(prod_resources).inputs["spec"]["cassandra"]
    assert cassandra["config"]["cassandraYaml"]["server_encryption_options"] == {
        "internode_encryption": "all", "optional": False, "require_client_auth": True,
        "require_endpoint_verification": False}
    stores = cassandra["serverEncryptionStores"]
    assert stores["keystoreSecretRef"] == {"name": "cassandra-internode-tls", "key": "keystore.jks"}
    assert stores["truststoreSecretRef"] == {"name": "cassandra-internode-tls", "key": "truststore.jks"}
    certificate = by_metadata_name(prod_resources, "kubernetes:cert-manager.io/v1:Certificate")["cassandra-internode-tls"]
    spec = certificate.inputs["spec"]
    assert spec["issuerRef"]["name"] == "openfoundry-internal-ca" and {"server auth", "client auth"} <= set(spec["usages"])
    assert spec["keystores"]["jks"] == {"create": True, "passwordSecretRef": stores["keystorePasswordSecretRef"]}
