"""The lakehouse setup Job's program, run as the Job runs it, against a fake Lakekeeper that keeps the rules the
real one keeps (v0.13.3): bearer tokens on the management API, one bootstrap, a 409 for a grant that exists
(and the whole batch refused with it), a 404 for deleting one that does not."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from components.lakehouse.lakehouse_setup import reconcile
from tests.mocks import Registered, by_metadata_name

PROGRAM = Path(__file__).resolve().parents[2] / "components" / "lakehouse" / "lakehouse_setup.py"
JOB_USER = "kubernetes~system:serviceaccount:openfoundry-storage:lakekeeper-warehouse-setup"
SINK = "kubernetes~system:serviceaccount:openfoundry-ingestion:audit-sink"
STREAMS = "kubernetes~system:serviceaccount:openfoundry-ingestion:event-streaming-service"
TRINO = "oidc~trino-client"


class FakeLakekeeper(BaseHTTPRequestHandler):
    state: ClassVar[dict[str, Any]] = {}

    def _reply(self, body: Any, status: int = 200) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorized(self) -> bool:
        token = self.headers.get("Authorization", "")
        self.state["tokens"].append(token)
        if token.startswith("Bearer ") and len(token) > len("Bearer "):
            return True
        self._reply({"error": {"code": 401}}, 401)
        return False

    def do_GET(self) -> None:
        if self.path == "/health":
            return self._reply({"status": "ok"})
        if not self._authorized():
            return None
        state = self.state
        if self.path == "/management/v1/info":
            return self._reply({"bootstrapped": state["bootstrapped"], "version": "0.13.3"})
        if self.path == "/management/v1/warehouse":
            return self._reply({"warehouses": [{"warehouse-id": i, "id": i, "name": n, "project-id": "0" * 8}
                                               for n, i in state["warehouses"].items()]})
        if self.path.endswith("/assignments"):
            assignments = [{"type": t, "user": u} for t, u in sorted(state["grants"])]
            if state.get("race"):   # another writer gets in between this read and the write
                state["grants"].add(state.pop("race"))
            return self._reply({"assignments": [*assignments, {"type": "select", "role": "r-1"}]})
        return self._reply({"error": {"code": 404}}, 404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self._authorized():
            return None
        state = self.state
        state["posts"].append((self.path, body))
        if self.path == "/management/v1/bootstrap":
            if state["bootstrapped"]:
                return self._reply({"error": {"code": 400, "type": "CatalogAlreadyBootstrapped"}}, 400)
            state["bootstrapped"] = True
            return self._reply(None, 204)
        if self.path == "/management/v1/warehouse":
            warehouse_id = str(uuid.uuid4())
            state["warehouses"][body["warehouse-name"]] = warehouse_id
            state["grants"].add(("ownership", JOB_USER))
            return self._reply({"warehouse-id": warehouse_id, "id": warehouse_id, "name": body["warehouse-name"]}, 201)
        if self.path.endswith("/assignments"):
            writes = {(w["type"], w["user"]) for w in body["writes"]}
            deletes = {(d["type"], d["user"]) for d in body["deletes"]}
            if writes & state["grants"]:
                return self._reply({"error": {"code": 409, "type": "TupleAlreadyExistsError"}}, 409)
            if deletes - state["grants"]:
                return self._reply({"error": {"code": 404}}, 404)
            state["grants"] = (state["grants"] | writes) - deletes
            return self._reply(None, 204)
        return self._reply({"error": {"code": 404}}, 404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def lakekeeper() -> Iterator[str]:
    FakeLakekeeper.state = {"bootstrapped": False, "warehouses": {}, "posts": [], "tokens": [], "grants": set()}
    server = HTTPServer(("127.0.0.1", 0), FakeLakekeeper)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def run(url: str, token_file: Path, grants: dict[str, list[str]]) -> subprocess.CompletedProcess[str]:
    env = {"LAKEKEEPER_URL": url, "WAREHOUSE": "openfoundry", "BUCKET_NAME": "lakekeeper-warehouse",
           "S3_ENDPOINT": "http://rgw:80", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK",
           "ICEBERG_TOKEN_FILE": str(token_file), "GRANTS": json.dumps(grants), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, str(PROGRAM)], env=env, capture_output=True, text=True, timeout=60)


def test_it_bootstraps_registers_grants_and_then_changes_nothing(lakekeeper: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first-token")
    grants = {SINK: ["create", "modify"], TRINO: ["select"]}
    first = run(lakekeeper, token, grants)
    assert first.returncode == 0, first.stderr
    posts = FakeLakekeeper.state["posts"]
    assert [path for path, _ in posts][:2] == ["/management/v1/bootstrap", "/management/v1/warehouse"]
    # the Job's ServiceAccount bootstraps the catalog as its operator, with the token the kubelet projected
    assert posts[0][1] == {"accept-terms-of-use": True, "is-operator": True}
    assert set(FakeLakekeeper.state["tokens"]) == {"Bearer first-token"}
    assert posts[1][1]["storage-profile"] == {"type": "s3", "bucket": "lakekeeper-warehouse", "region": "us-east-1",
                                             "endpoint": "http://rgw:80", "path-style-access": True,
                                             "flavor": "s3-compat", "sts-enabled": False}
    assert posts[1][1]["storage-credential"]["aws-secret-access-key"] == "SK"
    warehouse = FakeLakekeeper.state["warehouses"]["openfoundry"]
    assert posts[2][0] == f"/management/v1/permissions/warehouse/{warehouse}/assignments"
    assert FakeLakekeeper.state["grants"] == {("ownership", JOB_USER), ("create", SINK), ("modify", SINK),
                                              ("select", TRINO)}
    token.write_text("renewed-token")   # the kubelet renews the file: every call reads it afresh
    second = run(lakekeeper, token, grants)
    assert second.returncode == 0, second.stderr
    assert len(posts) == 3, "a second run writes nothing"
    assert "already bootstrapped" in second.stdout and "unchanged" in second.stdout
    assert FakeLakekeeper.state["tokens"][-1] == "Bearer renewed-token"


def test_a_service_account_taken_out_loses_its_grants_and_a_persons_stay(lakekeeper: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    assert run(lakekeeper, token, {SINK: ["create", "modify"], STREAMS: ["create", "modify"]}).returncode == 0
    FakeLakekeeper.state["grants"].add(("modify", "oidc~alice"))   # an administrator's grant to a person
    result = run(lakekeeper, token, {STREAMS: ["create", "modify"], TRINO: ["select"]})
    assert result.returncode == 0, result.stderr
    assert FakeLakekeeper.state["grants"] == {("ownership", JOB_USER), ("create", STREAMS), ("modify", STREAMS),
                                              ("select", TRINO), ("modify", "oidc~alice")}
    assert f"revoked modify from {SINK}" in result.stdout


def test_a_concurrent_writer_fails_the_run_with_one_line_and_the_next_run_completes(lakekeeper: str,
                                                                                    tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    FakeLakekeeper.state["race"] = ("create", SINK)
    failed = run(lakekeeper, token, {SINK: ["create", "modify"]})
    assert failed.returncode != 0 and "HTTP 409" in failed.stderr and "Traceback" not in failed.stderr
    retried = run(lakekeeper, token, {SINK: ["create", "modify"]})   # the Job's backoff runs it again
    assert retried.returncode == 0, retried.stderr
    assert {("create", SINK), ("modify", SINK)} <= FakeLakekeeper.state["grants"]


def test_it_fails_without_a_token_and_touches_nothing(lakekeeper: str, tmp_path: Path) -> None:
    result = run(lakekeeper, tmp_path / "missing", {SINK: ["modify"]})
    assert result.returncode != 0
    assert FakeLakekeeper.state["posts"] == []


def test_reconcile_leaves_the_owner_and_roles_alone() -> None:
    current = {("ownership", JOB_USER), ("modify", SINK), ("describe", "oidc~bob")}
    writes, deletes = reconcile(current, {("modify", STREAMS)})
    assert writes == {("modify", STREAMS)} and deletes == {("modify", SINK)}


def test_the_job_grants_the_writers_the_maintenance_and_trino(prod_resources: list[Registered],
                                                                  dev_resources: list[Registered]) -> None:
    def grants(resources: list[Registered]) -> dict[str, list[str]]:
        job = by_metadata_name(resources, "kubernetes:batch/v1:Job")["lakekeeper-warehouse-setup"].inputs
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        found: dict[str, list[str]] = json.loads(env["GRANTS"])
        return found

    prod, dev = grants(prod_resources), grants(dev_resources)
    account = "kubernetes~system:serviceaccount:"
    # no catalog service is a Lakekeeper client at the pin (components/lakehouse/lakekeeper.py CATALOG_CLIENTS)
    assert not any(p.startswith(f"{account}openfoundry-") and p.rsplit(":", 1)[1] not in (
        "flink", "iceberg-maintenance", "iceberg-table-exporter") for p in prod)
    assert prod[f"{account}openfoundry-storage:flink"] == ["modify"]              # the FlinkDeployment's account
    assert dev[f"{account}openfoundry-storage:iceberg-maintenance"] == ["modify"]  # the CronJob's
    assert prod["oidc~service-account-trino"] == ["select"] and not any(p.startswith("oidc~") for p in dev)
    # the Iceberg writers' OAuth2 client (Pulumi.prod.yaml) creates and commits
    assert [p for p, r in prod.items() if r == ["create", "modify"]] == ["oidc~service-account-iceberg-writer"]
