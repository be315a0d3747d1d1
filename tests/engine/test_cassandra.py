"""The operational store as dev renders it, loaded by Cassandra at the pinned version (ops/engine/cassandra.py): a
node started with the K8ssandraCluster's cassandra.yaml settings as k8ssandra-operator writes them (its
`cassandraYaml`, and the authentication `auth: true` adds), the schema Job's own script and statements run by
Cassandra 5.0's cqlsh against it, then each client service logging in with its role: it may create, write and read
what its contract says in its keyspaces, and is refused everything else."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cassandra import Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import WhiteListRoundRobinPolicy

from components.storage.cassandra import SUPERUSER, password_variable, role_name
from foundry.upstream import load_contracts
from ops.engine import cassandra
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine
MANIFESTS = "1-manifest"


def manifest(stack: str, pattern: str) -> dict[str, Any]:
    (path,) = (rendered(stack) / MANIFESTS).glob(pattern)
    return dict(yaml.safe_load(path.read_text()))


def cluster_spec(stack: str) -> dict[str, Any]:
    return dict(manifest(stack, "k8ssandra.io_v1alpha1-k8ssandracluster-openfoundry-storage-cassandra.yaml")["spec"])


def schema_files(stack: str) -> dict[str, str]:
    return dict(manifest(stack, "v1-configmap-openfoundry-storage-cassandra-schema.yaml")["data"])


def clients() -> dict[str, Any]:
    return {name: b.cassandra for name, b in load_contracts().binaries.items() if b.cassandra is not None}


def connect(node: cassandra.Node, user: str, password: str) -> tuple[Cluster, Session]:
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.1"]))
    cluster = Cluster(["127.0.0.1"], port=node.port, auth_provider=PlainTextAuthProvider(user, password),
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile}, protocol_version=5)
    return cluster, cluster.connect()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> cassandra.Stores:
    """The internode stores cert-manager writes for the rendered Certificate (`keystores.jks`), stood in."""
    return cassandra.issue_stores(tmp_path_factory.mktemp("stores"), secrets.token_urlsafe(12))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, stores: cassandra.Stores) -> Iterator[cassandra.Node]:
    spec = cluster_spec("dev")
    heap = spec["cassandra"]["config"]["jvmOptions"]["heap_max_size"]
    with cassandra.Node(tmp_path_factory.mktemp("cassandra"), cassandra.k8ssandra_settings(spec, stores), heap) as started:
        yield started


@pytest.fixture(scope="module")
def passwords(node: cassandra.Node) -> dict[str, str]:
    """The superuser k8ssandra-operator makes from its Secret, and each role's password (its Secret's value)."""
    # a password may start with a dash (token_urlsafe's alphabet, or a hand-set one): cqlsh must not take it for an option
    made = {SUPERUSER: "-" + secrets.token_urlsafe(18), **{service: "-" + secrets.token_urlsafe(18) for service in clients()}}
    cluster, session = connect(node, "cassandra", "cassandra")
    session.execute(f"CREATE ROLE {SUPERUSER} WITH SUPERUSER = true AND LOGIN = true AND PASSWORD = %s",
                    (made[SUPERUSER],))
    cluster.shutdown()
    return made


def apply_schema(node: cassandra.Node, passwords: dict[str, str], work: Path,
                 files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The Job's apply.sh as rendered, its environment as the Job's pod gets it (the cqlsh pinned beside it)."""
    work.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text)
    env = {"PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin", "CQL_HOST": "127.0.0.1", "CQL_PORT": str(node.port),
           "CQLSH_USER": SUPERUSER, "CQLSH_PASSWORD": passwords[SUPERUSER], "CQL_DIR": str(work), "HOME_DIR": str(work),
           **{password_variable(service): passwords[service] for service in clients()}}
    return subprocess.run(["sh", str(work / "apply.sh")], env=env, capture_output=True, text=True, timeout=300,
                          cwd=work)


