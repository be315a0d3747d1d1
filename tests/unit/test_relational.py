"""The relational state plane under mocks: CloudNativePG only, one database per owner, backups, PITR, wiring."""

from __future__ import annotations

from typing import Any

import pytest

from foundry.catalog import Catalog
from foundry.config import ConfigErrors, load_stack_config
from foundry.consistency import check_config_against_catalog
from foundry.defaults import deep_merge
from foundry.streams import load_streams
from foundry.topics import load_registry
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, by_metadata_name, of_type, register_platform

CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
SCHEDULED = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"


def test_a_cluster_per_database_owner(prod_resources: list[Registered], catalog: Catalog) -> None:
    clusters = by_metadata_name(prod_resources, CLUSTER)
    assert sorted(clusters) == sorted(f"pg-{owner}" for owner in catalog.database_owners())
    assert "pg-lakekeeper" in clusters


def test_prod_clusters_are_ha_synchronous_and_archived(prod_resources: list[Registered]) -> None:
    stores = by_metadata_name(prod_resources, OBJECT_STORE)
    for name, cluster in by_metadata_name(prod_resources, CLUSTER).items():
        spec = cluster.inputs["spec"]
        assert spec["instances"] == 3
        assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
        (plugin,) = spec["plugins"]
        assert plugin["name"] == "barman-cloud.cloudnative-pg.io" and plugin["isWALArchiver"] is True
        store = stores[plugin["parameters"]["barmanObjectName"]].inputs["spec"]
        assert store["retentionPolicy"] == "30d"
        assert store["configuration"]["endpointURL"] == "http://rook-ceph-rgw-lake.rook-ceph.svc:80"
        assert store["configuration"]["destinationPath"] == f"s3://pg-backups-{name.removeprefix('pg-')}/"
        assert "barmanObjectStore" not in spec.get("backup", {})
        assert spec["imageName"].endswith("-standard-trixie")


def test_every_cluster_has_a_six_field_scheduled_backup(prod_resources: list[Registered]) -> None:
    scheduled = {r.inputs["spec"]["cluster"]["name"]: r.inputs["spec"] for r in prod_resources if r.type == SCHEDULED}
    assert set(scheduled) == set(by_metadata_name(prod_resources, CLUSTER))
    for spec in scheduled.values():
        assert len(spec["schedule"].split()) == 6
        assert spec["method"] == "plugin"


def test_a_bucket_claim_per_cluster_feeds_its_object_store(prod_resources: list[Registered]) -> None:
    claims = by_metadata_name(prod_resources, "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim")
    for store in by_metadata_name(prod_resources, OBJECT_STORE).values():
        secret = store.inputs["spec"]["configuration"]["s3Credentials"]["accessKeyId"]["name"]
        assert secret in claims  # Rook names the credentials Secret after the claim
        assert claims[secret].inputs["metadata"]["namespace"] == store.inputs["metadata"]["namespace"]


def test_pgvector_and_poolers_where_the_catalog_asks(prod_resources: list[Registered], catalog: Catalog) -> None:
    databases = by_metadata_name(prod_resources, "kubernetes:postgresql.cnpg.io/v1:Database")
    vector_owners = {d.inputs["spec"]["cluster"]["name"] for d in databases.values()
                     if {"name": "vector", "ensure": "present"} in d.inputs["spec"]["extensions"]}
    assert vector_owners == {f"pg-{s.name}" for s in catalog.services if s.vector}
    poolers = by_metadata_name(prod_resources, "kubernetes:postgresql.cnpg.io/v1:Pooler")
    assert {p.inputs["spec"]["cluster"]["name"] for p in poolers.values()} == {f"pg-{s.name}" for s in catalog.services
                                                                               if s.pooled}


def test_a_pod_monitor_per_cluster(prod_resources: list[Registered]) -> None:
    monitors = by_metadata_name(prod_resources, "kubernetes:monitoring.coreos.com/v1:PodMonitor")
    postgres = {name for name, m in monitors.items() if "cnpg.io/cluster" in m.inputs["spec"]["selector"]["matchLabels"]}
    assert postgres == set(by_metadata_name(prod_resources, CLUSTER))


def test_stateful_resources_are_protected_in_prod_only(prod_resources: list[Registered],
                                                       dev_resources: list[Registered]) -> None:
    assert all(r.protected for r in prod_resources if r.type == CLUSTER)
    assert not any(r.protected for r in dev_resources)


