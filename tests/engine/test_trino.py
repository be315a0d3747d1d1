"""Trino at the pinned version (ops/engine/trino.py) on prod's rendered /etc/trino, laid out as each Deployment's
projected volume lays it out, with the environment its containers get: a coordinator and a worker start (Trino
refuses an unknown or unused property at start, in the main file and in a catalog's), the coordinator lists the
rendered catalogs, and the worker's preStop request, as rendered, moves it to SHUTTING_DOWN while every other user is
refused. The catalog's backends (Lakekeeper, the token endpoint, RGW) are not running: Trino dials them only when a
query touches the catalog, which none here does."""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.engine import trino
from ops.engine.kafka import free_port
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine
ETC = "/etc/trino"


def manifest(kind: str, name: str) -> dict[str, Any]:
    path = rendered("prod") / "1-manifest" / f"{kind}-openfoundry-compute-{name}.yaml"
    return dict(yaml.safe_load(path.read_text()))


def container(role: str) -> dict[str, Any]:
    pod = manifest("apps_v1-deployment", f"trino-{role}")["spec"]["template"]["spec"]
    return dict(pod["containers"][0])


def node_files(role: str) -> trino.NodeFiles:
    """The files of the volume mounted at /etc/trino, from the ConfigMaps its projected sources name."""
    pod = manifest("apps_v1-deployment", f"trino-{role}")["spec"]["template"]["spec"]
    mount = next(m for m in container(role)["volumeMounts"] if m["mountPath"] == ETC)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    files: dict[str, str] = {}
    for source in volume["projected"]["sources"]:
        data = manifest("v1-configmap", source["configMap"]["name"])["data"]
        items = source["configMap"].get("items") or [{"key": key, "path": key} for key in data]
        files.update({item["path"]: data[item["key"]] for item in items})
    return trino.NodeFiles(files)


def environment(role: str, shared_secret: str) -> dict[str, str]:
    """The container's environment, each Secret's value stood in for (one shared secret for the cluster)."""
    found = {}
    for variable in container(role)["env"]:
        name = variable["name"]
        found[name] = variable.get("value") or (shared_secret if name == "TRINO_SHARED_SECRET" else
                                                 "stand-in:" + secrets.token_hex(8))
    return found


def pre_stop(role: str) -> tuple[str, str, str, str, str]:
    """The worker's preStop curl, as rendered: (method, path, user, content type, body)."""
    words = shlex.split(container(role)["lifecycle"]["preStop"]["exec"]["command"][-1].split("&&")[0].split(";")[0])
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    url = next(word for word in words if word.startswith("http://"))
    return (words[words.index("-X") + 1], "/" + url.split("/", 3)[3], headers["X-Trino-User"],
            headers.get("Content-Type", ""), words[words.index("-d") + 1])


@pytest.fixture(scope="module")
def shared_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, shared_secret: str) -> Iterator[tuple[trino.Node, trino.Node]]:
    root = tmp_path_factory.mktemp("trino")
    coordinator_port = free_port()
    coordinator = trino.Node(root / "coordinator", node_files("coordinator"), coordinator_port, coordinator_port,
                             environment("coordinator", shared_secret))
    # the grace period is Trino's default (2 m) as rendered; the drain test waits for the exit, so shorten it
    worker = trino.Node(root / "worker", node_files("worker"), free_port(), coordinator_port,
                        environment("worker", shared_secret), overrides={"shutdown.grace-period": "3s"})
    coordinator.start()
    worker.start()
    try:
        coordinator.wait_ready()
        worker.wait_ready()
        yield coordinator, worker
    finally:
        worker.stop()
        coordinator.stop()


def test_the_coordinator_lists_the_rendered_catalogs(cluster: tuple[trino.Node, trino.Node]) -> None:
    coordinator, _ = cluster
    rendered_catalogs = sorted(Path(path).stem for path in node_files("coordinator").files if path.startswith("catalog/"))
    deadline = time.monotonic() + 120
    while True:   # a query needs a worker: the worker announces itself to the coordinator after it starts
        try:
            rows = coordinator.query("SHOW CATALOGS", "openfoundry-analyst")
            break
        except trino.ToolchainError as refused:
            if "No worker nodes available" not in str(refused) or time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert sorted(row[0] for row in rows) == sorted([*rendered_catalogs, "system"])
    assert rendered_catalogs == ["iceberg"]


def test_only_the_drain_user_may_shut_a_worker_down(cluster: tuple[trino.Node, trino.Node]) -> None:
    coordinator, worker = cluster
    method, path, drain_user, content_type, body = pre_stop("worker")
    assert (method, path, body) == ("PUT", "/v1/info/state", '"SHUTTING_DOWN"')
    assert worker.request(method, path, None, body)[0] == 401                     # nobody named
    assert worker.request(method, path, "openfoundry-analyst", body)[0] == 403    # not in the worker's rules
    assert coordinator.request(method, path, drain_user, body)[0] == 403          # the coordinator keeps the default
    assert worker.request("GET", "/v1/info/state", drain_user)[1] == '"ACTIVE"'
    assert worker.request(method, path, drain_user, body, content_type)[0] == 200   # Trino answers 415 without it
    assert worker.request("GET", "/v1/info/state", drain_user)[1] == '"SHUTTING_DOWN"'
    assert worker.wait_exit(timeout=90) == 0     # the preStop's poll of /v1/info then fails, and the pod goes
    assert coordinator.exited() is None


@pytest.mark.parametrize(("file", "rendered_line", "broken_line", "refusal"), [
    ("catalog/iceberg.properties", "iceberg.file-format=PARQUET", "iceberg.file-formt=PARQUET",
     "Configuration property 'iceberg.file-formt' was not used"),
    ("config.properties", "http-server.http.port=8080", "http-server.port=8080",
     "Configuration property 'http-server.port' was not used"),
], ids=["catalog-property", "server-property"])
def test_a_misspelt_property_refuses_the_start(tmp_path: Path, shared_secret: str, file: str, rendered_line: str,
                                               broken_line: str, refusal: str) -> None:
    files = dict(node_files("coordinator").files)
    assert re.search(rf"^{re.escape(rendered_line)}$", files[file], re.MULTILINE)
    files[file] = files[file].replace(rendered_line, broken_line)
    log = trino.start_failure(tmp_path / "node", trino.NodeFiles(files), environment("coordinator", shared_secret),
                              free_port())
    assert refusal in log
