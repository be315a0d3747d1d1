"""The pinned Trino server without its tarball: since 477 Trino publishes the server archive and its launcher on
GitHub only (trinodb/trino#27524), but every jar the server and its Iceberg plugin run is on Maven Central. Cold:
two Maven runs into <cache>/trino-<version>/ (lib/: trino-main's runtime classpath; plugin/iceberg/: the plugin's,
without the SPI the server provides, plus the services file the tarball adds as a jar of its own); warm: a marker.

`Node` starts one server the way the image's launcher does (bin/launcher: `java <jvm.config> -D<node.properties>
-Dconfig=etc/config.properties -Dlog.levels-file=etc/log.properties <main>`, from the node's data directory), on
rendered files kept byte for byte: only what names the pod's world is given as `-D` on top (ports, addresses,
directories), which Trino's bootstrap lets system properties do without reporting them as unused.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from foundry.versions import TRINO_IMAGE
from ops.engine.java import java_at_least
from ops.engine.maven import copy_dependencies, is_marked, mark
from ops.engine.process import ServerProcess
from ops.engine.toolchain import ToolchainError, cache_dir, log

TAG = "trino"
VERSION = TRINO_IMAGE.rpartition(":")[2]
JAVA = 25   # trino-root's air.java.version (25.0.1); TrinoSystemRequirements refuses older
PLUGIN = "io.trino.plugin.iceberg.IcebergPlugin"
# what the server's class loader gives every plugin (the `provided` dependencies of trino-iceberg's POM); the
# tarball's plugin directories leave them out, though other dependencies pull them in
SERVER_PROVIDED = ("trino-spi", "slice", "jackson-annotations", "opentelemetry-api", "opentelemetry-context",
                   "opentelemetry-api-incubator", "opentelemetry-common")
# io.trino.server.TrinoServer lives in trino-server-main, which is not on Central: it checks the JVM, then does this
LAUNCHER = """public class TrinoMain {
    public static void main(String[] args) { new io.trino.server.Server().start("%s"); }
}
"""
# what bin/launcher adds to jvm.config; TrinoSystemRequirements refuses to start without the Vector API
LAUNCHER_JVM = ("--add-modules=jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow")
TEST_HEAP = "-Xmx1g"   # jvm.config sizes the heap by the pod's limit (RAM percentage): this host is not the pod


def trino_home() -> Path:
    return cache_dir() / f"trino-{VERSION}"


def install() -> Path:
    """The server's lib/ and plugin/ (resolved when missing); the home that holds them."""
    home = trino_home()
    if is_marked(home, {"version": VERSION}):
        return home
    started = time.monotonic()
    log(f"resolving Trino {VERSION}'s server and Iceberg plugin from Maven Central into {home}", TAG)
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="install-", dir=home) as work:
        staging = Path(work)
        copy_dependencies([("io.trino", "trino-main", VERSION)], staging / "lib", f"Trino {VERSION}'s server")
        plugin = staging / "plugin" / "iceberg"
        copy_dependencies([("io.trino", "trino-iceberg", VERSION)], plugin, f"Trino {VERSION}'s Iceberg plugin",
                          exclude=SERVER_PROVIDED)
        with zipfile.ZipFile(plugin / f"trino-iceberg-{VERSION}-services.jar", "w") as services:
            services.writestr("META-INF/services/io.trino.spi.Plugin", PLUGIN + "\n")
        (staging / "TrinoMain.java").write_text(LAUNCHER % VERSION)
        for part in ("lib", "plugin", "TrinoMain.java"):
            shutil.rmtree(home / part, ignore_errors=True) if (home / part).is_dir() else (home / part).unlink(True)
            (staging / part).rename(home / part)
    mark(home, {"version": VERSION})
    log(f"Trino {VERSION} resolved in {time.monotonic() - started:.1f}s", TAG)
    return home


@dataclass(frozen=True)
class NodeFiles:
    """One node's rendered /etc/trino: file name → text (catalog/<name>.properties for catalogs)."""
    files: Mapping[str, str]

    def write(self, etc: Path, rewrites: Mapping[str, str]) -> None:
        for name, text in self.files.items():
            for rendered, local in rewrites.items():
                text = text.replace(rendered, local)
            (etc / name).parent.mkdir(parents=True, exist_ok=True)
            (etc / name).write_text(text)

    def jvm_flags(self) -> list[str]:
        return [line.strip() for line in self.files["jvm.config"].splitlines() if line.strip()]

    def node_properties(self) -> dict[str, str]:
        pairs = (line.split("=", 1) for line in self.files["node.properties"].splitlines() if "=" in line)
        return {key.strip(): value.strip() for key, value in pairs}


