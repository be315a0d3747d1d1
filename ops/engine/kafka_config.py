"""What a local Kafka broker is told (ops/engine/kafka.py runs it): its listeners, users, key store and ACLs as
values, and the files they become — server.properties, the log4j2 configurations, a client's properties, the
throwaway POM that fetches the jars and the bin/ scripts.

Pure functions over frozen dataclasses; nothing here starts a process.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Protocol = Literal["SASL_SSL", "PLAINTEXT"]
ResourceKind = Literal["topic", "group", "cluster", "transactional-id"]
PatternType = Literal["literal", "prefixed"]

SCRAM = "SCRAM-SHA-512"
CONTROLLER = "CONTROLLER"     # KRaft's listener: SASL_PLAINTEXT, PLAIN, on loopback
REPLICATION = "REPLICATION"   # the inter-broker listener, which the engine's own tools use too: the same
BROKER_USER = "broker"        # the broker's own principal on both (a super user)
ADMIN_USER = "admin"          # the engine's set-up principal: SCRAM on every SASL_SSL listener, PLAIN on REPLICATION
RESERVED = (CONTROLLER, REPLICATION)
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SAFE = re.compile(r"[^\"\\\s,\]\[=]+")   # what may stand unquoted in JAAS and in --add-scram


@dataclass(frozen=True)
class Listener:
    """One client listener: bound on host:port, advertised to clients as advertised_host:port (clients dial that)."""

    name: str
    host: str
    port: int
    protocol: Protocol
    advertised_host: str | None = None

    @property
    def advertised(self) -> str:
        return f"{self.advertised_host or self.host}:{self.port}"


@dataclass(frozen=True)
class ScramUser:
    name: str
    password: str

    @property
    def principal(self) -> str:
        return f"User:{self.name}"

    def storage_argument(self) -> str:
        """`kafka-storage format --add-scram`'s value."""
        return f"{SCRAM}=[name={self.name},password={self.password}]"


@dataclass(frozen=True)
class KeyStore:
    """A PEM key store (KIP-651): the certificate chain (leaf first) and its unencrypted PKCS#8 key."""

    chain: str
    key: str

    @classmethod
    def of(cls, chain: str | Path, key: str | Path) -> KeyStore:
        """Each argument a PEM text or the path of a file holding one."""
        return cls(_pem(chain, "CERTIFICATE"), _pem(key, "PRIVATE KEY"))

    def combined(self) -> str:
        """What `ssl.keystore.location` of type PEM reads: the key, then the chain."""
        return f"{self.key.strip()}\n{self.chain.strip()}\n"


@dataclass(frozen=True)
class Acl:
    """Allow `operations` (kafka-acls.sh spelling: Read, Write, Describe, ...) on one resource pattern."""

    resource: ResourceKind
    name: str
    operations: tuple[str, ...]
    pattern: PatternType = "literal"

    def tool_arguments(self) -> list[str]:
        target = ["--cluster"] if self.resource == "cluster" else [f"--{self.resource}", self.name]
        ops = [arg for op in self.operations for arg in ("--operation", op)]
        return [*ops, *target, "--resource-pattern-type", self.pattern]


@dataclass(frozen=True)
class AclEntry:
    """One ACL as `kafka-acls.sh --list` prints it."""

    resource: str       # TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID
    name: str
    pattern: str        # LITERAL, PREFIXED
    principal: str
    host: str
    operation: str      # READ, WRITE, ...
    permission: str     # ALLOW, DENY


def _pem(value: str | Path, kind: str) -> str:
    text = value.read_text() if isinstance(value, Path) else value
    if "-----BEGIN" not in text and Path(text).is_file():
        text = Path(text).read_text()
    if f"-----BEGIN {kind}-----" not in text:
        hint = " (PKCS#8: `openssl pkcs8 -topk8 -nocrypt`)" if kind == "PRIVATE KEY" else ""
        raise ValueError(f"expected a PEM '{kind}' block{hint}")
    return text


def check_identity(name: str, password: str) -> None:
    """Names and passwords go into JAAS strings and --add-scram unquoted: keep them to safe characters."""
    for what, value in (("user name", name), ("password", password)):
        if not _SAFE.fullmatch(value):
            raise ValueError(f"{what} {value!r}: use no quotes, backslashes, spaces, commas, '=' or brackets")


