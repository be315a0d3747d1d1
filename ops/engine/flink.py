"""Flink's own table planner for the writers' Flink SQL, without a cluster: Flink, its Kafka connector and JSON
format, and Iceberg's Flink runtime from Maven Central into <cache>/flink-sql-<versions>/libs, and the planner
program of engines/flinkplan/ (PlanScript, with a strict Iceberg REST catalog stand-in on 127.0.0.1) compiled
beside them, keyed by its sources.

`plan(script, warehouse, scope)` hands the script to it the way the writer image's runner would: the `${...}`
environment references substituted, and the addresses it dials (Kafka, the catalog, its token endpoint, the object
store) pointed at loopback, every option name and every other value as rendered. Cold: one Maven run (about 300 MB)
and javac; warm: a marker read.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from foundry.versions import FLINK_KAFKA_CONNECTOR_VERSION, FLINK_SQL_VERSION, HADOOP_CLIENT_VERSION, ICEBERG_VERSION
from ops.engine.java import java
from ops.engine.maven import cached_jars
from ops.engine.toolchain import REPO, ToolchainError, cache_dir

TAG = "flink"
SOURCES = REPO / "engines" / "flinkplan"
ARTIFACTS = (
    *(("org.apache.flink", name, FLINK_SQL_VERSION) for name in (
        "flink-table-api-java", "flink-table-planner-loader", "flink-table-runtime", "flink-streaming-java",
        "flink-json", "flink-connector-base")),
    ("org.apache.flink", "flink-connector-kafka", FLINK_KAFKA_CONNECTOR_VERSION),
    ("org.apache.iceberg", "iceberg-flink-runtime-1.20", ICEBERG_VERSION),
    ("org.apache.iceberg", "iceberg-aws-bundle", ICEBERG_VERSION),
    ("org.apache.hadoop", "hadoop-client-api", HADOOP_CLIENT_VERSION),
    ("org.apache.hadoop", "hadoop-client-runtime", HADOOP_CLIENT_VERSION),
)
TOKEN_PATH = "/token"
# what the writer image's runner substitutes from the pod's environment (its Secrets), with stand-in values
ENVIRONMENT = {
    "KAFKA_SASL_JAAS_CONFIG": 'org.apache.kafka.common.security.scram.ScramLoginModule required username="writer" '
                              'password="writer-password";',
    "ICEBERG_OAUTH2_CREDENTIAL": "writer:writer-secret",
}


def flink_home() -> Path:
    return cache_dir() / f"flink-sql-{FLINK_SQL_VERSION}-iceberg-{ICEBERG_VERSION}"


def libs() -> Path:
    """Every jar the planner needs (resolved when missing)."""
    return cached_jars(flink_home(), ARTIFACTS, f"Flink {FLINK_SQL_VERSION}'s planner and connectors", TAG)


def classes() -> Path:
    """engines/flinkplan compiled against the jars, once per version of its sources."""
    sources = sorted(SOURCES.rglob("*.java"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    target = flink_home() / f"classes-{digest}"
    if (target / "PlanScript.class").exists():
        return target
    javac = shutil.which("javac")
    if javac is None:
        raise ToolchainError("`javac` is not on PATH: install a JDK 17 (Debian's openjdk-17-jdk-headless)")
    with tempfile.TemporaryDirectory(prefix="classes-", dir=flink_home()) as work:
        staging = Path(work) / "classes"
        result = subprocess.run([javac, "-nowarn", "-cp", f"{libs()}/*", "-d", str(staging), *map(str, sources)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"javac could not compile {SOURCES}:\n{result.stderr[-3000:]}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


@dataclass(frozen=True)
class Plan:
    statements: list[str]   # the first line of each statement Flink took
    refused: str            # "" when every statement planned
    requests: list[str]     # what the catalog stand-in was asked


def loopback(script: str, port: int) -> str:
    """The script with its environment substituted and its addresses on loopback (only these values change)."""
    for name, value in ENVIRONMENT.items():
        script = script.replace("${" + name + "}", value.replace("'", "''"))
    addresses = {"properties.bootstrap.servers": "127.0.0.1:9", "uri": f"http://127.0.0.1:{port}/catalog",
                 "oauth2-server-uri": f"http://127.0.0.1:{port}{TOKEN_PATH}", "s3.endpoint": "http://127.0.0.1:9"}
    for key, value in addresses.items():
        script = re.sub(rf"^(\s*'{re.escape(key)}' = )'[^']*'", rf"\g<1>'{value}'", script, flags=re.MULTILINE)
    return script


def plan(script: str, warehouse: str, scope: str, timeout: float = 300) -> Plan:
    jars, compiled = libs(), classes()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="flink-plan-") as work:
        job = Path(work) / "job.sql"
        job.write_text(loopback(script, port))
        result = subprocess.run([java(), "-Xmx768m", "-XX:+UseSerialGC", "-cp", f"{compiled}:{jars}/*", "PlanScript",
                                 str(job), str(port), TOKEN_PATH, warehouse, scope], capture_output=True, text=True,
                                timeout=timeout, cwd=work, env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1",
                                                                "AWS_EC2_METADATA_DISABLED": "true"})
    lines = result.stdout.splitlines()
    refused = next((ln.removeprefix("refused ") for ln in lines if ln.startswith("refused ")), "")
    if result.returncode != 0 and not refused:
        refused = f"the planner exited {result.returncode}: {result.stderr.strip()[-2000:]}"
    return Plan([ln.removeprefix("ok ") for ln in lines if ln.startswith("ok ")], refused,
                [ln.removeprefix("request ") for ln in lines if ln.startswith("request ")])