class Node(ServerProcess):
    """One Trino server under `root` on `port`: etc/ (the rendered files, their image paths pointed into `root`),
    data/, server.log. Entering starts it and waits until it serves; leaving stops it."""

    tag = TAG

    def __init__(self, root: Path, files: NodeFiles, port: int, discovery_port: int, environment: Mapping[str, str],
                 overrides: Mapping[str, str] | None = None, etc_in_image: str = "/etc/trino") -> None:
        super().__init__(root.resolve() / "server.log")
        self.root, self.files, self.port = root.resolve(), files, port
        self.discovery_port, self.environment = discovery_port, dict(environment)
        self.overrides, self.etc_in_image = dict(overrides or {}), etc_in_image
        self.name = f"Trino on :{port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, home: Path) -> list[str]:
        etc, data = self.root / "etc", self.root / "data"
        system = {**self.files.node_properties(),
                  "node.data-dir": str(data), "plugin.dir": str(home / "plugin"),
                  "node.internal-address": "127.0.0.1", "node.bind-ip": "127.0.0.1",
                  "http-server.http.port": str(self.port), "discovery.uri": f"http://127.0.0.1:{self.discovery_port}",
                  **self.overrides}
        return [str(java_at_least(JAVA, f"Trino {VERSION}")), *self.files.jvm_flags(), TEST_HEAP, *LAUNCHER_JVM,
                *(f"-D{key}={value}" for key, value in system.items()),
                f"-Dconfig={etc / 'config.properties'}", f"-Dlog.levels-file={etc / 'log.properties'}",
                "-cp", f"{home / 'lib'}/*", str(home / "TrinoMain.java")]

    def start(self) -> None:
        home = install()
        data, etc = self.root / "data", self.root / "etc"
        data.mkdir(parents=True, exist_ok=True)
        self.files.write(etc, {self.etc_in_image + "/": f"{etc}/"})
        if not (data / "etc").is_symlink():   # as bin/launcher does: Trino finds etc/catalog/ from the data dir
            (data / "etc").symlink_to(etc)
        self.launch(self.command(home), data, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **self.environment})

    def wait_ready(self, timeout: float = 240.0) -> float:
        """Block until GET /v1/info says the server has started; the seconds it took."""
        return self.wait_until(lambda: (self.info() or {}).get("starting") is False, timeout)

    def info(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/info", timeout=5) as response:
                return dict(json.load(response))
        except (OSError, ValueError):
            return None

    def request(self, method: str, path: str, user: str | None, body: str | None = None,
                content_type: str = "application/json") -> tuple[int, str]:
        """(status, body) of one HTTP call as `user` (X-Trino-User; none when None)."""
        headers = {"Content-Type": content_type} if body is not None else {}
        if user is not None:
            headers["X-Trino-User"] = user
        call = urllib.request.Request(path if path.startswith("http") else self.url + path,
                                      data=None if body is None else body.encode(), method=method, headers=headers)
        try:
            with urllib.request.urlopen(call, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    def query(self, sql: str, user: str, timeout: float = 120.0) -> list[list[object]]:
        """The rows of one statement, through the client protocol (POST /v1/statement, then each nextUri)."""
        status, text = self.request("POST", "/v1/statement", user, sql, content_type="text/plain")
        rows: list[list[object]] = []
        deadline = time.monotonic() + timeout
        while True:
            if status != 200:
                raise ToolchainError(f"Trino answered {status}: {text[:500]}")
            page = json.loads(text)
            if "error" in page:
                raise ToolchainError(f"Trino refused {sql!r}: {page['error'].get('message')}")
            rows += page.get("data", [])
            if "nextUri" not in page:
                return rows
            if time.monotonic() > deadline:
                raise ToolchainError(f"{sql!r} did not finish within {timeout:.0f}s")
            status, text = self.request("GET", page["nextUri"], user)


def start_failure(root: Path, files: NodeFiles, environment: Mapping[str, str], port: int,
                  timeout: float = 240.0) -> str:
    """The log of a node that must refuse to start (it exits); '' when it served instead."""
    node = Node(root, files, port, port, environment)
    node.start()
    try:
        node.wait_ready(timeout)
    except ToolchainError:
        node.stop()
        return node.this_run()
    node.stop()
    return ""

