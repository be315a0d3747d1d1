"""Every PrometheusRule prod renders, checked by promtool at the pinned Prometheus (ops/engine/promtool.py), and the
SLO burn-rate alerts run through `promtool test rules` on synthetic series: a layer that burns its budget for the
last hour of six pages within the 1h window and does not reach the 6h one; a healthy layer fires nothing. A
burn-rate alert given the wrong window fails the unit test."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.engine.promtool import promtool
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine
SLO = "flight_sql_point_query"
JOB = "openfoundry-compute/sql-bi-gateway-service"
SERIES = 'flight_sql_query_duration_seconds_{kind}{{cache="hit",query_kind="point",job="{job}"{le}}}'


def prometheus_rules() -> dict[str, dict[str, Any]]:
    found = {}
    for path in (rendered("prod") / "1-manifest").glob("monitoring.coreos.com_v1-prometheusrule-*.yaml"):
        rule = yaml.safe_load(path.read_text())
        found[rule["metadata"]["name"]] = {"groups": rule["spec"]["groups"]}
    return found


def check(rules: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run([str(promtool()), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)


def test_promtool_takes_every_rendered_rule(tmp_path: Path) -> None:
    rules = prometheus_rules()
    assert {"nats-consumers", "openfoundry-slos", "iceberg-table-health", "postgres-backups",
            "backups-offsite-copy"} <= set(rules)
    for name, groups in rules.items():
        result = check(groups, tmp_path)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_promtool_refuses_a_rule_with_a_broken_expression(tmp_path: Path) -> None:
    rules = copy.deepcopy(prometheus_rules()["openfoundry-slos"])
    rules["groups"][0]["rules"][0]["expr"] = "1 - (sum(rate(flight_sql_query_duration_seconds_count[5m])"
    result = check(rules, tmp_path)
    assert result.returncode != 0 and "parse error" in result.stdout + result.stderr


def slo_alerts() -> dict[str, dict[str, Any]]:
    groups = prometheus_rules()["openfoundry-slos"]["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r and SLO.replace("_", "") in
            r["alert"].lower().replace("_", "")}


def burning_series(good_per_minute_last_hour: float) -> list[dict[str, str]]:
    """Six hours at 100 events a minute: 99.9 % within the target for five hours, then the given share for one."""
    good_then = 99.9 * 300
    return [
        {"series": SERIES.format(kind="count", job=JOB, le=""), "values": "0+100x360"},
        {"series": SERIES.format(kind="bucket", job=JOB, le=',le="0.02"'),
         "values": f"0+99.9x300 {good_then + good_per_minute_last_hour:g}+{good_per_minute_last_hour:g}x59"},
    ]


def unit_test(rules: dict[str, Any], good_per_minute_last_hour: float, firing: dict[str, bool],
              tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`promtool test rules`: at 6h, each named alert fires (with its rendered labels and annotations) or not."""
    alerts = slo_alerts()
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": burning_series(good_per_minute_last_hour),
        "alert_rule_test": [{"eval_time": "6h", "alertname": name, "exp_alerts": [
            {"exp_labels": alerts[name]["labels"], "exp_annotations": alerts[name]["annotations"]}] if fires else []}
            for name, fires in firing.items()]}]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return subprocess.run([str(promtool()), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


def test_a_burning_layer_pages_within_the_hour_and_a_healthy_one_fires_nothing(tmp_path: Path) -> None:
    rules = prometheus_rules()["openfoundry-slos"]
    one_hour, six_hours = "SLOBurnFlightSqlPointQuery1h", "SLOBurnFlightSqlPointQuery6h"
    assert {one_hour, six_hours} <= set(slo_alerts())
    burning = unit_test(rules, 80, {one_hour: True, six_hours: False}, tmp_path)   # 20 % slow for the last hour
    assert burning.returncode == 0, burning.stdout + burning.stderr
    healthy = unit_test(rules, 99.9, {one_hour: False, six_hours: False}, tmp_path)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr


def test_a_burn_rate_alert_with_the_wrong_window_fails_the_unit_test(tmp_path: Path) -> None:
    rules = copy.deepcopy(prometheus_rules()["openfoundry-slos"])
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "SLOBurnFlightSqlPointQuery1h":   # the 6h window under the 1h alert's name
                rule["expr"] = rule["expr"].replace("error_ratio_rate1h", "error_ratio_rate6h")
    result = unit_test(rules, 80, {"SLOBurnFlightSqlPointQuery1h": True}, tmp_path)
    assert result.returncode != 0 and "SLOBurnFlightSqlPointQuery1h" in result.stdout + result.stderr


DROPPED = "org_apache_cassandra_metrics_dropped_message_dropped_total"
CASSANDRA = {"namespace": "openfoundry-storage", "job": "cassandra-dc1-all-pods-service", "endpoint": "metrics"}


def series(name: str, **labels: str) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in {**CASSANDRA, **labels}.items()) + "}"


def test_the_operational_stores_alerts_fire_on_their_symptoms_and_not_before(tmp_path: Path) -> None:
    """A node down for 10 minutes, one gone, compactions behind for 35 minutes, mutations dropped for 15: each
    alert fires after its `for:` and not on a blip (rules as rendered, annotations aside)."""
    rules = copy.deepcopy(prometheus_rules()["cassandra"])
    for rule in rules["groups"][0]["rules"]:
        rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    a, b = {"pod": "cassandra-dc1-zone-a-sts-0"}, {"pod": "cassandra-dc1-zone-b-sts-0"}
    node = {**CASSANDRA, **a}
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [
        {"interval": "1m",
         "input_series": [{"series": series("up", **a), "values": "1x5 0x20"},
                          {"series": series("up", **b), "values": "1x25"}],
         "alert_rule_test": [
             {"eval_time": "8m", "alertname": "CassandraNodeDown", "exp_alerts": []},
             {"eval_time": "15m", "alertname": "CassandraNodeDown",
              "exp_alerts": [{"exp_labels": {**node, "severity": "critical"}}]},
             {"eval_time": "15m", "alertname": "CassandraNodeMissing", "exp_alerts": [{"exp_labels": {
                 "namespace": CASSANDRA["namespace"], "job": CASSANDRA["job"], "severity": "critical"}}]}]},
        {"interval": "1m",
         "input_series": [
             {"series": series("org_apache_cassandra_metrics_compaction_pending_tasks", **a), "values": "5x10 150x50"},
             {"series": series(DROPPED, **a, message_type="MUTATION_REQ"), "values": "0x10 0+3x40"},
             {"series": series(DROPPED, **a, message_type="MUTATION_RSP"), "values": "0+3x50"}],
         "alert_rule_test": [
             {"eval_time": "35m", "alertname": "CassandraPendingCompactionsHigh", "exp_alerts": []},
             {"eval_time": "45m", "alertname": "CassandraPendingCompactionsHigh",
              "exp_alerts": [{"exp_labels": {**node, "severity": "warning"}}]},
             {"eval_time": "15m", "alertname": "CassandraDroppedMutations", "exp_alerts": []},
             {"eval_time": "30m", "alertname": "CassandraDroppedMutations",
              "exp_alerts": [{"exp_labels": {**node, "message_type": "MUTATION_REQ", "severity": "warning"}}]}]},
    ]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([str(promtool()), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_outbox_relays_alerts_fire_on_their_symptoms_and_not_before(tmp_path: Path) -> None:
    """A task failed for ten minutes, a connector paused, one running without a running task, a slot holding back
    more than its threshold for twenty, rows parked: each alert fires after its `for:`; a running task, a slot under
    the threshold, a busy relayed topic and connectors that report fire nothing."""
    rules = copy.deepcopy(prometheus_rules()["outbox-relay"])
    by_name = {rule["alert"]: rule for rule in rules["groups"][0]["rules"]}
    for rule in by_name.values():
        rule.pop("annotations")
    threshold = int(by_name["OutboxRelaySlotLagging"]["expr"].rsplit(">", 1)[1])
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    task = {"connector": "outbox-media-sets-service", "task": "0"}
    slot = {"slot_name": "outbox_relay", "pod": "pg-media-sets-service-1"}
    parked = {"topic": "__dlq.outbox.media-sets-service.v1", "partition": "0"}

    def named(name: str, labels: dict[str, str]) -> str:
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": named("kafka_connect_connector_task_status", {**task, "status": "failed"}), "values": "1x20"},
            {"series": named("kafka_connect_connector_task_status", {**task, "task": "1", "status": "running"}),
             "values": "1x20"},
            {"series": named("cnpg_pg_replication_slots_pg_wal_lsn_diff", slot),
             "values": f"{threshold // 2}x5 {threshold * 2}x30"},
            {"series": named("cnpg_pg_replication_slots_pg_wal_lsn_diff", {**slot, "pod": "pg-other-1"}),
             "values": f"{threshold - 1}x35"},
            {"series": named("kafka_connect_connector_status", {"connector": task["connector"], "status": "running"}),
             "values": "1x20"},
            {"series": named("kafka_connect_connector_status", {"connector": "outbox-idle", "status": "running"}),
             "values": "1x20"},
            {"series": named("kafka_connect_connector_status", {"connector": "outbox-paused", "status": "paused"}),
             "values": "1x20"},
            {"series": named("kafka_topic_partition_current_offset", parked), "values": "0x10 1+1x10"},
            {"series": named("kafka_topic_partition_current_offset", {**parked, "topic": "audit.events.v1"}),
             "values": "0+100x20"}],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "OutboxRelayTaskNotRunning", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "OutboxRelayTaskNotRunning",
             "exp_alerts": [{"exp_labels": {**task, "status": "failed", "severity": "critical"}}]},
            {"eval_time": "15m", "alertname": "OutboxRelaySlotLagging", "exp_alerts": []},
            {"eval_time": "25m", "alertname": "OutboxRelaySlotLagging",
             "exp_alerts": [{"exp_labels": {**slot, "severity": "critical"}}]},
            {"eval_time": "12m", "alertname": "OutboxRelayDown", "exp_alerts": []},
            {"eval_time": "3m", "alertname": "OutboxConnectorNotRunning", "exp_alerts": []},
            {"eval_time": "8m", "alertname": "OutboxConnectorNotRunning",
             "exp_alerts": [{"exp_labels": {"connector": "outbox-paused", "status": "paused", "severity": "critical"}}]},
            {"eval_time": "15m", "alertname": "OutboxConnectorWithoutTask",
             "exp_alerts": [{"exp_labels": {"connector": "outbox-idle", "severity": "critical"}}]},
            {"eval_time": "9m", "alertname": "OutboxRowsParked", "exp_alerts": []},
            {"eval_time": "15m", "alertname": "OutboxRowsParked",
             "exp_alerts": [{"exp_labels": {"topic": parked["topic"], "severity": "warning"}}]}]}]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([str(promtool()), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_postgres_backup_alerts_fire_on_their_symptoms_and_not_before(tmp_path: Path) -> None:
    """prod's nightly schedule allows 24 h between backups and 3 h to finish one: a backup that ended at t=1000 s is
    paged at 28 h and not at 27 h; a cluster with none pages after the same time, though its plugin missed scrapes;
    one whose plugin reports nothing warns after an hour. Archiving: a failure after the last success pages after
    ten minutes; WAL waiting with nothing archived for over 15 minutes pages, as does WAL waiting on a primary that
    never archived; an idle primary (nothing waiting, nothing archived) does not."""
    rules = copy.deepcopy(prometheus_rules()["postgres-backups"])
    for rule in rules["groups"][0]["rules"]:
        rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    last = "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"

    def pod(cluster: str, index: int = 1) -> dict[str, str]:
        return {"namespace": "openfoundry-storage", "job": f"openfoundry-storage/{cluster}", "pod": f"{cluster}-{index}"}

    def at(name: str, labels: dict[str, str]) -> str:
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    def paged(cluster: str, severity: str = "critical") -> list[dict[str, Any]]:
        return [{"exp_labels": {"namespace": "openfoundry-storage", "job": f"openfoundry-storage/{cluster}",
                                "severity": severity}}]

    day = 28 * 60   # minutes
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [
        {"interval": "1m",
         "input_series": [
             {"series": at(last, pod("pg-old")), "values": f"1000x{day}"},
             {"series": at(last, pod("pg-old", 2)), "values": f"1000x{day}"},   # a replica reports the same
             {"series": at(last, pod("pg-fresh")), "values": f"0+60x{day}"},    # a backup ending every minute
             # the plugin failed for five scrapes at 10 h: the series' gap does not restart the 27 h
             {"series": at(last, pod("pg-none")), "values": f"0x600 _x5 0x{day - 606}"},
             {"series": at("cnpg_collector_up", pod("pg-silent")), "values": "1x90"}],
         "alert_rule_test": [
             {"eval_time": "27h", "alertname": "PostgresBackupTooOld", "exp_alerts": []},
             {"eval_time": "28h", "alertname": "PostgresBackupTooOld", "exp_alerts": paged("pg-old")},
             {"eval_time": "26h", "alertname": "PostgresNoBackupYet", "exp_alerts": []},
             {"eval_time": "28h", "alertname": "PostgresNoBackupYet", "exp_alerts": paged("pg-none")},
             {"eval_time": "50m", "alertname": "PostgresBackupStateUnreported", "exp_alerts": []},
             {"eval_time": "85m", "alertname": "PostgresBackupStateUnreported",
              "exp_alerts": paged("pg-silent", "warning")}]},
        {"interval": "1m",
         "input_series": [
             {"series": at("cnpg_pg_stat_archiver_last_archived_time", pod("pg-failing")), "values": "100x30"},
             {"series": at("cnpg_pg_stat_archiver_last_failed_time", pod("pg-failing")), "values": "50x5 400x25"},
             {"series": at("cnpg_collector_pg_wal_archive_status", {**pod("pg-stuck"), "value": "ready"}),
              "values": "0x5 3x25"},
             {"series": at("cnpg_pg_stat_archiver_seconds_since_last_archival", pod("pg-stuck")),
              "values": "0+60x30"},
             {"series": at("cnpg_collector_pg_wal_archive_status", {**pod("pg-new"), "value": "ready"}),
              "values": "2x30"},   # a new primary whose archiver never succeeded: -1 since, -1 last
             {"series": at("cnpg_pg_stat_archiver_seconds_since_last_archival", pod("pg-new")), "values": "-1x30"},
             {"series": at("cnpg_pg_stat_archiver_last_archived_time", pod("pg-new")), "values": "-1x30"},
             {"series": at("cnpg_collector_pg_wal_archive_status", {**pod("pg-stuck", 2), "value": "ready"}),
              "values": "0x30"},   # a replica's count stays its own
             {"series": at("cnpg_collector_pg_wal_archive_status", {**pod("pg-idle"), "value": "ready"}),
              "values": "0x30"},
             {"series": at("cnpg_pg_stat_archiver_seconds_since_last_archival", pod("pg-idle")),
              "values": "5000+60x30"}],
         "alert_rule_test": [
             {"eval_time": "12m", "alertname": "PostgresWalArchivingFailing", "exp_alerts": []},
             {"eval_time": "17m", "alertname": "PostgresWalArchivingFailing", "exp_alerts": paged("pg-failing")},
             {"eval_time": "20m", "alertname": "PostgresWalArchivingStuck", "exp_alerts": paged("pg-new")},
             {"eval_time": "8m", "alertname": "PostgresWalArchivingStuck", "exp_alerts": []},
             {"eval_time": "28m", "alertname": "PostgresWalArchivingStuck",
              "exp_alerts": paged("pg-new") + paged("pg-stuck")}]},
    ]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([str(promtool()), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_offsite_copy_alerts_fire_when_the_copy_falls_behind_and_not_before(tmp_path: Path) -> None:
    """prod copies every 15 minutes: twice that gap and a run's 6 h deadline are allowed (6.5 h). A copy that last
    succeeded at t=1000 s pages 15 minutes after 6.5 h have passed since, not before; a CronJob that never succeeded
    pages 15 minutes after 6.5 h of existence."""
    rules = copy.deepcopy(prometheus_rules()["backups-offsite-copy"])
    for rule in rules["groups"][0]["rules"]:
        rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    job = 'namespace="openfoundry-storage",cronjob="backups-offsite-copy"'
    paged = [{"exp_labels": {"namespace": "openfoundry-storage", "cronjob": "backups-offsite-copy",
                             "severity": "critical"}}]
    minutes = 8 * 60
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [
        {"interval": "1m",
         "input_series": [{"series": f"kube_cronjob_status_last_successful_time{{{job}}}", "values": f"1000x{minutes}"},
                          {"series": f"kube_cronjob_created{{{job}}}", "values": f"0x{minutes}"}],
         "alert_rule_test": [
             {"eval_time": "6h55m", "alertname": "OffsiteBackupCopyTooOld", "exp_alerts": []},
             {"eval_time": "7h05m", "alertname": "OffsiteBackupCopyTooOld",
              "exp_alerts": paged},
             {"eval_time": "7h05m", "alertname": "OffsiteBackupCopyNeverSucceeded", "exp_alerts": []}]},
        {"interval": "1m",
         "input_series": [{"series": f"kube_cronjob_created{{{job}}}", "values": f"0x{minutes}"}],
         "alert_rule_test": [
             {"eval_time": "6h40m", "alertname": "OffsiteBackupCopyNeverSucceeded", "exp_alerts": []},
             {"eval_time": "6h50m", "alertname": "OffsiteBackupCopyNeverSucceeded", "exp_alerts": paged}]},
    ]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([str(promtool()), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