def check_listeners(listeners: Sequence[Listener]) -> None:
    names = [listener.name.upper() for listener in listeners]
    ports = [listener.port for listener in listeners]
    if len(set(names)) != len(names) or len(set(ports)) != len(ports):
        raise ValueError("listener names and ports must be unique")
    for listener in listeners:
        if not _NAME.fullmatch(listener.name) or listener.name.upper() in RESERVED:
            raise ValueError(f"listener name {listener.name!r}: a plain word, not one of {RESERVED}")
        if listener.protocol not in ("SASL_SSL", "PLAINTEXT"):
            raise ValueError(f"listener {listener.name}: protocol {listener.protocol!r} is not SASL_SSL or PLAINTEXT")


def plain_jaas(password: str, users: dict[str, str]) -> str:
    """The JAAS entry of a PLAIN listener: the broker logs in as itself and accepts `users`."""
    accepted = " ".join(f'user_{name}="{secret}"' for name, secret in users.items())
    return f'{PLAIN_MODULE} required username="{BROKER_USER}" password="{password}" {accepted};'


@dataclass(frozen=True)
class ServerLayout:
    """Everything server.properties names that is not the caller's: node id, internal ports, paths, secrets."""

    node_id: int
    controller_port: int
    replication_port: int
    data_dir: Path
    keystore: Path | None
    broker_password: str
    admin_password: str


def server_properties(listeners: Sequence[Listener], layout: ServerLayout,
                      config: Mapping[str, str | int] | None = None) -> str:
    """One KRaft node, broker and controller, whose only super users are itself and the admin; `config` (a Kafka
    resource's `spec.kafka.config`) over its defaults."""
    internal = [f"{CONTROLLER}://127.0.0.1:{layout.controller_port}", f"{REPLICATION}://127.0.0.1:{layout.replication_port}"]
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": layout.node_id,
        "controller.quorum.voters": f"{layout.node_id}@127.0.0.1:{layout.controller_port}",
        "controller.listener.names": CONTROLLER,
        "listeners": ",".join([*internal, *(f"{ln.name}://{ln.host}:{ln.port}" for ln in listeners)]),
        "advertised.listeners": ",".join([internal[1], *(f"{ln.name}://{ln.advertised}" for ln in listeners)]),
        "listener.security.protocol.map": ",".join(
            [f"{CONTROLLER}:SASL_PLAINTEXT", f"{REPLICATION}:SASL_PLAINTEXT",
             *(f"{ln.name}:{ln.protocol}" for ln in listeners)]),
        "inter.broker.listener.name": REPLICATION,
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{BROKER_USER};User:{ADMIN_USER}",
        "log.dirs": str(layout.data_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
    }
    props.update(config or {})
    props.update(_internal_listener(CONTROLLER, plain_jaas(layout.broker_password, {BROKER_USER: layout.broker_password})))
    props.update(_internal_listener(REPLICATION, plain_jaas(layout.broker_password, {
        BROKER_USER: layout.broker_password, ADMIN_USER: layout.admin_password})))
    for listener in listeners:
        if listener.protocol == "SASL_SSL":
            if layout.keystore is None:
                raise ValueError(f"listener {listener.name} is SASL_SSL: the broker needs a key store")
            props.update(_sasl_ssl_listener(listener.name, layout.keystore))
    return render(props)


def _internal_listener(name: str, jaas: str) -> dict[str, str | int]:
    prefix = f"listener.name.{name.lower()}"
    return {f"{prefix}.sasl.enabled.mechanisms": "PLAIN", f"{prefix}.plain.sasl.jaas.config": jaas}


def _sasl_ssl_listener(name: str, keystore: Path) -> dict[str, str | int]:
    prefix = f"listener.name.{name.lower()}"
    return {
        f"{prefix}.sasl.enabled.mechanisms": SCRAM,
        f"{prefix}.{SCRAM.lower()}.sasl.jaas.config": f"{SCRAM_MODULE} required;",
        f"{prefix}.ssl.keystore.type": "PEM",
        f"{prefix}.ssl.keystore.location": str(keystore),
    }


def render(props: dict[str, str | int]) -> str:
    """A Java properties file (values escaped: a backslash is the one character that needs it here)."""
    return "".join(f"{key}={str(value).replace(chr(92), chr(92) * 2)}\n" for key, value in props.items())


