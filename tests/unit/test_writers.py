"""The lakehouse's write path under mocks: a Flink job per registry table, streaming its topic into its table
exactly once, as its own Kafka principal and OAuth2 client, in restricted pods. Expected values come from seed 002
(the events table, Parquet and ZSTD), the registries and Pulumi.prod.yaml."""

from __future__ import annotations

import re
from typing import Any

from components.lakehouse.writers import flink_memory
from foundry.versions import OPENFOUNDRY_IMAGE_TAG, OPENFOUNDRY_REGISTRY
from tests.mocks import Registered, by_metadata_name

FLINK = "kubernetes:flink.apache.org/v1beta1:FlinkDeployment"
WRITER = "iceberg-writer-analytics-events"


def writer(resources: list[Registered]) -> dict[str, Any]:
    return dict(by_metadata_name(resources, FLINK)[WRITER].inputs["spec"])


def statements(resources: list[Registered]) -> list[str]:
    text = by_metadata_name(resources, "kubernetes:core/v1:ConfigMap")[WRITER].inputs["data"]["job.sql"]
    return [s.strip() for s in text.split(";\n") if s.strip()]


def options(statement: str) -> dict[str, str]:
    return dict(re.findall(r"'([^']+)' = '([^']*)'", statement))


def test_one_writer_per_registry_table_in_prod_and_none_in_dev(prod_resources: list[Registered],
                                                              dev_resources: list[Registered]) -> None:
    assert sorted(n for n in by_metadata_name(prod_resources, FLINK) if n.startswith("iceberg-writer")) == [WRITER]
    assert not [r for r in dev_resources if "iceberg-writer" in r.name]


def test_the_job_commits_exactly_once_and_keeps_its_state_in_its_bucket(prod_resources: list[Registered]) -> None:
    spec = writer(prod_resources)
    config = spec["flinkConfiguration"]
    assert config["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert config["execution.checkpointing.interval"] == "60s"
    for key in ("state.checkpoints.dir", "state.savepoints.dir", "high-availability.storageDir"):
        assert config[key].startswith(f"s3://iceberg-writer-checkpoints/{WRITER}/")
    assert config["high-availability.type"] == "kubernetes" and config["table.local-time-zone"] == "UTC"
    assert spec["job"]["upgradeMode"] == "savepoint" and spec["job"]["state"] == "running"
    assert spec["image"] == f"{OPENFOUNDRY_REGISTRY}/iceberg-writer:{OPENFOUNDRY_IMAGE_TAG}"
    claims = by_metadata_name(prod_resources, "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim")
    assert claims["iceberg-writer-checkpoints"].inputs["metadata"]["namespace"] == "openfoundry-storage"
    assert claims["iceberg-writer-checkpoints"].protected    # prod keeps state


def test_the_pods_are_restricted_and_hold_secrets_only_by_reference(prod_resources: list[Registered]) -> None:
    template = writer(prod_resources)["podTemplate"]
    assert template["metadata"]["labels"]["openfoundry.io/buses"] == "data"
    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (main,) = pod["containers"]
    assert main["securityContext"] == {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                       "capabilities": {"drop": ["ALL"]}}
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in main["env"]}
    assert env["KAFKA_SASL_JAAS_CONFIG"] == {"name": f"kafka-client-{WRITER}", "key": "sasl.jaas.config"}
    assert env["ICEBERG_OAUTH2_CREDENTIAL"] == {"name": "iceberg-writer-catalog-oauth2", "key": "credential"}
    assert env["AWS_ACCESS_KEY_ID"]["name"] == "iceberg-writer-checkpoints"
    assert {m["mountPath"] for m in main["volumeMounts"]} == {"/opt/flink/usrlib/sql", "/etc/openfoundry/ca"}


def test_the_script_reads_its_topic_as_its_own_principal_over_sasl_ssl(prod_resources: list[Registered]) -> None:
    source = options(statements(prod_resources)[0])
    assert source["connector"] == "kafka" and source["topic"] == "ontology.actions.applied.v1"
    assert source["properties.bootstrap.servers"] == "openfoundry-kafka-bootstrap.openfoundry-ingestion.svc:9093"
    assert (source["properties.security.protocol"], source["properties.sasl.mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert source["properties.ssl.truststore.location"] == "/etc/openfoundry/ca/ca.crt"
    assert source["properties.sasl.jaas.config"] == "${KAFKA_SASL_JAAS_CONFIG}"      # the runner substitutes it
    assert source["properties.group.id"] == WRITER and source["scan.startup.mode"] == "group-offsets"
    assert source["properties.isolation.level"] == "read_committed"
    user = by_metadata_name(prod_resources, "kubernetes:kafka.strimzi.io/v1:KafkaUser")[WRITER].inputs["spec"]
    acls = {(a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], tuple(sorted(a["operations"])))
            for a in user["authorization"]["acls"]}
    assert acls == {("topic", "ontology.actions.applied.v1", "literal", ("Describe", "Read")),
                    ("group", WRITER, "literal", ("Read",)), ("group", f"{WRITER}.", "prefix", ("Read",))}


def test_the_script_writes_seed_002s_table_through_lakekeeper(prod_resources: list[Registered]) -> None:
    source, catalog, database, table, insert = statements(prod_resources)
    lake = options(catalog)
    assert (lake["type"], lake["catalog-type"]) == ("iceberg", "rest")
    assert lake["uri"] == "http://lakekeeper.openfoundry-storage.svc:8181/catalog" and lake["warehouse"] == "openfoundry"
    assert lake["oauth2-server-uri"] == "https://id.foundry.example.com/realms/openfoundry/protocol/openid-connect/token"
    assert lake["credential"] == "${ICEBERG_OAUTH2_CREDENTIAL}" and lake["scope"] == "lakekeeper"
    assert database == "CREATE DATABASE IF NOT EXISTS `lake`.`analytics`"
    # seed 002: CREATE TABLE iceberg.analytics.events (...) PARTITIONED BY (event_date), parquet, zstd
    columns = re.findall(r"^  `(\w+)` ([A-Z0-9()_]+),?$", table, re.MULTILINE)
    assert columns == [("event_id", "STRING"), ("event_type", "STRING"), ("user_id", "STRING"), ("payload", "STRING"),
                       ("created_at", "TIMESTAMP(6)"), ("event_date", "DATE")]
    assert "PARTITIONED BY (`event_date`)" in table
    assert options(table)["write.format.default"] == "parquet"
    assert options(table)["write.parquet.compression-codec"] == "zstd"
    assert insert.startswith("INSERT INTO `lake`.`analytics`.`events`")
    assert "CAST(TO_TIMESTAMP_LTZ(`applied_at_ms`, 3) AS DATE)" in insert and "FROM `source_records`" in source + insert


def test_the_writer_reaches_the_brokers_the_catalog_and_rgw(prod_resources: list[Registered]) -> None:
    spec = by_metadata_name(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")[WRITER].inputs["spec"]
    reached = {(tuple(sorted((p.get("podSelector") or {}).get("matchLabels", {}).items())), port["port"])
               for rule in spec["egress"] for p in rule.get("to") or [{}] for port in rule.get("ports") or []}
    assert ((("strimzi.io/broker-role", "true"), ("strimzi.io/cluster", "openfoundry")), 9093) in reached
    assert ((("app.kubernetes.io/name", "lakekeeper"), ("app.kubernetes.io/part-of", "openfoundry")), 8181) in reached


def test_flink_memory_sizes() -> None:
    assert [flink_memory(q) for q in ("2Gi", "512Mi", "1.5Gi")] == ["2048m", "512m", "1536m"]
