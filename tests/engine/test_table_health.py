"""The table exporter's numbers against ClickHouse's own: ClickHouse (chdb-core, the 26.9 engine) writes an Iceberg
table in several commits, and what the exporter reads from the table's metadata must equal what ClickHouse reports
of the same table in system.iceberg_files and system.iceberg_history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.lakehouse.table_exporter import exposition, table_metrics

pytestmark = pytest.mark.engine
chdb_session = pytest.importorskip("chdb.session", reason="chdb-core is a pinned dev requirement (requirements-dev.txt)")


def latest_metadata(table: Path) -> dict[str, Any]:
    versions = sorted((table / "metadata").glob("v*.metadata.json"), key=lambda p: int(p.name[1:].split(".")[0]))
    return dict(json.loads(versions[-1].read_text()))


def test_the_exporter_reads_what_clickhouse_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    session = chdb_session.Session()
    try:
        session.query("SET allow_experimental_insert_into_iceberg = 1")
        session.query("CREATE DATABASE lake ENGINE = Atomic")
        session.query("CREATE TABLE lake.`analytics.events` (event_id Nullable(String), n Nullable(Int64)) "
                      "ENGINE = IcebergLocal('warehouse/analytics/events')")
        for commit in range(4):   # a streaming writer's commits: one small file each
            session.query(f"INSERT INTO lake.`analytics.events` VALUES ('a{commit}', {commit}), ('b{commit}', 1)")
        files, size, records = map(int, session.query(
            "SELECT count(), sum(file_size_in_bytes), sum(record_count) FROM system.iceberg_files "
            "WHERE content = 'DATA'", "TSVRaw").data().split())
        snapshots = int(session.query("SELECT count() FROM system.iceberg_history", "TSVRaw").data())
    finally:
        session.close()
    metrics = table_metrics(latest_metadata(tmp_path / "warehouse" / "analytics" / "events"))
    assert (files, records, snapshots) == (4, 8, 4)
    assert metrics["iceberg_table_data_files"] == files
    assert metrics["iceberg_table_total_size_bytes"] == size
    assert metrics["iceberg_table_total_records"] == records
    assert metrics["iceberg_table_snapshot_count"] == snapshots
    assert metrics["iceberg_table_average_file_size_bytes"] == pytest.approx(size / files)
    assert 0 < metrics["iceberg_table_oldest_snapshot_timestamp_seconds"] <= \
        metrics["iceberg_table_last_updated_timestamp_seconds"]
    text = exposition([("analytics", "events", metrics)], 0, 1.0)
    assert f'iceberg_table_data_files{{iceberg_namespace="analytics",table="events"}} {files}' in text.splitlines()
