"""Iceberg table health for Prometheus: every table of the warehouse, read from Lakekeeper's REST catalog.

It runs in the cluster (Python's standard library only: it is shipped in a ConfigMap to a stock Python image) as
its own ServiceAccount, presenting its projected token (read afresh for every call: the kubelet renews it), which
the warehouse grants `select`. Every REFRESH_SECONDS it lists the warehouse's namespaces and tables and loads each
table's metadata (no data file is read); /metrics serves the last pass, so a scrape never waits on the catalog.

The metrics are the Iceberg blueprint's (seed 002, "Monitoring"), from the current snapshot's summary, labelled
`iceberg_namespace` and `table`: iceberg_table_snapshot_count, _data_files, _total_records, _total_size_bytes,
and beside them the average data file size (the small-file problem the blueprint warns about), the delete files,
the oldest snapshot's time (whether snapshot expiry runs) and the last update's time.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NAMESPACE_SEPARATOR = "\x1f"   # the REST spec's separator of a multi-level namespace in a path
METRICS = (
    ("iceberg_table_snapshot_count", "Snapshots the table's metadata keeps."),
    ("iceberg_table_data_files", "Data files of the current snapshot."),
    ("iceberg_table_total_records", "Records of the current snapshot."),
    ("iceberg_table_total_size_bytes", "Bytes of the current snapshot's files."),
    ("iceberg_table_average_file_size_bytes", "Bytes per data file of the current snapshot."),
    ("iceberg_table_delete_files", "Delete files of the current snapshot."),
    ("iceberg_table_oldest_snapshot_timestamp_seconds", "When the oldest kept snapshot was made."),
    ("iceberg_table_last_updated_timestamp_seconds", "When the table's metadata last changed."),
)


def token() -> str:
    with open(os.environ["ICEBERG_TOKEN_FILE"], encoding="utf-8") as file:
        return file.read().strip()


def call(path: str) -> Any:
    request = urllib.request.Request(os.environ["CATALOG_URL"] + path, headers={"Authorization": f"Bearer {token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def pages(path: str, key: str) -> list[Any]:
    """Every item of a listing, following the REST spec's page tokens."""
    items: list[Any] = []
    page = ""
    while True:
        separator = "&" if "?" in path else "?"
        answer = call(path + (separator + urllib.parse.urlencode({"pageToken": page}) if page else ""))
        items += answer.get(key) or []
        page = answer.get("next-page-token") or ""
        if not page:
            return items


def warehouse_prefix(warehouse: str) -> str:
    config = call(f"/v1/config?warehouse={urllib.parse.quote(warehouse)}")
    return str({**(config.get("defaults") or {}), **(config.get("overrides") or {})}["prefix"])


def tables(prefix: str) -> list[tuple[list[str], str]]:
    found = []
    for namespace in pages(f"/v1/{prefix}/namespaces", "namespaces"):
        encoded = urllib.parse.quote(NAMESPACE_SEPARATOR.join(namespace), safe="")
        for identifier in pages(f"/v1/{prefix}/namespaces/{encoded}/tables", "identifiers"):
            found.append((list(identifier["namespace"]), str(identifier["name"])))
    return found


def table_metrics(metadata: dict[str, Any]) -> dict[str, float]:
    """The health of one table from its metadata (the REST LoadTable result's `metadata`, the table's metadata
    file): its snapshots, and the totals the current snapshot's summary carries."""
    snapshots = metadata.get("snapshots") or []
    current = next((s for s in snapshots if s.get("snapshot-id") == metadata.get("current-snapshot-id")), None)
    summary = (current or {}).get("summary") or {}
    files = float(summary.get("total-data-files", 0))
    size = float(summary.get("total-files-size", 0))
    made = [float(s["timestamp-ms"]) / 1000 for s in snapshots if "timestamp-ms" in s]
    return {
        "iceberg_table_snapshot_count": float(len(snapshots)),
        "iceberg_table_data_files": files,
        "iceberg_table_total_records": float(summary.get("total-records", 0)),
        "iceberg_table_total_size_bytes": size,
        "iceberg_table_average_file_size_bytes": size / files if files else 0.0,
        "iceberg_table_delete_files": float(summary.get("total-delete-files", 0)),
        "iceberg_table_oldest_snapshot_timestamp_seconds": min(made) if made else 0.0,
        "iceberg_table_last_updated_timestamp_seconds": float(metadata.get("last-updated-ms", 0)) / 1000,
    }


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(samples: list[tuple[str, str, dict[str, float]]], errors: int, refreshed: float) -> str:
    """Prometheus' text format: each metric's HELP and TYPE, then a sample per table."""
    lines = []
    for name, help_text in METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f'{name}{{iceberg_namespace="{_label(ns)}",table="{_label(table)}"}} {values[name]:.17g}'
                  for ns, table, values in samples]
    lines += ["# HELP iceberg_table_exporter_errors Tables (or the listing) the last pass could not read.",
              "# TYPE iceberg_table_exporter_errors gauge", f"iceberg_table_exporter_errors {errors}",
              "# HELP iceberg_table_exporter_last_refresh_timestamp_seconds When the last pass ended.",
              "# TYPE iceberg_table_exporter_last_refresh_timestamp_seconds gauge",
              f"iceberg_table_exporter_last_refresh_timestamp_seconds {refreshed:.17g}"]
    return "\n".join(lines) + "\n"


def collect() -> str:
    samples, errors = [], 0
    try:
        prefix = warehouse_prefix(os.environ["WAREHOUSE"])
        listed = tables(prefix)
    except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
        print(f"listing the warehouse failed: {error}", file=sys.stderr, flush=True)
        return exposition([], 1, time.time())
    for namespace, name in listed:
        encoded = urllib.parse.quote(NAMESPACE_SEPARATOR.join(namespace), safe="")
        try:
            loaded = call(f"/v1/{prefix}/namespaces/{encoded}/tables/{urllib.parse.quote(name, safe='')}")
            samples.append((".".join(namespace), name, table_metrics(loaded["metadata"])))
        except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
            errors += 1
            print(f"loading {'.'.join(namespace)}.{name} failed: {error}", file=sys.stderr, flush=True)
    return exposition(samples, errors, time.time())


class Exporter:
    def __init__(self) -> None:
        self.text = exposition([], 0, 0.0)
        self.lock = threading.Lock()

    def refresh_forever(self, interval: float) -> None:
        while True:
            text = collect()
            with self.lock:
                self.text = text
            time.sleep(interval)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path not in ("/metrics", "/healthz"):
                    self.send_error(404)
                    return
                with exporter.lock:
                    body = (exporter.text if self.path == "/metrics" else "ok\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def main() -> None:
    exporter = Exporter()
    threading.Thread(target=exporter.refresh_forever, args=(float(os.environ.get("REFRESH_SECONDS", "60")),),
                     daemon=True).start()
    ThreadingHTTPServer(("", int(os.environ.get("PORT", "9464"))), exporter.handler()).serve_forever()


if __name__ == "__main__":
    main()
