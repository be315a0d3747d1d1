"""Apache Cassandra at the operational store's pinned version (foundry/versions.py CASSANDRA_VERSION), one node on
loopback, from Maven Central's `cassandra-all` and its runtime dependencies (<cache>/cassandra-<version>/libs; cold:
one Maven run of about 70 MB; warm: a marker read). It runs on Java 17 (Cassandra 5.0 supports 11 and 17; on 25
its security manager refuses to start).

`Node(root, settings, heap)` starts it with a cassandra.yaml of loopback addresses, directories under `root` and
small caches, overlaid with `settings`: what the stack controls, as k8ssandra-operator writes it from the rendered
K8ssandraCluster (`k8ssandra_settings`).
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from foundry.versions import CASSANDRA_VERSION
from ops.engine.java import java_of
from ops.engine.kafka import free_port
from ops.engine.maven import cached_jars
from ops.engine.process import ServerProcess
from ops.engine.toolchain import ToolchainError, cache_dir

TAG = "cassandra"
MAIN = "org.apache.cassandra.service.CassandraDaemon"
DATACENTER = "dc1"
READY = "Starting listening for CQL clients"
SUPERUSER_READY = "Created default superuser role"
# apache/cassandra conf/jvm17-server.options at cassandra-5.0.9 (the module opens and exports Cassandra needs on 17)
JVM17 = (
    "-XX:+UseG1GC", "-Djdk.attach.allowAttachSelf=true",
    *(f"--add-exports={m}=ALL-UNNAMED" for m in (
        "java.base/jdk.internal.misc", "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.rmi/sun.rmi.registry", "java.rmi/sun.rmi.server", "java.sql/java.sql", "java.base/java.lang.ref",
        "jdk.unsupported/sun.misc", "jdk.compiler/com.sun.tools.javac.file", "jdk.attach/sun.tools.attach")),
    *(f"--add-opens={m}=ALL-UNNAMED" for m in (
        "java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref",
        "java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
        "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch",
        "java.base/java.io", "java.base/java.lang.reflect", "jdk.compiler/com.sun.tools.javac", "java.base/java.lang",
        "java.base/java.util")),
    "-Dio.netty.tryReflectionSetAccessible=true", "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)
# what k8ssandra-operator puts in cassandra.yaml when the K8ssandraCluster's `auth` is true (pkg/cassandra/auth.go)
AUTH_SETTINGS = {"authenticator": "PasswordAuthenticator", "authorizer": "CassandraAuthorizer",
                 "role_manager": "CassandraRoleManager"}
LOGBACK = """<configuration><appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender"><encoder>
<pattern>%d %-5level [%thread] %logger{0} - %msg%n</pattern></encoder></appender>
<root level="INFO"><appender-ref ref="STDOUT"/></root></configuration>
"""


def cassandra_home() -> Path:
    return cache_dir() / f"cassandra-{CASSANDRA_VERSION}"


def libs() -> Path:
    return cached_jars(cassandra_home(), [("org.apache.cassandra", "cassandra-all", CASSANDRA_VERSION)],
                       f"Cassandra {CASSANDRA_VERSION}", TAG)


@dataclass(frozen=True)
class Stores:
    """JKS key and trust stores as cert-manager writes them for a Certificate (`keystores.jks`), one password."""

    keystore: Path
    truststore: Path
    password: str


def k8ssandra_settings(cluster_spec: Mapping[str, Any], stores: Stores | None = None) -> dict[str, Any]:
    """The cassandra.yaml settings a K8ssandraCluster asks for: its cassandraYaml, the authentication k8ssandra adds
    when `auth` is on (its default), and, with `serverEncryptionStores` and internode encryption on, the stores'
    paths and passwords it writes (pkg/cassandra/encryption.go: PutIfAbsent; here the stores given)."""
    cassandra = cluster_spec.get("cassandra") or {}
    settings = copy.deepcopy(dict(((cassandra.get("config") or {}).get("cassandraYaml")) or {}))
    if cluster_spec.get("auth", True):
        for key, value in AUTH_SETTINGS.items():
            settings.setdefault(key, value)
    server = settings.get("server_encryption_options") or {}
    if cassandra.get("serverEncryptionStores") and server.get("internode_encryption", "none") != "none":
        if stores is None:
            raise ToolchainError("the K8ssandraCluster encrypts internode traffic: give the stores its Secrets hold")
        for key, value in {"keystore": str(stores.keystore), "truststore": str(stores.truststore),
                           "keystore_password": stores.password, "truststore_password": stores.password}.items():
            server.setdefault(key, value)
        settings["server_encryption_options"] = server
    return settings


def issue_stores(directory: Path, password: str) -> Stores:
    """A CA and a node certificate it signs (server and client auth), as JKS stores with keytool: the node's key
    and chain in keystore.jks, the CA in truststore.jks."""
    keytool = str(java_of(17, "keytool").with_name("keytool"))
    directory.mkdir(parents=True, exist_ok=True)
    ca, keystore, truststore = directory / "ca.jks", directory / "keystore.jks", directory / "truststore.jks"
    common = ["-storetype", "JKS", "-storepass", password]

    def tool(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run([keytool, *args], input=stdin, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"keytool {args[0]} failed: {result.stdout}{result.stderr}")
        return result.stdout

    tool("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=engine-ca",
         "-ext", "bc:c", "-validity", "2", "-keystore", str(ca), *common)
    tool("-genkeypair", "-alias", "node", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=node",
         "-validity", "2", "-keystore", str(keystore), "-keypass", password, *common)
    request = tool("-certreq", "-alias", "node", "-keystore", str(keystore), *common)
    signed = tool("-gencert", "-alias", "ca", "-keystore", str(ca), "-rfc", "-ext", "ku:c=digitalSignature,keyEncipherment",
                  "-ext", "eku=serverAuth,clientAuth", *common, stdin=request)
    authority = tool("-exportcert", "-alias", "ca", "-keystore", str(ca), "-rfc", *common)
    (directory / "ca.pem").write_text(authority)
    (directory / "node.pem").write_text(signed)
    tool("-importcert", "-alias", "ca", "-file", str(directory / "ca.pem"), "-keystore", str(keystore), "-noprompt", *common)
    tool("-importcert", "-alias", "node", "-file", str(directory / "node.pem"), "-keystore", str(keystore), *common)
    tool("-importcert", "-alias", "ca", "-file", str(directory / "ca.pem"), "-keystore", str(truststore), "-noprompt", *common)
    return Stores(keystore, truststore, password)


def java_heap(quantity: str) -> str:
    """A Kubernetes quantity (512Mi, 8Gi) as a JVM size."""
    for suffix, unit in (("Gi", "g"), ("Mi", "m"), ("Ki", "k")):
        if quantity.endswith(suffix):
            return quantity.removesuffix(suffix) + unit
    return quantity


class Node(ServerProcess):
    """One Cassandra node under `root` (conf/, data/, cassandra.log) on `address` (loopback unless told), CQL on
    `port` (a free one unless told); entering starts it and waits until CQL serves and the default superuser
    exists; leaving stops it."""

    tag = TAG

    def __init__(self, root: Path, settings: Mapping[str, Any], heap: str = "512Mi", address: str = "127.0.0.1",
                 port: int | None = None, storage_port: int | None = None, seed: str | None = None) -> None:
        super().__init__(root.resolve() / "cassandra.log")
        self.root, self.settings, self.heap, self.address = root.resolve(), dict(settings), heap, address
        self.port = port or free_port()
        # a second node joins the first: the same storage port (one per cluster), the first as its seed
        self.storage_port = storage_port or free_port()
        self.seed = seed or f"{address}:{self.storage_port}"
        self.name = f"Cassandra on {address}:{self.port}"

    def server_yaml(self) -> dict[str, Any]:
        data, storage = self.root / "data", self.storage_port
        base: dict[str, Any] = {
            "cluster_name": "openfoundry-engine", "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "data_file_directories": [str(data / "data")], "commitlog_directory": str(data / "commitlog"),
            "saved_caches_directory": str(data / "saved_caches"), "hints_directory": str(data / "hints"),
            "cdc_raw_directory": str(data / "cdc_raw"),
            "commitlog_sync": "periodic", "commitlog_sync_period": "10000ms", "commitlog_segment_size": "8MiB",
            "seed_provider": [{"class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                               "parameters": [{"seeds": self.seed}]}],
            "listen_address": self.address, "storage_port": storage, "rpc_address": self.address,
            "native_transport_port": self.port, "start_native_transport": True,
            # k8ssandra's snitch: the datacenter and rack from cassandra-rackdc.properties
            "endpoint_snitch": "GossipingPropertyFileSnitch",
            "disk_access_mode": "mmap_index_only", "concurrent_reads": 4, "concurrent_writes": 4,
            "memtable_heap_space": "64MiB", "memtable_offheap_space": "64MiB", "key_cache_size": "8MiB",
            # no caching of roles and grants: a GRANT or REVOKE takes effect at the next statement
            "roles_validity": "0ms", "permissions_validity": "0ms", "credentials_validity": "0ms",
        }
        return {**base, **self.settings}

    def start(self) -> None:
        jars = libs()
        conf = self.root / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "cassandra.yaml").write_text(yaml.safe_dump(self.server_yaml(), sort_keys=False))
        (conf / "cassandra-rackdc.properties").write_text(f"dc={DATACENTER}\nrack=rack1\n")
        (conf / "logback.xml").write_text(LOGBACK)
        heap = java_heap(self.heap)
        cmd = [str(java_of(17, f"Cassandra {CASSANDRA_VERSION} (5.0 runs on Java 11 or 17)")),
               f"-Xms{heap}", f"-Xmx{heap}", *JVM17,
               f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}", f"-Dlogback.configurationFile={conf / 'logback.xml'}",
               f"-Dcassandra.storagedir={self.root / 'data'}", "-Dcassandra.superuser_setup_delay_ms=0",
               "-Dcassandra-foreground=yes", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
               "-Dcassandra.ring_delay_ms=1000",   # one node: no ring to wait for (token allocation waits a ring delay)
               "-cp", f"{conf}:{jars}/*", MAIN]
        self.root.mkdir(parents=True, exist_ok=True)
        self.launch(cmd, self.root)

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Until CQL serves and, on the node that founds the cluster, the default superuser exists."""
        founder = self.seed == f"{self.address}:{self.storage_port}"
        return self.wait_until(lambda: READY in (text := self.this_run()) and (SUPERUSER_READY in text or not founder),
                               timeout)

