"""Lakekeeper, Vespa and Iceberg maintenance under mocks (the setup Job's program: test_lakehouse_setup.py)."""

from __future__ import annotations

from typing import Any

import pytest

from foundry.catalog import Catalog, Service
from foundry.config import ConfigErrors, load_stack_config
from foundry.defaults import deep_merge
from ops.engine.stacks import read_stack_values
from tests.expectations import SEED_CATALOG_CLIENTS
from tests.mocks import Registered, by_metadata_name, of_type

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"


def pod_of(resources: list[Registered], type_: str, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = by_metadata_name(resources, type_)[name].inputs["spec"]["template"]["spec"]
    return pod


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --- Lakekeeper ------------------------------------------------------------------------------------------

def test_prod_lakekeeper_is_ha_migrated_first_and_reads_its_own_database(prod_resources: list[Registered]) -> None:
    deployment = by_metadata_name(prod_resources, DEPLOYMENT)["lakekeeper"].inputs["spec"]
    assert deployment["replicas"] >= 2
    pod = deployment["template"]["spec"]
    # a zone's loss leaves a replica (make report: zone-loss.md), and never two on one node
    hard = {c["topologyKey"] for c in pod["topologySpreadConstraints"] if c["whenUnsatisfiable"] == "DoNotSchedule"}
    assert hard == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    # one migration per version, in a Job of its own, never by racing replicas (two would create two OpenFGA stores)
    assert "initContainers" not in pod and pod["containers"][0]["args"] == ["serve"]
    job = pod_of(prod_resources, "kubernetes:batch/v1:Job", "lakekeeper-migrate")
    (migrate,) = job["containers"]
    assert migrate["args"] == ["migrate"] and migrate["env"] == pod["containers"][0]["env"]
    env = env_of(pod["containers"][0])
    assert env["LAKEKEEPER__PG_HOST_W"] == "pg-lakekeeper-rw.openfoundry-storage.svc"
    assert env["LAKEKEEPER__PG_PORT"] == "5432"   # Lakekeeper has no default port
    assert env["LAKEKEEPER__PG_SSL_MODE"] == "verify-full"
    assert env["LAKEKEEPER__PG_PASSWORD"]["secretKeyRef"] == {"name": "pg-lakekeeper-app", "key": "password"}
    assert env["LAKEKEEPER__PG_ENCRYPTION_KEY"]["secretKeyRef"] == {"name": "lakekeeper-encryption-key", "key": "key"}
    assert env["LAKEKEEPER__OPENID_PROVIDER_URI"].startswith("https://")
    assert {p["containerPort"] for p in pod["containers"][0]["ports"]} == {8181, 9000}


def test_the_encryption_key_is_generated_once_and_kept_in_prod(prod_resources: list[Registered],
                                                              dev_resources: list[Registered]) -> None:
    def key(resources: list[Registered]) -> Registered:
        (found,) = [r for r in resources if r.type == "pulumi-python:dynamic:Resource"
                    and r.name == "lakekeeper-encryption-key"]
        return found
    assert key(prod_resources).protected and not key(dev_resources).protected


def test_the_warehouse_job_registers_lakekeepers_own_bucket(prod_resources: list[Registered]) -> None:
    pod = pod_of(prod_resources, "kubernetes:batch/v1:Job", "lakekeeper-warehouse-setup")
    env = env_of(pod["containers"][0])
    assert env["BUCKET_NAME"]["configMapKeyRef"]["name"] == "lakekeeper-warehouse"
    assert env["AWS_SECRET_ACCESS_KEY"]["secretKeyRef"]["name"] == "lakekeeper-warehouse"
    # its own ServiceAccount's token for the catalog's audience, projected by the kubelet
    assert env["ICEBERG_TOKEN_FILE"] == "/var/run/secrets/openfoundry/lakekeeper/token"
    volume, program = pod["volumes"]
    assert program["configMap"]["name"] == "lakekeeper-warehouse-setup"
    assert volume["projected"]["sources"] == [{"serviceAccountToken": {"audience": "lakekeeper", "expirationSeconds": 3600,
                                                                       "path": "token"}}]
    assert pod["serviceAccountName"] == "lakekeeper-warehouse-setup" and pod["automountServiceAccountToken"] is False
    claims = by_metadata_name(prod_resources, "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim")
    assert claims["lakekeeper-warehouse"].inputs["metadata"]["labels"]["openfoundry.io/bucket-owner"] == "lakekeeper"


def test_only_the_platforms_engines_reach_the_catalog(prod_resources: list[Registered], deployed: list[Service]) -> None:
    """The seed's sinks would speak Iceberg REST to Lakekeeper; at the pin none of their binaries does (the sinks POST
    to an OpenFoundry-only append path Lakekeeper does not serve: their contracts), so none is admitted or pointed at
    it. Lakekeeper's clients are the platform's engines and jobs."""
    policy = by_metadata_name(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["lakekeeper"]
    rule, scrape = policy.inputs["spec"]["ingress"]
    callers = {p["podSelector"]["matchLabels"].get("app.kubernetes.io/name", p["podSelector"]["matchLabels"].get(
                   "app", p["podSelector"]["matchLabels"].get("openfoundry.io/component"))) for p in rule["from"]}
    assert [p["port"] for p in scrape["ports"]] == [9000]   # Prometheus reaches only the metrics port
    assert callers == {"lakekeeper-warehouse-setup", "trino", "clickhouse", "iceberg-maintenance", "iceberg-writer",
                       "iceberg-table-exporter"}
    running = {s.name for s in deployed}
    for client in sorted((SEED_CATALOG_CLIENTS | {"action-log-sink"}) & running):
        (container,) = pod_of(prod_resources, DEPLOYMENT, client)["containers"]
        assert "lakekeeper" not in str(env_of(container).get("ICEBERG_CATALOG_URL", "")), client


def test_iceberg_catalog_service_is_wired_to_its_database_and_the_warehouse(prod_resources: list[Registered]) -> None:
    (container,) = pod_of(prod_resources, DEPLOYMENT, "iceberg-catalog-service")["containers"]
    env = env_of(container)
    assert env["PGPASSWORD"]["secretKeyRef"]["name"] == "pg-iceberg-catalog-service-app"
    # the Foundry-internal warehouse (ADR-0041): the bucket the catalog service owns, by its fixed name
    assert env["ICEBERG_CATALOG_WAREHOUSE_URI"] == "s3://iceberg-warehouse"
    claims = by_metadata_name(prod_resources, "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim")
    assert claims["iceberg-warehouse"].inputs["spec"]["bucketName"] == "iceberg-warehouse"


# --- Vespa -----------------------------------------------------------------------------------------------

def test_prod_vespa_has_a_quorum_of_three_config_servers_on_distinct_nodes(prod_resources: list[Registered]) -> None:
    sets = {n: s for n, s in by_metadata_name(prod_resources, STATEFUL_SET).items() if n.startswith("vespa")}
    assert set(sets) == {"vespa-configserver", "vespa-content", "vespa-container"}
    config = sets["vespa-configserver"].inputs["spec"]
    assert config["replicas"] == 3 and config["podManagementPolicy"] == "Parallel"
    pod = config["template"]["spec"]
    assert "readinessProbe" not in pod["containers"][0]
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    servers = env_of(pod["containers"][0])["VESPA_CONFIGSERVERS"].split(",")
    assert servers == [f"vespa-configserver-{i}.vespa-internal.openfoundry-storage.svc.cluster.local" for i in range(3)]
    assert all(c["spec"]["storageClassName"] == "ceph-fast-rbd" for c in config["volumeClaimTemplates"])
    assert all(s.protected for s in sets.values())


def test_dev_vespa_is_one_node(dev_resources: list[Registered]) -> None:
    vespa = by_metadata_name(dev_resources, STATEFUL_SET)["vespa"]
    assert vespa.inputs["spec"]["replicas"] == 1
    (container,) = vespa.inputs["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["configserver,services"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/state/v1/health", "port": 19071}


# --- maintenance -----------------------------------------------------------------------------------------

def test_prod_maintenance_is_a_flink_job_and_dev_a_cron_job(prod_resources: list[Registered],
                                                            dev_resources: list[Registered]) -> None:
    flink = by_metadata_name(prod_resources, "kubernetes:flink.apache.org/v1beta1:FlinkDeployment")["iceberg-maintenance"]
    job = flink.inputs["spec"]["job"]
    assert job["args"][job["args"].index("--snapshot-retention") + 1] == "7d"
    assert "iceberg-maintenance" not in by_metadata_name(prod_resources, "kubernetes:batch/v1:CronJob")
    cron = by_metadata_name(dev_resources, "kubernetes:batch/v1:CronJob")["iceberg-maintenance"]
    assert cron.inputs["spec"]["schedule"] == "30 2 * * *" and cron.inputs["spec"]["concurrencyPolicy"] == "Forbid"
    assert not of_type(dev_resources, "kubernetes:flink.apache.org/v1beta1:FlinkDeployment")


# --- config rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "expected"), [
    ({"storage": {"vespa": {"mode": "single"}}}, "openfoundry:storage.vespa.mode: found 'single'"),
    ({"storage": {"vespa": {"configServers": 4}}}, "openfoundry:storage.vespa.configServers: found 4"),
    ({"storage": {"lakehouse": {"catalogReplicas": 1}}}, "openfoundry:storage.lakehouse.catalogReplicas: found 1"),
    ({"storage": {"lakehouse": {"openidProviderUri": None}}}, "openfoundry:storage.lakehouse.openidProviderUri"),
])
def test_prod_storage_rules_name_their_path(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_stack_config(deep_merge(read_stack_values("prod"), overrides), "prod")
    assert any(expected in str(p) for p in caught.value.problems), caught.value.problems


@pytest.mark.own_platform
def test_the_search_teams_deployers_reach_the_deploy_api_only(catalog: Catalog) -> None:
    from tests.mocks import register_platform

    config = load_stack_config(deep_merge(read_stack_values("prod"), {"storage": {"vespa": {
        "deployerNamespaces": ["search-ci"]}}}), "prod")
    policy = by_metadata_name(register_platform(config, catalog), "kubernetes:networking.k8s.io/v1:NetworkPolicy")["vespa"]
    (deploy,) = [r for r in policy.inputs["spec"]["ingress"]
                 if {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "search-ci"}}} in r.get("from", [])]
    assert deploy["ports"] == [{"port": 19071, "protocol": "TCP"}]