def client_properties(protocol: Literal["SASL_SSL", "SASL_PLAINTEXT", "PLAINTEXT"], user: str | None = None,
                      password: str | None = None, ca_file: Path | None = None, mechanism: str = SCRAM) -> str:
    """A client's --command-config / --consumer.config / --producer.config."""
    props: dict[str, str | int] = {"security.protocol": protocol}
    if protocol != "PLAINTEXT":
        if user is None or password is None:
            raise ValueError(f"{protocol} needs a user and a password")
        props["sasl.mechanism"] = mechanism
        module = PLAIN_MODULE if mechanism == "PLAIN" else SCRAM_MODULE
        props["sasl.jaas.config"] = f'{module} required username="{user}" password="{password}";'
    if protocol == "SASL_SSL" and ca_file is not None:
        props.update({"ssl.truststore.type": "PEM", "ssl.truststore.location": str(ca_file)})
    return render(props)


def log4j2(level: str, target: Literal["SYSTEM_OUT", "SYSTEM_ERR"], quiet: Iterable[str] = ()) -> str:
    """A log4j2 properties configuration: one console appender; `quiet` loggers at WARN."""
    lines = ["status = warn", "appender.console.type = Console", "appender.console.name = CONSOLE",
             f"appender.console.target = {target}", "appender.console.layout.type = PatternLayout",
             "appender.console.layout.pattern = [%d] %p %m (%c)%n",
             f"rootLogger.level = {level}", "rootLogger.appenderRef.console.ref = CONSOLE"]
    for index, name in enumerate(quiet):
        lines += [f"logger.q{index}.name = {name}", f"logger.q{index}.level = WARN"]
    return "\n".join(lines) + "\n"


_RESOURCE = re.compile(r"resourceType=(\w+), name=(.*?), patternType=(\w+)\)")
_ENTRY = re.compile(r"principal=(.*?), host=(.*?), operation=(\w+), permissionType=(\w+)\)")


def parse_acl_listing(text: str) -> list[AclEntry]:
    """`kafka-acls.sh --list` output: a 'Current ACLs for resource' line, then one line per ACL."""
    entries: list[AclEntry] = []
    resource: tuple[str, str, str] | None = None
    for line in text.splitlines():
        if (found := _RESOURCE.search(line)) and "Current ACLs" in line:
            resource = (found.group(1), found.group(2), found.group(3))
        elif (entry := _ENTRY.search(line)) and resource is not None:
            entries.append(AclEntry(*resource, *entry.groups()))
    return entries


def config_dump(log_text: str) -> dict[str, str]:
    """The first `KafkaConfig values:` block a broker logs at start: every config it knows, with the value it took."""
    start = log_text.find("KafkaConfig values:")
    if start < 0:
        return {}
    found = {}
    for line in log_text[start:].splitlines()[1:]:
        if not line.startswith("\t"):
            break
        key, _, value = line.strip().partition(" = ")
        found[key] = value
    return found


def log_problems(lines: Sequence[str], most: int = 12) -> list[str]:
    """A broker log's ERROR and FATAL lines and the exceptions and causes under them, each once."""
    pattern = re.compile(r"(\[[^]]*\] (ERROR|FATAL) |Caused by: |\S+(Exception|Error): )")
    return list(dict.fromkeys(line for line in lines if pattern.match(line)))[:most]


def cluster_id() -> str:
    """A Kafka Uuid in its base64url form (what `kafka-storage random-uuid` prints)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


# --- the files of <cache>/kafka-<version>/ ------------------------------------------------------------------


def run_class_script(version: str, tool_jvm: str) -> str:
    """bin/kafka-run-class.sh: java with the jars of ../libs, reading the variables the distribution's script reads."""
    return f"""#!/bin/sh
# kafka-run-class.sh of a Kafka {version} resolved from Maven Central (ops/engine/kafka.py): java, the jars,
# KAFKA_HEAP_OPTS, KAFKA_OPTS, KAFKA_LOG4J_OPTS and JAVA_HOME as the distribution's own script reads them.
base=$(cd "$(dirname "$0")/.." && pwd)
java=java; [ -n "${{JAVA_HOME:-}}" ] && java="$JAVA_HOME/bin/java"
exec "$java" ${{KAFKA_HEAP_OPTS:-{tool_jvm}}} ${{KAFKA_OPTS:-}} \\
  ${{KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base/config/tools-log4j2.properties}} -cp "$base/libs/*" "$@"
"""


def wrapper_script(main_class: str) -> str:
    return f'#!/bin/sh\nexec "$(dirname "$0")/kafka-run-class.sh" {main_class} "$@"\n'
