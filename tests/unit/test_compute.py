"""The compute plane under mocks: Trino on the Lakekeeper catalog, ClusterIP only, and the gateway's routes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.compute.trino import iceberg_catalog, node_config, properties, trino_object_user
from components.storage.ceph import ObjectUser
from foundry.catalog import Catalog
from foundry.config import ConfigErrors, StackConfig, load_stack_config
from foundry.defaults import deep_merge
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, by_metadata_name, register_platform

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def env_of(resources: list[Registered], deployment: str) -> dict[str, Any]:
    (container,) = by_metadata_name(resources, DEPLOYMENT)[deployment].inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_prod_runs_a_coordinator_and_workers(prod_resources: list[Registered]) -> None:
    deployments = by_metadata_name(prod_resources, DEPLOYMENT)
    assert deployments["trino-coordinator"].inputs["spec"]["replicas"] == 1
    assert deployments["trino-worker"].inputs["spec"]["replicas"] == 3
    configs = by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")
    coordinator = parse_properties(configs["trino-coordinator"].inputs["data"]["config.properties"])
    worker = parse_properties(configs["trino-worker"].inputs["data"]["config.properties"])
    assert coordinator["coordinator"] == "true" and coordinator["node-scheduler.include-coordinator"] == "false"
    assert worker["coordinator"] == "false"
    assert (coordinator["discovery.uri"], worker["discovery.uri"]) == ("http://localhost:8080", "http://trino.openfoundry-compute.svc:8080")
    assert worker["internal-communication.shared-secret"] == "${ENV:TRINO_SHARED_SECRET}"


def test_trino_reads_the_warehouse_through_lakekeeper_in_parquet_and_zstd(prod_resources: list[Registered]) -> None:
    catalog = parse_properties(by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")["trino-catalog"]
                               .inputs["data"]["iceberg.properties"])
    assert catalog["connector.name"] == "iceberg" and catalog["iceberg.catalog.type"] == "rest"
    assert catalog["iceberg.rest-catalog.uri"] == "http://lakekeeper.openfoundry-storage.svc:8181/catalog"
    assert catalog["iceberg.rest-catalog.warehouse"] == "openfoundry"
    assert (catalog["iceberg.file-format"], catalog["iceberg.compression-codec"]) == ("PARQUET", "ZSTD")
    assert catalog["fs.s3.enabled"] == "true" and catalog["s3.path-style-access"] == "true"
    assert catalog["s3.endpoint"] == "http://rook-ceph-rgw-lake.rook-ceph.svc:80"
    # prod's Lakekeeper requires OIDC: Trino gets its token with client credentials from the identity team's Secret
    assert catalog["iceberg.rest-catalog.security"] == "OAUTH2"
    assert catalog["iceberg.rest-catalog.oauth2.credential"] == "${ENV:ICEBERG_OAUTH2_CREDENTIAL}"
    assert catalog["iceberg.rest-catalog.oauth2.scope"] == "lakekeeper"
    assert catalog["iceberg.rest-catalog.oauth2.token-exchange-enabled"] == "false"
    env = env_of(prod_resources, "trino-worker")
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "rook-ceph-object-user-lake-trino", "key": "AccessKey"}}
    assert env["ICEBERG_OAUTH2_CREDENTIAL"]["secretKeyRef"]["name"] == "trino-catalog-oauth2"


def test_trino_has_no_way_in_from_outside(prod_resources: list[Registered]) -> None:
    services = by_metadata_name(prod_resources, SERVICE)
    assert services["trino"].inputs["spec"]["type"] == "ClusterIP"
    assert all(s.inputs["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services.values())
    ingress_backends = {path["backend"]["service"]["name"]
                        for i in prod_resources if i.type == "kubernetes:networking.k8s.io/v1:Ingress"
                        for rule in i.inputs["spec"]["rules"] for path in rule["http"]["paths"]}
    assert not any("trino" in backend for backend in ingress_backends)
    coordinator = by_metadata_name(prod_resources, POLICY)["trino-coordinator"].inputs["spec"]
    (rule,) = coordinator["ingress"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in rule["from"]] == ["sql-bi-gateway-service"]
    assert [p["port"] for p in rule["ports"]] == [8080]
    nodes = by_metadata_name(prod_resources, POLICY)["trino"].inputs["spec"]
    assert all(p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "trino"
               for rule in nodes["ingress"] for p in rule["from"])


def test_trinos_own_rgw_user_is_granted_the_warehouse_bucket(prod_resources: list[Registered]) -> None:
    user = by_metadata_name(prod_resources, "kubernetes:ceph.rook.io/v1:CephObjectStoreUser")["trino"].inputs
    assert user["metadata"]["namespace"] == "openfoundry-compute"
    assert user["spec"] == {"store": "lake", "clusterNamespace": "rook-ceph", "displayName": "trino"}
    store = by_metadata_name(prod_resources, "kubernetes:ceph.rook.io/v1:CephObjectStore")["lake"].inputs["spec"]
    # Trino's user, and ClickHouse's (the lakehouse's analytics, on in prod)
    assert store["allowUsersInNamespaces"] == ["openfoundry-compute", "openfoundry-storage"]
    claims = by_metadata_name(prod_resources, "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim")
    policy = json.loads(claims["lakekeeper-warehouse"].inputs["spec"]["additionalConfig"]["bucketPolicy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    writers, readers = statements["platform-users-read-write"], statements["platform-users-read-only"]
    assert writers["Principal"] == {"AWS": ["arn:aws:iam:::user/trino"]}
    assert readers["Principal"] == {"AWS": ["arn:aws:iam:::user/clickhouse"]}
    for statement in (writers, readers):
        assert statement["Resource"] == ["arn:aws:s3:::lakekeeper-warehouse", "arn:aws:s3:::lakekeeper-warehouse/*"]
        assert not any(a.startswith("s3:PutBucket") or a == "s3:*" for a in statement["Action"])
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(writers["Action"])
    # a reader lists and gets, and nothing else (the S3 actions that change a bucket all start Put, Delete, Abort)
    assert sorted(readers["Action"]) == ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"]
    # the other granted buckets: Medusa's backups (tests/unit/test_operational_store.py), and every backup bucket
    # to the off-site copy's reader alone (tests/unit/test_offsite.py)
    others = {name: c for name, c in claims.items() if name not in ("lakekeeper-warehouse", "cassandra-backups")}
    granted = {name: json.loads(c.inputs["spec"]["additionalConfig"]["bucketPolicy"]) for name, c in others.items()
               if "bucketPolicy" in c.inputs["spec"].get("additionalConfig", {})}
    assert granted and all(name.startswith("pg-backups-") for name in granted)
    assert all([s["Principal"] for s in p["Statement"]] == [{"AWS": ["arn:aws:iam:::user/backup-copier"]}]
               for p in granted.values())


def test_lakekeeper_admits_trino(prod_resources: list[Registered], dev_resources: list[Registered]) -> None:
    def admitted(resources: list[Registered]) -> set[str]:
        spec = by_metadata_name(resources, POLICY)["lakekeeper"].inputs["spec"]
        return {p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") for r in spec["ingress"] for p in r["from"]
                if "podSelector" in p}
    assert "trino" in admitted(prod_resources)
    assert "trino" not in admitted(dev_resources)


def test_development_leaves_trino_out(dev_resources: list[Registered]) -> None:
    assert not [r for r in dev_resources if "trino" in r.name]
    assert "SQL_BACKEND_TRINO_URI" not in env_of(dev_resources, "sql-bi-gateway-service")


def test_the_flight_sql_gateway_reads_its_own_settings_and_may_reach_the_seeds_backends(
        prod_resources: list[Registered]) -> None:
    """The binary reaches a backend only through a Flight SQL endpoint (*_FLIGHT_SQL_URL); none fronts Trino,
    ClickHouse, Vespa or Postgres at the pin, so those variables stay unset (its contract says why) and no setting
    the binary never reads is handed to it; the seed's routes stay open in the NetworkPolicy for such a front."""
    env = env_of(prod_resources, "sql-bi-gateway-service")
    assert (env["PORT"], env["HEALTHZ_PORT"], env["POSTGRES_WIRE_PORT"]) == ("50133", "50134", "5433")
    assert env["ICEBERG_CATALOG_URL"] == "http://iceberg-catalog-service.openfoundry-storage.svc:8197"
    assert not [name for name in env if name.startswith("SQL_BACKEND") or name.endswith("_FLIGHT_SQL_URL")]
    egress = by_metadata_name(prod_resources, POLICY)["sql-bi-gateway-service"].inputs["spec"]["egress"]
    reached = {(tuple(sorted(peer["podSelector"]["matchLabels"].items())), port["port"])
               for rule in egress for peer in rule["to"] if "podSelector" in peer for port in rule["ports"]}
    coordinator = (("app.kubernetes.io/component", "coordinator"), ("app.kubernetes.io/name", "trino"),
                   ("app.kubernetes.io/part-of", "openfoundry"))
    assert (coordinator, 8080) in reached