@pytest.fixture(scope="module")
def schema(node: cassandra.Node, passwords: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    result = apply_schema(node, passwords, tmp_path_factory.mktemp("schema"), schema_files("dev"))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_job_creates_the_keyspaces_at_the_rendered_replication(node: cassandra.Node, passwords: dict[str, str],
                                                                    schema: str) -> None:
    cluster, session = connect(node, SUPERUSER, passwords[SUPERUSER])
    found = {row.keyspace_name: dict(row.replication) for row in
             session.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces")}
    cluster.shutdown()
    wanted = {keyspace for contract in clients().values() for keyspace in contract.keyspaces.values()}
    assert wanted == {"ontology_objects", "actions_log"}
    for keyspace in wanted:
        assert keyspace in found, schema
        assert found[keyspace] == {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "1"}


def test_each_role_works_in_its_keyspaces_and_is_refused_elsewhere(node: cassandra.Node, passwords: dict[str, str],
                                                                    schema: str) -> None:
    every = {keyspace for contract in clients().values() for keyspace in contract.keyspaces.values()}
    cluster, session = connect(node, SUPERUSER, passwords[SUPERUSER])
    for keyspace in every:   # a table in each keyspace that no role was granted by name
        session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.probe (id int PRIMARY KEY)")
    cluster.shutdown()
    for service, contract in clients().items():
        cluster, session = connect(node, role_name(service), passwords[service])
        own, table = set(contract.keyspaces.values()), f"engine_{role_name(service)}"
        for keyspace in own:
            statements = {"CREATE": f"CREATE TABLE IF NOT EXISTS {keyspace}.{table} (id int PRIMARY KEY, v text)",
                          "MODIFY": f"INSERT INTO {keyspace}.probe (id) VALUES (1) IF NOT EXISTS",
                          "SELECT": f"SELECT id FROM {keyspace}.probe"}
            for permission, statement in statements.items():
                if permission in contract.permissions:
                    session.execute(statement)
                else:
                    with pytest.raises(Unauthorized):
                        session.execute(statement)
        for keyspace in every - own:
            for statement in (f"SELECT id FROM {keyspace}.probe", f"CREATE TABLE {keyspace}.{table} (id int PRIMARY KEY)"):
                with pytest.raises(Unauthorized):
                    session.execute(statement)
        cluster.shutdown()


def test_a_second_run_changes_a_password_only_where_the_secret_changed(
        node: cassandra.Node, passwords: dict[str, str], schema: str, tmp_path: Path) -> None:
    time.sleep(6)   # Cassandra 5.0 refuses a second change of a role's password within 5 s
    rotated = {**passwords, "object-database-service": secrets.token_urlsafe(18)}
    result = apply_schema(node, rotated, tmp_path, schema_files("dev"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "object_database_service: the password in its Secret does not log in; setting it" in result.stdout
    assert "ontology_query_service:" not in result.stdout
    cluster, _ = connect(node, "object_database_service", rotated["object-database-service"])
    cluster.shutdown()
    passwords.update(rotated)


def test_a_broken_statement_fails_the_job(node: cassandra.Node, passwords: dict[str, str], schema: str,
                                          tmp_path: Path) -> None:
    files = schema_files("dev")
    files["schema.cql"] = files["schema.cql"].replace("GRANT SELECT ON KEYSPACE", "GRANT SELEKT ON KEYSPACE", 1)
    assert apply_schema(node, passwords, tmp_path, files).returncode != 0


def test_the_node_accepts_only_encrypted_internode_traffic(node: cassandra.Node) -> None:
    log = node.log_file.read_text()
    assert "Internode messaging enabled TLS protocols" in log   # the stores opened with the password
    (listening,) = [line for line in log.splitlines() if "InboundConnectionInitiator - Listening on" in line]
    assert listening.endswith("encryption: encrypted(openssl)"), listening   # not "optionally encrypted"


def refused_start(tmp_path: Path, settings: dict[str, Any], expected: str) -> None:
    broken = cassandra.Node(tmp_path, settings, "256Mi")
    broken.start()
    try:
        with pytest.raises(cassandra.ToolchainError):
            broken.wait_ready(timeout=120)
        assert expected in broken.log_tail(400)
    finally:
        broken.stop()


def test_a_misspelt_setting_stops_cassandra(tmp_path: Path, stores: cassandra.Stores) -> None:
    settings = cassandra.k8ssandra_settings(cluster_spec("dev"), stores)
    settings["num_token"] = settings.pop("num_tokens")
    refused_start(tmp_path, settings, "num_token")


def test_a_key_store_it_cannot_open_stops_cassandra(tmp_path: Path, stores: cassandra.Stores) -> None:
    wrong = cassandra.Stores(stores.keystore, stores.truststore, "not-" + stores.password)
    refused_start(tmp_path, cassandra.k8ssandra_settings(cluster_spec("dev"), wrong), "password")



def peers_of(node: cassandra.Node, passwords: dict[str, str]) -> set[str]:
    cluster, session = connect(node, SUPERUSER, passwords[SUPERUSER])
    try:
        return {str(row.peer) for row in session.execute("SELECT peer FROM system.peers_v2")}
    finally:
        cluster.shutdown()


def test_a_second_node_joins_over_mutual_tls_and_one_with_a_foreign_certificate_does_not(
        node: cassandra.Node, passwords: dict[str, str], stores: cassandra.Stores, schema: str, tmp_path: Path) -> None:
    """Two nodes of the rendered settings talk only TLS, each presenting its certificate and requiring the other's
    (server_encryption_options as rendered): one with the cluster CA's stores joins; one whose certificate another
    CA signed is refused by the first node and never becomes its peer."""
    settings = cassandra.k8ssandra_settings(cluster_spec("dev"), stores)
    seed = f"{node.address}:{node.storage_port}"
    joined = cassandra.Node(tmp_path / "joined", settings, "256Mi", "127.0.0.2", storage_port=node.storage_port,
                            seed=seed)
    foreign = cassandra.issue_stores(tmp_path / "foreign-stores", stores.password)
    stranger = cassandra.Node(tmp_path / "stranger", cassandra.k8ssandra_settings(cluster_spec("dev"), foreign),
                              "256Mi", "127.0.0.3", storage_port=node.storage_port, seed=seed)
    with joined:   # the first node records its peer once the joined node's NORMAL state reaches it by gossip
        deadline = time.monotonic() + 60
        while peers_of(node, passwords) != {"127.0.0.2"} and time.monotonic() < deadline:
            time.sleep(1)
        assert peers_of(node, passwords) == {"127.0.0.2"}
        assert "encryption = encrypted" in joined.this_run()
        stranger.start()
        try:
            with pytest.raises(cassandra.ToolchainError):
                stranger.wait_ready(timeout=90)
            assert "127.0.0.3" not in peers_of(node, passwords)
            assert "is now part of the cluster" not in stranger.this_run()
            assert "certpath" in stranger.this_run()   # refused for its certificate (PKIX path validation)
        finally:
            stranger.stop()
