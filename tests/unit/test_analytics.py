"""The lakehouse's read path under mocks: ClickHouse reads the warehouse and nothing else, only Grafana and the
SQL gateway reach it, and Grafana's data source and dashboard are provisioned as code. Expected values come from
the seed (002: ClickHouse --> catalog, Grafana --> ClickHouse), the stack files and the plugin's docs."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from foundry.config import ConfigErrors, load_stack_config
from foundry.defaults import deep_merge
from foundry.lakehouse import lakehouse_problems, load_tables, parse_tables
from foundry.topics import load_registry
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, by_metadata_name

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
LAKEKEEPER = "http://lakekeeper.openfoundry-storage.svc:8181/catalog"
RGW = "http://rook-ceph-rgw-lake.rook-ceph.svc:80"


def pod(resources: list[Registered]) -> dict[str, Any]:
    return by_metadata_name(resources, DEPLOYMENT)["clickhouse"].inputs["spec"]["template"]["spec"]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def secrets(resources: list[Registered], name: str) -> list[dict[str, Any]]:
    return [r.inputs for r in resources if r.type == SECRET and r.inputs["metadata"]["name"] == name]


# how the engine marks a value secret (sdk/python/lib/pulumi/runtime/rpc.py: _special_secret_sig)
SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def secret_data(secret: dict[str, Any]) -> dict[str, Any]:
    """A Secret's stringData, which must be a Pulumi secret: it holds a generated password."""
    data = secret["stringData"]
    assert data.get(SECRET_SIGNATURE[0]) == SECRET_SIGNATURE[1], "stringData is not a Pulumi secret"
    return dict(data["value"])


# --- configuration ------------------------------------------------------------------------------------------


def problems_of(overrides: dict[str, Any], stack: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_stack_config(deep_merge(read_stack_values(stack), overrides), stack)
    return [str(p) for p in caught.value.problems]


def test_development_turning_analytics_on_needs_an_issuer() -> None:
    (problem,) = problems_of({"storage": {"lakehouse": {"analytics": {"enabled": True}}}}, "dev")
    assert problem.startswith("openfoundry:storage.lakehouse.openidProviderUri: found nothing; allowed: an OIDC issuer")
    assert "storage.lakehouse.analytics.clickhouse is enabled" in problem


def test_prod_needs_clickhouses_oauth2_client_and_a_spare_replica() -> None:
    found = problems_of({"storage": {"lakehouse": {"analytics": {"clickhouse": {
        "catalogTokenUri": None, "catalogPrincipal": None, "replicas": 1}}}}}, "prod")
    path = "openfoundry:storage.lakehouse.analytics.clickhouse"
    assert [p.split(":", 2)[1] for p in found] == [f"storage.lakehouse.analytics.clickhouse.{k}".replace(
        "openfoundry:", "") for k in ("catalogTokenUri", "catalogPrincipal", "replicas")]
    assert all(p.startswith(path) for p in found)


def test_analytics_are_on_in_prod_and_off_in_dev(prod_resources: list[Registered],
                                                  dev_resources: list[Registered]) -> None:
    assert by_metadata_name(prod_resources, DEPLOYMENT)["clickhouse"].inputs["spec"]["replicas"] == 3
    assert not [r for r in dev_resources if "clickhouse" in r.name]


# --- ClickHouse ---------------------------------------------------------------------------------------------


def test_each_replica_defines_the_warehouse_from_its_secrets(prod_resources: list[Registered]) -> None:
    spec = pod(prod_resources)
    (init,) = spec["initContainers"]
    values = env(init)
    assert values["CATALOG_URI"] == LAKEKEEPER and values["WAREHOUSE"] == "openfoundry"
    assert values["STORAGE_ENDPOINT"] == RGW
    # Pulumi.prod.yaml's issuer; the client's secret from the identity team, S3 keys from Rook's object user
    assert values["CATALOG_OAUTH_SERVER_URI"] == \
        "https://id.foundry.example.com/realms/openfoundry/protocol/openid-connect/token"
    assert values["ICEBERG_OAUTH2_CREDENTIAL"] == {"secretKeyRef": {"name": "clickhouse-catalog-oauth2",
                                                                     "key": "credential"}}
    assert values["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "rook-ceph-object-user-lake-clickhouse",
                                                             "key": "AccessKey"}}
    # the definition, credentials and all, lives in memory only
    (metadata,) = [v for v in spec["volumes"] if v["name"] == "metadata"]
    assert metadata["emptyDir"]["medium"] == "Memory"
    (server,) = spec["containers"]
    values = env(server)
    assert values.pop("CLICKHOUSE_WATCHDOG_ENABLE") == "0"
    assert values and all(isinstance(v, dict) and "secretKeyRef" in v for v in values.values())
    assert server["command"][0] == "/usr/bin/clickhouse-server"


