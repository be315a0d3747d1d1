"""The Iceberg writers' Flink SQL, as prod renders it, parsed and planned by Flink 1.20's own table planner with the
Kafka connector, the JSON format and Iceberg's Flink runtime (ops/engine/flink.py): each CREATE executed against a
strict Iceberg REST catalog stand-in, the INSERT explained, which builds its Kafka source and Iceberg sink and so
checks every connector option. A misspelt option, key or value fails it.

Not judged by planning, and so not here: the `properties.*` values Kafka reads only when it connects, and the
Iceberg table's `write.*` properties (docs/testing.md, "Which engine loads what")."""

from __future__ import annotations

import pytest
import yaml

from foundry.config import StackConfig
from ops.engine import flink
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine
STATEMENTS = ["CREATE TEMPORARY TABLE `source_records` (", "CREATE CATALOG `lake` WITH (",
              "CREATE DATABASE IF NOT EXISTS `lake`.`analytics`", "CREATE TABLE IF NOT EXISTS `lake`.`analytics`.`events` (",
              "INSERT INTO `lake`.`analytics`.`events`"]


def writer_scripts() -> dict[str, str]:
    found = {}
    for path in (rendered("prod") / "1-manifest").glob("v1-configmap-*-iceberg-writer-*.yaml"):
        config_map = yaml.safe_load(path.read_text())
        found[config_map["metadata"]["name"]] = config_map["data"]["job.sql"]
    return found


@pytest.fixture(scope="module")
def script() -> str:
    scripts = writer_scripts()
    assert list(scripts) == ["iceberg-writer-analytics-events"]   # data/lakehouse.yaml's one table
    return scripts["iceberg-writer-analytics-events"]


def planned(script: str, config: StackConfig) -> flink.Plan:
    lakehouse = config.storage.lakehouse
    return flink.plan(script, lakehouse.warehouse, lakehouse.analytics.writer.catalog_scope)


def test_the_writer_s_script_plans_against_the_catalog(script: str, prod_config: StackConfig) -> None:
    plan = planned(script, prod_config)
    assert plan.refused == ""
    assert plan.statements == STATEMENTS
    assert plan.requests[:2] == ["POST /token", f"GET /catalog/v1/config?warehouse={prod_config.storage.lakehouse.warehouse}"]
    assert "GET /catalog/v1/wh/namespaces/analytics/tables/events" in plan.requests   # the INSERT's sink


@pytest.mark.parametrize(("rendered_text", "broken", "refusal"), [
    ("'scan.startup.mode'", "'scan.startup.mod'", "Unsupported options found for 'kafka'"),
    ("'json.ignore-parse-errors' = 'true'", "'json.ignore-parse-errors' = 'ture'", "Unrecognized option for boolean"),
    ("'oauth2-server-uri'", "'oauth2-server-url'", "no bearer token from the configured token endpoint"),
    ("'scope'", "'scopes'", "want the client_credentials grant for scope"),
    ("'header.X-Iceberg-Access-Delegation'", "'header.X-Iceberg-Access-Delegaton'", "remote-signing"),
    ("'format-version' = '2'", "'format-version' = '9'", "Unsupported format version"),
], ids=["kafka-option", "format-value", "token-endpoint-key", "scope-key", "delegation-header", "table-format"])
def test_a_misspelt_option_fails_the_plan(script: str, prod_config: StackConfig, rendered_text: str, broken: str,
                                          refusal: str) -> None:
    assert script.count(rendered_text) == 1
    plan = planned(script.replace(rendered_text, broken), prod_config)
    assert refusal in plan.refused, plan.refused


def test_the_loopback_rewrite_changes_only_the_addresses(script: str) -> None:
    moved = flink.loopback(script, 4242)
    changed = {(a, b) for a, b in zip(script.splitlines(), moved.splitlines(), strict=True) if a != b}
    assert {a.split(" = ")[0].strip() for a, _ in changed} == {
        "'properties.bootstrap.servers'", "'properties.sasl.jaas.config'", "'uri'", "'credential'",
        "'oauth2-server-uri'", "'s3.endpoint'"}
    assert "${" not in moved   # every environment reference is substituted
