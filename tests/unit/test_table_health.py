"""Table health in the fast tier: the exporter walks the catalog as the Iceberg REST spec pages it (a local HTTP
server stands in for Lakekeeper), serves Prometheus' text format, and the alerts parse and say what the blueprint
warns about. The numbers themselves are checked against ClickHouse in tests/engine/test_table_health.py."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from components.lakehouse import table_exporter
from components.lakehouse.table_health import alert_rules
from tests.mocks import Registered, by_metadata_name

METADATA = {"current-snapshot-id": 2, "last-updated-ms": 1_700_000_300_000, "snapshots": [
    {"snapshot-id": 1, "timestamp-ms": 1_700_000_000_000, "summary": {"total-data-files": "1"}},
    {"snapshot-id": 2, "timestamp-ms": 1_700_000_300_000, "summary": {
        "total-data-files": "200", "total-files-size": "2000000", "total-records": "5000", "total-delete-files": "3"}}]}


class Catalog(BaseHTTPRequestHandler):
    """The REST shapes the exporter reads: config, namespaces (two pages), tables, one table that fails."""

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        page = urllib.parse.parse_qs(url.query).get("pageToken", [""])[0]
        assert self.headers["Authorization"] == "Bearer the-token"
        answers: dict[str, Any] = {
            "/catalog/v1/config": {"defaults": {}, "overrides": {"prefix": "wh-1"}},
            "/catalog/v1/wh-1/namespaces": ({"namespaces": [["analytics"]], "next-page-token": "p2"} if not page
                                            else {"namespaces": [["raw", "cdc"]]}),
            "/catalog/v1/wh-1/namespaces/analytics/tables": {"identifiers": [
                {"namespace": ["analytics"], "name": "events"}, {"namespace": ["analytics"], "name": "broken"}]},
            "/catalog/v1/wh-1/namespaces/raw%1Fcdc/tables": {"identifiers": [{"namespace": ["raw", "cdc"], "name": "t"}]},
            "/catalog/v1/wh-1/namespaces/analytics/tables/events": {"metadata": METADATA},
            "/catalog/v1/wh-1/namespaces/raw%1Fcdc/tables/t": {"metadata": {"snapshots": []}},
        }
        if url.path not in answers:
            self.send_error(404)
            return
        body = json.dumps(answers[url.path]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture()
def rest_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Catalog)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = tmp_path / "token"
    token.write_text("the-token\n")
    url = f"http://127.0.0.1:{server.server_address[1]}/catalog"
    monkeypatch.setenv("CATALOG_URL", url)
    monkeypatch.setenv("WAREHOUSE", "openfoundry")
    monkeypatch.setenv("ICEBERG_TOKEN_FILE", str(token))
    yield url
    server.shutdown()


def samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if not line.startswith("#")}


def test_every_table_of_every_page_is_read_and_a_broken_one_counted(rest_catalog: str) -> None:
    found = samples(table_exporter.collect())
    events = '{iceberg_namespace="analytics",table="events"}'
    assert found[f"iceberg_table_data_files{events}"] == 200
    assert found[f"iceberg_table_average_file_size_bytes{events}"] == 10_000     # 2,000,000 bytes / 200 files
    assert found[f"iceberg_table_snapshot_count{events}"] == 2
    assert found[f"iceberg_table_delete_files{events}"] == 3
    assert found[f"iceberg_table_oldest_snapshot_timestamp_seconds{events}"] == 1_700_000_000
    # the second page's two-level namespace, a table with no snapshot yet
    assert found['iceberg_table_data_files{iceberg_namespace="raw.cdc",table="t"}'] == 0
    assert found["iceberg_table_exporter_errors"] == 1     # analytics.broken: 404
    assert not any("broken" in key for key in found)


def test_the_metrics_endpoint_serves_the_last_pass(rest_catalog: str) -> None:
    exporter = table_exporter.Exporter()
    exporter.text = table_exporter.collect()
    server = ThreadingHTTPServer(("127.0.0.1", 0), exporter.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = response.read().decode()
    finally:
        server.shutdown()
    assert "# TYPE iceberg_table_snapshot_count gauge" in text and text == exporter.text


def test_an_unreachable_catalog_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    monkeypatch.setenv("CATALOG_URL", "http://127.0.0.1:9/catalog")
    monkeypatch.setenv("WAREHOUSE", "openfoundry")
    monkeypatch.setenv("ICEBERG_TOKEN_FILE", str(tmp_path / "token"))
    assert samples(table_exporter.collect()) == {"iceberg_table_exporter_errors": 1.0,
                                                 "iceberg_table_exporter_last_refresh_timestamp_seconds":
                                                     pytest.approx(samples(table_exporter.collect())[
                                                         "iceberg_table_exporter_last_refresh_timestamp_seconds"], abs=5)}


def test_the_alerts_name_the_blueprints_costs_and_parse() -> None:
    rules = {r["alert"]: r for r in alert_rules(snapshot_retention_days=7)}
    assert set(rules) == {"IcebergSmallFiles", "IcebergSnapshotsNotExpiring", "IcebergTableHealthStale"}
    for rule in rules.values():
        promql_parser.parse(rule["expr"])
    assert "iceberg_table_average_file_size_bytes < 33554432" in rules["IcebergSmallFiles"]["expr"]
    assert "> 691200" in rules["IcebergSnapshotsNotExpiring"]["expr"]   # (7 + 1) days


def test_prod_exports_table_health_with_a_select_grant(prod_resources: list[Registered],
                                                       dev_resources: list[Registered]) -> None:
    exporter = by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment")["iceberg-table-exporter"].inputs
    pod = exporter["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "iceberg-table-exporter" and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    rules = by_metadata_name(prod_resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["iceberg-table-health"]
    assert rules.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (job,) = [r for r in prod_resources if r.type == "kubernetes:batch/v1:Job"
              and r.inputs["metadata"]["name"] == "lakekeeper-warehouse-setup"]
    env = {e["name"]: e.get("value") for e in job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    grants = json.loads(str(env["GRANTS"]))
    assert grants["kubernetes~system:serviceaccount:openfoundry-storage:iceberg-table-exporter"] == ["select"]
    assert "iceberg-table-exporter" not in by_metadata_name(dev_resources, "kubernetes:apps/v1:Deployment")