def test_clickhouse_runs_restricted_and_spread_over_zones(prod_resources: list[Registered]) -> None:
    spec = pod(prod_resources)
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 101
    for container in [*spec["containers"], *spec["initContainers"]]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
    (zone,) = [c for c in spec["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert (zone["whenUnsatisfiable"], zone["nodeTaintsPolicy"]) == ("DoNotSchedule", "Honor")
    assert spec["automountServiceAccountToken"] is False


def test_only_grafana_and_the_sql_gateway_reach_clickhouse(prod_resources: list[Registered]) -> None:
    spec = by_metadata_name(prod_resources, POLICY)["clickhouse"].inputs["spec"]
    callers, scrape = spec["ingress"]
    admitted = {(p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                 p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]) for p in callers["from"]}
    assert admitted == {("monitoring", "grafana"), ("openfoundry-compute", "sql-bi-gateway-service")}
    assert [p["port"] for p in callers["ports"]] == [8123]
    assert [p["port"] for p in scrape["ports"]] == [9363] and "podSelector" not in scrape["from"][0]
    out = {(tuple(sorted((p.get("podSelector") or {}).get("matchLabels", {}).items())), port["port"])
           for rule in spec["egress"] for p in rule.get("to") or [{}] for port in rule["ports"]}
    assert ((("app.kubernetes.io/name", "lakekeeper"), ("app.kubernetes.io/part-of", "openfoundry")), 8181) in out
    assert ((), 443) in out   # the issuer's token endpoint


def test_clickhouses_users_only_read_the_warehouse(prod_resources: list[Registered]) -> None:
    files = by_metadata_name(prod_resources, CONFIG_MAP)["clickhouse"].inputs["data"]
    users = ET.fromstring(files["users.xml"])
    assert users.find("users/default").get("remove") == "remove"  # type: ignore[union-attr]
    readers = [u for u in users.find("users") if u.tag != "default"]  # type: ignore[union-attr]
    assert sorted(u.tag for u in readers) == ["grafana", "sql_bi_gateway"]
    for user in readers:
        assert user.find("password").get("from_env") and not user.findtext("password")  # type: ignore[union-attr]
        assert [q.text for q in user.findall("grants/query")] == ["GRANT SELECT ON lake.*"]
        profile = users.find(f"profiles/{user.findtext('profile')}")
        assert profile is not None and profile.findtext("readonly") == "1"
    server = ET.fromstring(files["openfoundry.xml"])
    assert server.findtext("http_port") == "8123" and server.find("listen_host") is None   # the image's: IPv6 and IPv4
    assert server.findtext("send_crash_reports/enabled") == "false"
    assert {e.tag for e in server if e.get("remove") == "remove"} >= {"tcp_port", "mysql_port", "postgresql_port",
                                                                       "interserver_http_port"}


def test_lakekeeper_grants_clickhouse_select_only(prod_resources: list[Registered]) -> None:
    (job,) = [r for r in prod_resources if r.type == "kubernetes:batch/v1:Job"
              and r.inputs["metadata"]["name"] == "lakekeeper-warehouse-setup"]
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    grants = json.loads(env(container)["GRANTS"])
    assert grants["oidc~service-account-clickhouse"] == ["select"]


def test_the_sql_gateways_reader_identity_waits_beside_it(prod_resources: list[Registered]) -> None:
    """The binary reaches ClickHouse only through a Flight SQL front (CLICKHOUSE has no *_FLIGHT_SQL_URL of its own at
    the pin): it reads no ClickHouse setting; the read-only identity such a front would use is kept beside it."""
    (gateway,) = by_metadata_name(prod_resources, DEPLOYMENT)["sql-bi-gateway-service"].inputs["spec"]["template"][
        "spec"]["containers"]
    assert not [name for name in env(gateway) if "CLICKHOUSE" in name]
    (secret,) = secrets(prod_resources, "clickhouse-gateway")
    assert secret["metadata"]["namespace"] == "openfoundry-compute"
    assert secret_data(secret)["username"] == "sql_bi_gateway"
    secret_data(secrets(prod_resources, "clickhouse-users")[0])   # the passwords are generated, never in the program


# --- Grafana ------------------------------------------------------------------------------------------------


def test_grafana_gets_a_clickhouse_data_source_as_code(prod_resources: list[Registered]) -> None:
    (secret,) = secrets(prod_resources, "grafana-datasource-lakehouse")
    assert secret["metadata"]["labels"]["grafana_datasource"] == "1"
    (source,) = yaml.safe_load(next(iter(secret_data(secret).values())))["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"] == {"host": "clickhouse.openfoundry-storage.svc", "port": 8123, "protocol": "http",
                                  "secure": False, "username": "grafana", "defaultDatabase": "lake"}
    assert set(source["secureJsonData"]) == {"password"}   # the generated password, unknown to the mocks


def test_the_analytics_dashboard_reads_every_registry_table_through_that_source(
        prod_resources: list[Registered]) -> None:
    (secret,) = secrets(prod_resources, "grafana-datasource-lakehouse")
    (source,) = yaml.safe_load(next(iter(secret_data(secret).values())))["datasources"]
    board = json.loads(next(iter(by_metadata_name(prod_resources, CONFIG_MAP)["dashboard-lakehouse-analytics"]
                                 .inputs["data"].values())))
    targets = [t for p in board["panels"] for t in p["targets"]]
    assert {p["datasource"]["uid"] for p in board["panels"]} == {source["uid"]}
    # seed 002's table, as ClickHouse names a table of a REST catalog database
    assert targets and all("FROM lake.`analytics.events`" in t["rawSql"] for t in targets)
    assert all(t["editorType"] == "sql" and t["pluginVersion"].startswith("4.") for t in targets)
    assert sorted(t["format"] for t in targets) == [0, 1]   # a time series and a table


# --- the lakehouse registry ---------------------------------------------------------------------------------


GOOD_TABLE = {"name": "analytics.events", "columns": [
    {"name": "event_id", "type": "string"}, {"name": "event_type", "type": "string"},
    {"name": "created_at", "type": "timestamp"}, {"name": "event_date", "type": "date"}],
    "partitionBy": ["event_date"], "time": "created_at", "dimension": "event_type",
    "source": {"topic": "ontology.actions.applied.v1", "fields": {"event_id": "event_id", "event_type": "action_name"},
               "eventTime": "applied_at_ms"}}


@pytest.mark.parametrize(("change", "expected"), [
    ({"source": {**GOOD_TABLE["source"], "topic": "nope.v1"}}, "tables[analytics.events].source.topic: found 'nope.v1'"),
    ({"source": {**GOOD_TABLE["source"], "topic": "openfoundry.streams."}}, "source.topic: found 'openfoundry.streams.'"),
    ({"time": "event_type"}, "tables[analytics.events].time: found 'event_type' (string)"),
    ({"dimension": "created_at"}, "tables[analytics.events].dimension: found 'created_at' (timestamp)"),
    ({"partitionBy": ["day"]}, "tables[analytics.events].partitionBy: found 'day'"),
    ({"source": {**GOOD_TABLE["source"], "fields": {"event_id": "event_id"}}},
     "source.fields: found no field for 'event_type' (string)"),
    ({"source": {**GOOD_TABLE["source"], "fields": {**GOOD_TABLE["source"]["fields"], "user": "actor_sub"}}},
     "source.fields.user: found 'user'"),
])
def test_a_broken_registry_entry_names_its_field(change: dict[str, Any], expected: str) -> None:
    registry = parse_tables({"tables": [{**GOOD_TABLE, **change}]})
    problems = [str(p) for p in lakehouse_problems(registry, load_registry())]
    assert problems and all(p.startswith("data/lakehouse.yaml: tables[analytics.events].") for p in problems)
    assert any(expected in p for p in problems), problems


def test_the_good_entry_and_the_committed_registry_pass() -> None:
    assert list(lakehouse_problems(parse_tables({"tables": [GOOD_TABLE]}), load_registry())) == []
    committed = load_tables()
    assert [t.name for t in committed.tables] == ["analytics.events"]    # seed 002's table
    assert list(lakehouse_problems(committed, load_registry())) == []
    with pytest.raises(ConfigErrors) as caught:
        parse_tables({"tables": [{**GOOD_TABLE, "columns": [{"name": "x", "type": "varchar"}]}]})
    (problem,) = caught.value.problems
    assert str(problem).startswith("data/lakehouse.yaml: tables[analytics.events].columns.0.type: found 'varchar'")
