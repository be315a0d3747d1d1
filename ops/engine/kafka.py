"""A real Apache Kafka broker without Docker or the internet: Kafka's own jars from Maven Central, run as one KRaft
node (broker and controller) with `java -cp libs/* kafka.Kafka server.properties`.

`kafka_libs()` resolves kafka_2.13 and kafka-tools at KAFKA_VERSION with every runtime dependency and the log4j2
binding Kafka's distribution ships (log4j-slf4j-impl, log4j-1.2-api) into <cache>/kafka-<version>/libs, and writes
bin/ (as /opt/kafka/bin of Strimzi's image: its scripts run here with /opt/kafka replaced by `kafka_home()`) and
config/. Cold: one Maven run (~1 min with an empty ~/.m2); warm: one marker file read.

`Broker` (a context manager) formats a data directory with the caller's SCRAM-SHA-512 users, starts the node
and waits until it serves. Its listeners: the caller's (SASL_SSL with SCRAM-SHA-512 and a PEM key store, or
PLAINTEXT), plus CONTROLLER and REPLICATION on 127.0.0.1 (SASL_PLAINTEXT, PLAIN): the broker is `User:broker`
there, so that no client listener's principal (a PLAINTEXT client is User:ANONYMOUS) needs to be a super user.
The engine's own calls (ACLs, topics, later users) run Kafka's tools as `User:admin` over REPLICATION, on
loopback, whatever names the client listeners advertise; `admin` is a SCRAM user too, for SASL_SSL clients.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from foundry.versions import KAFKA_METADATA_VERSION, KAFKA_VERSION
from ops.engine.java import java
from ops.engine.kafka_config import (
    ADMIN_USER,
    BROKER_USER,
    Acl,
    AclEntry,
    KeyStore,
    Listener,
    ScramUser,
    ServerLayout,
    check_identity,
    check_listeners,
    client_properties,
    cluster_id,
    config_dump,
    log4j2,
    log_problems,
    parse_acl_listing,
    run_class_script,
    server_properties,
    wrapper_script,
)
from ops.engine.maven import copy_dependencies
from ops.engine.process import ServerProcess
from ops.engine.toolchain import ToolchainError, cache_dir, log

TAG = "kafka"
ARTIFACTS = (("org.apache.kafka", "kafka_2.13", KAFKA_VERSION), ("org.apache.kafka", "kafka-tools", KAFKA_VERSION))
LOG4J_VERSION = "2.25.4"   # the log4j-core kafka-server 4.3.1 depends on; its slf4j binding must match it
LOGGING = (("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
           ("org.apache.logging.log4j", "log4j-1.2-api", LOG4J_VERSION))
MARKER = "complete.json"
SERVER_MAIN = "kafka.Kafka"
STORAGE_MAIN = "kafka.tools.StorageTool"
SCRIPTS = {   # bin/<script> -> the main class Kafka 4.3's own script runs
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-console-producer.sh": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer.sh": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups.sh": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-storage.sh": STORAGE_MAIN,
    "kafka-server-start.sh": SERVER_MAIN,
}
BROKER_JVM = ["-Xmx512m", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
TOOL_JVM = "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"   # short-lived clients: start fast


def kafka_home() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}"


# --- the jars, bin/ and config/ ---------------------------------------------------------------------------


def kafka_libs() -> Path:
    """<cache>/kafka-<version>/libs with every jar the broker and its tools need (resolving them when missing)."""
    home = kafka_home()
    libs = home / "libs"
    if _complete(home):
        return libs
    started = time.monotonic()
    log(f"resolving Kafka {KAFKA_VERSION} and its runtime dependencies from Maven Central into {libs}", TAG)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="kafka-libs-", dir=home) as work:
        staging = Path(work) / "libs"
        copy_dependencies((*ARTIFACTS, *LOGGING), staging, f"Kafka {KAFKA_VERSION}'s jars")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
    _write_bin(home)
    _write_config(home)
    jars = sorted(path.name for path in libs.glob("*.jar"))
    (home / MARKER).write_text(json.dumps({"version": KAFKA_VERSION, "jars": jars}, indent=1))
    log(f"{len(jars)} jars resolved in {time.monotonic() - started:.1f}s", TAG)
    return libs


def _complete(home: Path) -> bool:
    try:
        marker = json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return False
    wanted = [home / "libs" / jar for jar in marker.get("jars", [])]
    wanted += [home / "bin" / script for script in (*SCRIPTS, "kafka-run-class.sh")]
    return marker.get("version") == KAFKA_VERSION and len(wanted) > len(SCRIPTS) + 1 and all(p.exists() for p in wanted)


def _write_bin(home: Path) -> None:
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    _executable(bin_dir / "kafka-run-class.sh", run_class_script(KAFKA_VERSION, TOOL_JVM))
    for script, main in SCRIPTS.items():
        _executable(bin_dir / script, wrapper_script(main))


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _write_config(home: Path) -> None:
    config = home / "config"
    config.mkdir(exist_ok=True)
    (config / "tools-log4j2.properties").write_text(log4j2("WARN", "SYSTEM_ERR"))
    (config / "log4j2.properties").write_text(log4j2("INFO", "SYSTEM_OUT", quiet=("kafka.request.logger",)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the broker ---------------------------------------------------------------------------------------------


class Broker(ServerProcess):
    """One KRaft node, broker and controller, under `root` (server.properties, data/, tls/, broker.log, admin
    client properties). Entering starts it (formatting data/ when new) and waits until it serves; leaving stops it
    (SIGTERM, then SIGKILL). A kept `root` is started again with its topics, ACLs and users."""

    def __init__(self, root: Path, listeners: Sequence[Listener], users: Sequence[ScramUser] = (),
                 keystore: KeyStore | None = None, admin_password: str | None = None, node_id: int = 1,
                 config: Mapping[str, str | int] | None = None) -> None:
        check_listeners(listeners)
        for user in users:
            check_identity(user.name, user.password)
            if user.name in (BROKER_USER, ADMIN_USER):
                raise ValueError(f"user {user.name!r} is the broker's own or the admin's: pick another name")
        self.root = root.resolve()
        self.listeners = tuple(listeners)
        self.users = tuple(users)
        self.keystore = keystore
        self.admin = ScramUser(ADMIN_USER, admin_password or secrets.token_urlsafe(18))
        check_identity(self.admin.name, self.admin.password)
        self.node_id = node_id
        self.config = dict(config or {})
        super().__init__(self.root / "broker.log")
        self.name = f"the Kafka broker under {self.root}"
        self._replication_port = 0
        self._upsert_users = False   # a kept data directory: the given users are set once it serves

    # lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            raise ToolchainError(f"the broker under {self.root} is running already (pid {self._process.pid})")
        libs = kafka_libs()
        for listener in self.listeners:
            _check_free(listener)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)   # passwords and the private key live here
        self._replication_port = free_port()
        layout = ServerLayout(self.node_id, free_port(), self._replication_port, self.root / "data",
                              self._write_keystore(), secrets.token_urlsafe(18), self.admin.password)
        properties = self.root / "server.properties"
        properties.write_text(server_properties(self.listeners, layout, self.config))
        (self.root / "admin.properties").write_text(
            client_properties("SASL_PLAINTEXT", ADMIN_USER, self.admin.password, mechanism="PLAIN"))
        fresh = not (layout.data_dir / "meta.properties").exists()
        if fresh:
            self._format(properties)
        cmd = [java(), *BROKER_JVM, f"-Dlog4j2.configurationFile={libs.parent / 'config' / 'log4j2.properties'}",
               "-cp", f"{libs}/*", SERVER_MAIN, str(properties)]
        self.launch(cmd, self.root)
        self._upsert_users = not fresh

    def _write_keystore(self) -> Path | None:
        if not any(listener.protocol == "SASL_SSL" for listener in self.listeners):
            return None
        if self.keystore is None:
            raise ValueError("a SASL_SSL listener needs a key store: Broker(..., keystore=KeyStore.of(chain, key))")
        path = self.root / "tls" / "keystore.pem"
        path.parent.mkdir(exist_ok=True)
        path.write_text(self.keystore.combined())
        path.chmod(0o600)
        return path

    def _format(self, properties: Path) -> None:
        cmd = [str(kafka_home() / "bin" / "kafka-storage.sh"), "format", "--config", str(properties),
               "--cluster-id", cluster_id(), "--release-version", KAFKA_METADATA_VERSION]
        for user in (self.admin, *self.users):
            cmd += ["--add-scram", user.storage_argument()]
        started = time.monotonic()
        _run(cmd, "formatting the data directory")
        log(f"formatted data/ with {len(self.users) + 1} SCRAM users in {time.monotonic() - started:.1f}s", TAG)

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until the node logs that it started and every listener accepts; the seconds since start()."""
        self.wait_until(lambda: "Kafka Server started" in self.this_run() and self._listening(), timeout)
        log(f"broker ready: {', '.join(self.describe())}", TAG)
        if self._upsert_users:   # a kept data directory: the admin's password is new, the given users may be
            self.add_users([self.admin, *self.users])
        assert self.started_in is not None
        return self.started_in

    def _listening(self) -> bool:
        targets = [("127.0.0.1", self._replication_port)]
        targets += [("127.0.0.1" if ln.host in ("", "0.0.0.0") else ln.host, ln.port) for ln in self.listeners]
        for host, port in targets:
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                return False
        return True

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM (a controlled shutdown), then SIGKILL after `grace` seconds; the exit code."""
        code = super().stop(grace)
        if code is not None:
            log(f"broker stopped (exit {code})", TAG)
        return code

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def rss_bytes(self) -> int:
        """The broker JVM's resident memory."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text() if self.pid else ""
        except OSError:
            return 0
        found = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")]
        return int(found[0]) * 1024 if found else 0

    def log_tail(self, lines: int = 12) -> str:
        """This run's errors and their causes, then its last lines (shutdown noise, mostly, after a failure)."""
        try:
            text = self.this_run().splitlines()
        except OSError:
            return "(no log)"
        return "\n".join([*log_problems(text), "...", *text[-lines:], f"(the whole log: {self.log_file})"])

    def effective_config(self) -> dict[str, str]:
        """What the broker took: its own dump of every config it knows, as this run logged it."""
        return config_dump(self.this_run())

    def describe(self) -> list[str]:
        return [f"{ln.name} {ln.protocol} {ln.host}:{ln.port} (advertised {ln.advertised})" for ln in self.listeners]

    def bootstrap(self, listener: str) -> str:
        """The address clients of that listener dial (its advertised host and port)."""
        for candidate in self.listeners:
            if candidate.name == listener:
                return candidate.advertised
        raise KeyError(listener)

    # the engine's calls, as admin over REPLICATION ----------------------------------------------------------

    @property
    def admin_bootstrap(self) -> str:
        return f"127.0.0.1:{self._replication_port}"

    def tool(self, script: str, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        """Run bin/<script> as admin over the REPLICATION listener; its stdout (ToolchainError on failure)."""
        cmd = [str(kafka_home() / "bin" / script), "--bootstrap-server", self.admin_bootstrap,
               "--command-config", str(self.root / "admin.properties"), *args]
        return _run(cmd, f"{script} {' '.join(args)}", stdin=stdin, timeout=timeout)

    def create_topic(self, name: str, partitions: int = 1, configs: dict[str, str] | None = None) -> None:
        extra = [arg for key, value in (configs or {}).items() for arg in ("--config", f"{key}={value}")]
        self.tool("kafka-topics.sh", "--create", "--if-not-exists", "--topic", name, "--partitions", str(partitions),
                  "--replication-factor", "1", *extra)

    def create_acls(self, principal: str, bindings: Sequence[Acl]) -> None:
        """Allow `principal` (e.g. User:audit-sink) each binding; adding an existing ACL changes nothing."""
        for binding in bindings:
            self.tool("kafka-acls.sh", "--add", "--allow-principal", principal, *binding.tool_arguments())

    def list_acls(self, principal: str | None = None) -> list[AclEntry]:
        args = ["--list", *(["--principal", principal] if principal else [])]
        return parse_acl_listing(self.tool("kafka-acls.sh", *args))

    def group_states(self) -> dict[str, str]:
        """Every consumer group the broker knows, with its state (Stable: its members joined)."""
        lines = self.tool("kafka-consumer-groups.sh", "--list", "--state").splitlines()[1:]   # under a header
        return {parts[0]: parts[-1] for parts in map(str.split, lines) if len(parts) >= 2}

    def add_users(self, users: Sequence[ScramUser]) -> None:
        """Create or update SCRAM-SHA-512 users on the running broker (kafka-configs.sh --alter)."""
        for user in users:
            check_identity(user.name, user.password)
            self.tool("kafka-configs.sh", "--alter", "--entity-type", "users", "--entity-name", user.name,
                      "--add-config", f"SCRAM-SHA-512=[password={user.password}]")


def _check_free(listener: Listener) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((listener.host, listener.port))
        except OSError as exc:
            raise ToolchainError(f"listener {listener.name}: cannot bind {listener.host}:{listener.port} "
                                 f"({exc.strerror})") from exc


def _run(cmd: list[str], what: str, stdin: str | None = None, timeout: float = 120) -> str:
    try:
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"{what}: no answer within {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {result.returncode}):\n{(result.stderr or result.stdout).strip()[-3000:]}")
    return result.stdout