def test_dev_clusters_are_single_instance(dev_resources: list[Registered], catalog: Catalog) -> None:
    clusters = by_metadata_name(dev_resources, CLUSTER)
    assert set(clusters) == {f"pg-{owner}" for owner in catalog.database_owners()}
    for cluster in clusters.values():
        assert cluster.inputs["spec"]["instances"] == 1
        assert "synchronous" not in cluster.inputs["spec"].get("postgresql", {})
        pods = {"matchLabels": {"cnpg.io/cluster": cluster.inputs["metadata"]["name"]}}
        assert cluster.inputs["spec"]["topologySpreadConstraints"] == [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": pods}]


def test_no_postgres_runs_any_other_way(prod_resources: list[Registered]) -> None:
    for r in prod_resources:
        if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            images = [c["image"] for c in r.inputs["spec"]["template"]["spec"]["containers"]]
            assert not any("postgres" in image for image in images), r.name


def env_of(registered: list[Registered], service: str) -> dict[str, Any]:
    deployment = of_type(registered, "kubernetes:apps/v1:Deployment")[service]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in
            deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_each_owner_reads_only_its_own_database(prod_resources: list[Registered]) -> None:
    env = env_of(prod_resources, "geospatial-service")
    assert env["PGHOST"] == "pg-geospatial-service-rw.openfoundry-compute.svc"
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "pg-geospatial-service-app", "key": "password"}}
    assert env_of(prod_resources, "identity-federation-service")["PGHOST"] == \
        "pg-identity-federation-service-pooler-rw.openfoundry-control.svc"
    assert "PGHOST" not in env_of(prod_resources, "gateway")


def test_database_network_policy_admits_only_its_owner(prod_resources: list[Registered]) -> None:
    policy = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["pg-report-service-access"]
    first_rule = policy.inputs["spec"]["ingress"][0]
    assert first_rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "report-service",
                                                                    "app.kubernetes.io/part-of": "openfoundry"}}}]


@pytest.mark.own_platform
def test_a_pitr_config_renders_a_recovery_cluster(catalog: Catalog) -> None:
    values = deep_merge(read_stack_values("prod"), {"relational": {"postgres": {
        "recoverFrom": {"cluster": "pg-report-service", "targetTime": "2026-11-20T08:30:00+01:00"}}}})
    config = load_stack_config(values, "prod")
    check_config_against_catalog(config, catalog, load_registry(), load_streams())
    registered = register_platform(config, catalog)
    recovery = by_metadata_name(registered, CLUSTER)["pg-report-service-pitr"].inputs["spec"]
    policies = by_metadata_name(registered, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert {"pg-report-service-pitr-access", "pg-report-service-pitr-egress"} <= set(policies)
    assert recovery["bootstrap"]["recovery"]["recoveryTarget"] == {"targetTime": "2026-11-20T08:30:00+01:00"}
    assert recovery["bootstrap"]["recovery"]["source"] == "pg-report-service"
    (origin,) = recovery["externalClusters"]
    assert origin["plugin"]["parameters"] == {"barmanObjectName": "pg-report-service-backups",
                                              "serverName": "pg-report-service"}
    assert recovery["plugins"][0]["parameters"]["serverName"] == "pg-report-service-pitr"


@pytest.mark.parametrize(("recover", "expected"), [
    ({"cluster": "pg-nobody", "targetTime": "2026-11-20T08:30:00Z"}, "recoverFrom.cluster: found 'pg-nobody'"),
    ({"cluster": "pg-report-service", "targetTime": "2026-11-20 08:30"}, "recoverFrom.targetTime"),
])
def test_a_bad_pitr_entry_names_its_path(catalog: Catalog, recover: dict[str, str], expected: str) -> None:
    values = deep_merge(read_stack_values("prod"), {"relational": {"postgres": {"recoverFrom": recover}}})
    with pytest.raises(ConfigErrors) as caught:
        check_config_against_catalog(load_stack_config(values, "prod"), catalog, load_registry(), load_streams())
    assert any(expected in str(p) for p in caught.value.problems)


def test_instances_may_reach_each_other_the_api_server_and_the_backup_gateway_only(
        prod_resources: list[Registered]) -> None:
    policies = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    egress = policies["pg-report-service-egress"].inputs["spec"]
    assert egress["policyTypes"] == ["Egress"]
    assert egress["podSelector"]["matchLabels"] == {"cnpg.io/cluster": "pg-report-service"}
    ports = [sorted(p["port"] for p in rule["ports"]) for rule in egress["egress"]]
    assert ports == [[5432, 8000], [8080], [443, 6443]]
    assert egress["egress"][1]["to"][0]["podSelector"]["matchLabels"] == {"app": "rook-ceph-rgw", "rgw": "lake"}
    assert "pg-identity-federation-service-pooler-rw-egress" in policies  # pooled: PgBouncer reaches the instances and the API
