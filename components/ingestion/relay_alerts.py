"""The outbox relay's alerts (prod): a connector's task stopped, a slot falling behind, rows parked.

The slot's lag is CloudNativePG's own metric (its default monitoring query `pg_replication_slots`:
cnpg_pg_replication_slots_pg_wal_lsn_diff, the WAL a slot holds back in bytes; config/manager/default-monitoring.yaml
at v1.30.0); the task's state is Kafka Connect's JMX as the relay's exporter rules name it
(components/ingestion/relay.py); the parked rows are Strimzi's Kafka Exporter's partition offsets."""

from __future__ import annotations

from typing import Any

from components.relational.outbox import SLOT

LAG_SHARE = 0.5   # of max_slot_wal_keep_size: paged with half the margin left before Postgres drops the slot


def relay_alert_rules(wal_cap_bytes: int) -> list[dict[str, Any]]:
    threshold = int(wal_cap_bytes * LAG_SHARE)
    return [
        {"alert": "OutboxRelayDown", "expr": "absent(kafka_connect_connector_status)", "for": "10m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "No outbox connector reports its state",
                         "description": "The relay's workers are down or not scraped: every outbox's rows wait in the "
                                        "databases' WAL."}},
        {"alert": "OutboxConnectorNotRunning",
         "expr": 'kafka_connect_connector_status{status!="running"} == 1', "for": "5m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "Outbox connector {{ $labels.connector }} is {{ $labels.status }}",
                         "description": "Its rows wait in the database's WAL until it runs again."}},
        {"alert": "OutboxConnectorWithoutTask",
         "expr": 'count by (connector) (kafka_connect_connector_status{status="running"}) unless '
                 'count by (connector) (kafka_connect_connector_task_status{status="running"})', "for": "10m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "Outbox connector {{ $labels.connector }} runs no task",
                         "description": "The connector runs but no task does (a worker cannot reach the group's "
                                        "leader, or the task never started): nothing is relayed."}},
        {"alert": "OutboxRelayTaskNotRunning",
         "expr": 'kafka_connect_connector_task_status{status=~"failed|unassigned"} == 1', "for": "5m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "Outbox connector {{ $labels.connector }} is not relaying",
                         "description": "Its task has been {{ $labels.status }} for five minutes: the outbox's rows wait "
                                        "in the database's WAL. The task's trace is in the KafkaConnector's status."}},
        {"alert": "OutboxRelaySlotLagging",
         "expr": f'cnpg_pg_replication_slots_pg_wal_lsn_diff{{slot_name="{SLOT}"}} > {threshold}', "for": "15m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "The outbox relay's slot on {{ $labels.pod }} holds back {{ $value | humanize1024 }}B",
                         "description": "Half of max_slot_wal_keep_size: when the rest is used, Postgres drops the slot "
                                        "and the rows it held never reach Kafka."}},
        {"alert": "OutboxRowsParked",
         "expr": 'sum by (topic) (increase(kafka_topic_partition_current_offset{topic=~"__dlq[.]outbox[.].+"}[1h])) > 0',
         "labels": {"severity": "warning"},
         "annotations": {"summary": "Rows were parked in {{ $labels.topic }}",
                         "description": "A service wrote outbox rows for a topic its outbox may not write "
                                        "(data/outboxes.yaml): they wait there, with their topic in the `outbox-topic` "
                                        "header, until the registry lists it and they are replayed."}},
    ]