def test_the_sql_surfaces_listen_on_their_ports(prod_resources: list[Registered], catalog: Catalog) -> None:
    services = by_metadata_name(prod_resources, SERVICE)
    ports = {p["name"]: p["port"] for p in services["sql-bi-gateway-service"].inputs["spec"]["ports"]}
    assert ports == {"http": 50134, "flight-sql": 50133, "postgres-wire": 5433}
    # the seed's warehousing pool is merged into the gateway's binary upstream: it runs no pods of its own
    assert catalog.by_name("sql-warehousing-service").binary is None
    assert "sql-warehousing-service" not in by_metadata_name(prod_resources, DEPLOYMENT)


def test_properties_files_are_plain_key_values() -> None:
    assert properties({"a": True, "b": 3, "c": "x=y"}) == "a=true\nb=3\nc=x=y\n"
    assert "node-scheduler.include-coordinator" not in node_config(coordinator=False)
    assert "discovery.uri=http://localhost:8080\n" in node_config(coordinator=True)
    assert "discovery.uri=http://trino.openfoundry-compute.svc:8080\n" in node_config(coordinator=False)


def test_without_oidc_trino_talks_to_the_catalog_without_a_token(dev_config: StackConfig) -> None:
    storage = dev_config.storage
    catalog = parse_properties(iceberg_catalog(dev_config.compute.trino, storage.lakehouse, storage.rgw_endpoint))
    assert "iceberg.rest-catalog.security" not in catalog


