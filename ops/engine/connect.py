"""A real Kafka Connect worker running Debezium's PostgreSQL connector, as the outbox relay's image runs it: Kafka's
own Connect runtime (the Kafka jars of ops/engine/kafka.py) in distributed mode, with the plugin directory
images/outbox-relay/Dockerfile puts into /opt/kafka/plugins: Debezium's plugin archive from Maven Central, checked
against its pinned SHA-256 and unpacked once into <cache>/debezium-<version>/plugins.

`Worker` writes the worker configuration Strimzi writes for a KafkaConnect (its `spec.config` plus what Strimzi
adds: bootstrap, group and storage topics, SASL_SSL with SCRAM-SHA-512 and the trusted CA, the plugin path, the
REST listener) and starts `ConnectDistributed` with the container's environment. Connectors are created through
the REST API, as the Cluster Operator creates a KafkaConnector's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from foundry.versions import DEBEZIUM_POSTGRES_PLUGIN_SHA256, DEBEZIUM_VERSION
from ops.engine.java import java
from ops.engine.kafka import free_port, kafka_libs
from ops.engine.maven import is_marked, mark
from ops.engine.process import ServerProcess
from ops.engine.toolchain import ToolchainError, cache_dir, log

TAG = "connect"
PLUGIN = f"io.debezium:debezium-connector-postgres:{DEBEZIUM_VERSION}:tar.gz:plugin"
WORKER_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
WORKER_JVM = ("-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"


def debezium_plugins() -> Path:
    """<cache>/debezium-<version>/plugins, holding the connector's plugin directory (resolved when missing)."""
    home = cache_dir() / f"debezium-{DEBEZIUM_VERSION}"
    what = {"artifact": PLUGIN, "sha256": DEBEZIUM_POSTGRES_PLUGIN_SHA256}
    if is_marked(home, what):
        return home / "plugins"
    started = time.monotonic()
    log(f"resolving {PLUGIN} from Maven Central into {home}", TAG)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="debezium-") as work:
        archive = _fetch(PLUGIN, Path(work))
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != DEBEZIUM_POSTGRES_PLUGIN_SHA256:
            raise ToolchainError(f"{archive.name} has SHA-256 {digest}, not the pinned {DEBEZIUM_POSTGRES_PLUGIN_SHA256} "
                                 "(foundry/versions.py DEBEZIUM_POSTGRES_PLUGIN_SHA256)")
        with tarfile.open(archive) as tar:
            tar.extractall(home / "plugins", filter="tar")
    mark(home, what)
    log(f"Debezium's plugin resolved in {time.monotonic() - started:.0f}s", TAG)
    return home / "plugins"


def _fetch(coordinates: str, target: Path) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolchainError("`mvn` is not on PATH: install Maven (Debian's maven) to fetch Debezium's plugin")
    result = subprocess.run([mvn, "-q", "-B", "-Dstyle.color=never", "dependency:copy", f"-Dartifact={coordinates}",
                             f"-DoutputDirectory={target}"], cwd=target, capture_output=True, text=True)
    found = sorted(target.glob("*.tar.gz"))
    if result.returncode != 0 or not found:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise ToolchainError(f"Maven could not resolve {coordinates}:\n{tail}")
    return found[0]


def worker_properties(spec: Mapping[str, Any], bootstrap: str, password: str, ca_file: Path, rest_port: int,
                      plugins: Path) -> dict[str, str]:
    """What Strimzi writes for a KafkaConnect `spec` (its KafkaConnectConfigurationBuilder at 1.2.0): the user's
    `config` with the cluster's own settings on top, for the worker and its producers, consumers and admin."""
    authentication = spec.get("authentication") or {}
    if authentication.get("type") != "scram-sha-512" or not (spec.get("tls") or {}).get("trustedCertificates"):
        raise ToolchainError("the harness speaks SCRAM-SHA-512 over TLS only, as the platform's clients do")
    security = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.jaas.config": f'{SCRAM_LOGIN} required username="{authentication["username"]}" password="{password}";',
                "ssl.truststore.type": "PEM", "ssl.truststore.location": str(ca_file)}
    own = {"bootstrap.servers": bootstrap, "group.id": spec["groupId"],
           "config.storage.topic": spec["configStorageTopic"], "offset.storage.topic": spec["offsetStorageTopic"],
           "status.storage.topic": spec["statusStorageTopic"], "plugin.path": str(plugins),
           "listeners": f"http://127.0.0.1:{rest_port}", "rest.advertised.host.name": "127.0.0.1",
           "rest.advertised.port": str(rest_port), **security,
           **{f"{client}.{key}": value for client in ("producer", "consumer", "admin") for key, value in security.items()}}
    return {**{key: _text(value) for key, value in (spec.get("config") or {}).items()}, **own}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class Worker(ServerProcess):
    """One Connect worker under `root` (worker.properties, worker.log); `env` is the container's environment."""

    tag = TAG

    def __init__(self, root: Path, properties: Mapping[str, str], env: Mapping[str, str]) -> None:
        super().__init__(root / "worker.log")
        self.root = root
        self.properties = dict(properties)
        self.env = dict(env)
        self.name = f"the Connect worker under {root}"
        self.rest = f"http://127.0.0.1:{properties['rest.advertised.port']}"

    def start(self) -> None:
        libs = kafka_libs()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)   # the worker's password is in its properties
        config = self.root / "worker.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in self.properties.items()))
        env = {"PATH": "/usr/bin:/bin", **self.env}
        self.launch([java(), *WORKER_JVM, f"-Dlog4j2.configurationFile={libs.parent / 'config' / 'log4j2.properties'}",
                     "-cp", f"{libs}/*", WORKER_MAIN, str(config)], self.root, env)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Until the REST API answers and the worker has joined its group (it then lists the connectors)."""
        return self.wait_until(lambda: self.call("GET", "/connectors") is not None, timeout)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """A REST call; its JSON answer, or None while the worker cannot answer yet (not listening, rebalancing)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.rest + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as refused:
            if refused.code in (404, 409, 503):
                return None
            raise ToolchainError(f"{method} {path}: {refused.code} {refused.read().decode(errors='replace')}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        return json.loads(text) if text else {}

    def create_connector(self, name: str, config: Mapping[str, str]) -> None:
        """As the Cluster Operator does for a KafkaConnector: PUT its whole configuration."""
        deadline = time.monotonic() + 60
        while self.call("PUT", f"/connectors/{name}/config", dict(config)) is None:
            if time.monotonic() > deadline:
                raise ToolchainError(f"the worker did not take connector {name}:\n{self.log_tail()}")
            time.sleep(0.5)

    def task_state(self, name: str) -> tuple[str, str]:
        """The connector's first task: its state and, when it failed, the trace it left."""
        status = self.call("GET", f"/connectors/{name}/status") or {}
        tasks = status.get("tasks") or []
        return (tasks[0].get("state", ""), tasks[0].get("trace", "")) if tasks else ("", "")

    def wait_streaming(self, name: str, timeout: float = 90.0) -> None:
        """Until the connector's task runs and Debezium reads the slot: rows written before that are not seen."""
        deadline = time.monotonic() + timeout
        while True:
            state, trace = self.task_state(name)
            if state == "FAILED":
                raise ToolchainError(f"connector {name} failed:\n{trace[:3000]}")
            if state == "RUNNING" and "Processing messages" in self.this_run():
                return
            if time.monotonic() > deadline:
                raise ToolchainError(f"connector {name} is not streaming after {timeout:.0f}s ({state or 'no task'}):\n"
                                     f"{self.log_tail()}")
            time.sleep(0.5)


def rest_port() -> int:
    return free_port()