def test_an_oidc_catalog_needs_trinos_token_endpoint() -> None:
    values = deep_merge(read_stack_values("prod"), {"compute": {"trino": {"catalogTokenUri": None}}})
    with pytest.raises(ConfigErrors) as err:
        load_stack_config(values, "prod")
    assert any(p.path == "openfoundry:compute.trino.catalogTokenUri" for p in err.value.problems)


def test_trino_needs_an_identity_lakekeeper_grants_and_an_issuer_to_get_it_from() -> None:
    values = deep_merge(read_stack_values("prod"), {"compute": {"trino": {"catalogPrincipal": None}}})
    with pytest.raises(ConfigErrors) as err:
        load_stack_config(values, "prod")
    assert [p.path for p in err.value.problems] == ["openfoundry:compute.trino.catalogPrincipal"]
    values = deep_merge(read_stack_values("dev"), {"compute": {"trino": {"enabled": True}}})
    with pytest.raises(ConfigErrors) as err:
        load_stack_config(values, "dev")
    assert [p.path for p in err.value.problems] == ["openfoundry:storage.lakehouse.openidProviderUri"]
    values = deep_merge(read_stack_values("prod"), {"compute": {"trino": {"catalogPrincipal": "trino"}}})
    with pytest.raises(ConfigErrors) as err:
        load_stack_config(values, "prod")
    (problem,) = err.value.problems
    assert problem.path == "openfoundry:compute.trino.catalogPrincipal" and "oidc~" in problem.allowed, problem


def test_trinos_rgw_user_is_named_like_rooks_secret() -> None:
    assert trino_object_user() == ObjectUser("trino", "openfoundry-compute", ("lakekeeper-warehouse",))
    assert trino_object_user().secret("lake") == "rook-ceph-object-user-lake-trino"


def test_a_control_only_service_cannot_own_a_kafka_topic(catalog: Catalog, dev_config: StackConfig) -> None:
    from foundry.topics import parse_registry, registry_problems
    from tests.unit.test_topics import registry_data

    data = registry_data()
    data["topics"].append({"name": "identity.sessions.v1", "owner": "identity-federation-service"})
    assert catalog.by_name("identity-federation-service").buses == ["control"]
    found = [str(p) for p in registry_problems(parse_registry(data), catalog, dev_config)]
    assert "data/topics.yaml: topics[identity.sessions.v1].owner: found 'identity-federation-service'; allowed: a " \
           "catalog service whose " \
           "buses include data (data/services.yaml)" in found


@pytest.mark.own_platform
def test_a_sql_readable_database_is_a_read_only_route_of_the_gateway(catalog: Catalog, dev_config: StackConfig) -> None:
    """No service is sqlReadable at the pin (object-database keeps its objects in Cassandra, ADR-0020); the route
    stays a catalog switch: a reader role on the owner's cluster, its password beside both, the gateway admitted."""
    assert [s.name for s in catalog.services if s.sql_readable] == []
    readable = Catalog(services=[s.model_copy(update={"sql_readable": True}) if s.name == "tenancy-organizations-service" else s
                                 for s in catalog.services])
    registered = register_platform(dev_config, readable)
    clusters = by_metadata_name(registered, "kubernetes:postgresql.cnpg.io/v1:Cluster")
    (role,) = [r for r in clusters["pg-tenancy-organizations-service"].inputs["spec"]["managed"]["roles"]
               if r["name"] == "sql_bi_reader"]
    assert (role["name"], role["login"], role["inRoles"]) == ("sql_bi_reader", True, ["pg_read_all_data"])
    assert role["passwordSecret"] == {"name": "pg-tenancy-organizations-service-sql-reader"}
    assert all(r["name"] != "sql_bi_reader" for n, c in clusters.items() if n != "pg-tenancy-organizations-service"
               for r in (c.inputs["spec"].get("managed") or {}).get("roles", []))
    secrets = [r.inputs for r in registered if r.type == "kubernetes:core/v1:Secret"
               and r.inputs["metadata"]["name"] == "pg-tenancy-organizations-service-sql-reader"]
    assert sorted(s["metadata"]["namespace"] for s in secrets) == ["openfoundry-compute", "openfoundry-control"]
    assert all(s["type"] == "kubernetes.io/basic-auth" for s in secrets)
    access = by_metadata_name(registered, POLICY)["pg-tenancy-organizations-service-access"].inputs["spec"]
    admitted = {p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") for p in access["ingress"][0]["from"]}
    assert "sql-bi-gateway-service" in admitted
    other = by_metadata_name(registered, POLICY)["pg-identity-federation-service-access"].inputs["spec"]
    assert "sql-bi-gateway-service" not in {p["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
                                           for p in other["ingress"][0]["from"]}


def test_workers_drain_before_they_stop(prod_resources: list[Registered]) -> None:
    deployments = by_metadata_name(prod_resources, DEPLOYMENT)
    worker = deployments["trino-worker"].inputs["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    drain = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert "/v1/info/state" in drain and '"SHUTTING_DOWN"' in drain
    assert worker["terminationGracePeriodSeconds"] >= 4 * 60   # twice the 2-minute grace period, and the tasks
    (coordinator,) = deployments["trino-coordinator"].inputs["spec"]["template"]["spec"]["containers"]
    assert "lifecycle" not in coordinator


def test_rook_lets_claims_carry_a_bucket_policy() -> None:
    from components.cluster.operators import chart_values

    assert "bucketPolicy" in chart_values("rook-ceph")["obcAllowAdditionalConfigFields"].split(",")
