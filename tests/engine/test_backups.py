"""Prod's backups run for real: Barman's cloud tools at the sidecar's release (ops/engine/barman.py) archive a real
PostgreSQL 18's WAL and take its base backup into an S3 endpoint that checks keys (moto, ops/engine/s3.py), with
exactly the commands plugin-barman-cloud v0.13.0 gives them for the rendered ObjectStore; then a new data directory
is recovered from that store to a point in time between two transactions.

What comes from prod's render: the Cluster's parameters and plugin entry (its ObjectStore and server name), the
ObjectStore's destination, compression, encryption, retention and the Secret keys its credentials name, the
ScheduledBackup's cluster, and the recovery cluster's naming rule (it archives under its own server name). What the
pod's world changes: the endpoint's host and port (127.0.0.1, moto's), and the Secret is the one Rook writes for the
claim (its AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), here the moto user's keys.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pg8000
import pytest

from components.relational.database import recovery_cluster_name
from components.storage.ceph import READ_ACTIONS
from components.storage.offsite import COPIER, copier_user
from foundry.catalog import load_catalog
from foundry.config import load_stack_config
from foundry.consistency import check_config_against_catalog
from foundry.defaults import deep_merge
from foundry.streams import load_streams
from foundry.topics import load_registry
from ops.boot.rendered import Obj, Rendered, load_rendered, name_of, namespace_of
from ops.checks import engines
from ops.engine import barman, postgres, s3
from ops.engine.kafka import free_port
from ops.engine.stacks import read_stack_values
from ops.engine.toolchain import log
from tests.engine.conftest import rendered
from tests.mocks import by_metadata_name, register_platform

pytestmark = pytest.mark.engine

CLUSTER = "pg-openfga"
COPY = "backups-offsite-copy"
TIMEOUT = 60.0
# CloudNativePG's own settings for every instance (pkg/postgres/configuration.go at v1.30.0: archive_timeout 5min,
# archive_mode on, wal_level replica unless logical decoding is asked for)
CNPG_ARCHIVING = {"archive_mode": "on", "archive_timeout": "5min", "wal_level": "replica"}


@dataclass
class Archive:
    tree: Rendered
    cluster: Obj
    store: s3.S3
    tools: barman.Commands
    at: postgres.Server
    socket: Path
    port: int
    backup_id: str
    target_time: str           # between the two transactions, by the server's clock
    backup_seconds: float
    archive_seconds: float     # a switched WAL segment's way into the store


def the(tree: Rendered, kind: str, name: str) -> Obj:
    (found,) = [obj for obj in tree.of_kind(kind) if name_of(obj) == name]
    return found


def archiver(cluster: Obj) -> dict[str, str]:
    (plugin,) = [p for p in cluster["spec"]["plugins"] if p.get("isWALArchiver")]
    return plugin["parameters"]


def commands(tree: Rendered, cluster: Obj, store: s3.S3, bin_dir: Path, secret: dict[str, str] | None = None,
             endpoint: str | None = None, server: str | None = None) -> barman.Commands:
    """The plugin's commands for `cluster`'s ObjectStore; `secret`: the claim's Secret as Rook writes it."""
    parameters = archiver(cluster)
    object_store = the(tree, "ObjectStore", parameters["barmanObjectName"])
    assert namespace_of(object_store) == namespace_of(cluster), "the plugin reads the ObjectStore beside its Cluster"
    keys = secret if secret is not None else {"AWS_ACCESS_KEY_ID": store.access_key,
                                              "AWS_SECRET_ACCESS_KEY": store.secret_key}
    claim = object_store["spec"]["configuration"]["s3Credentials"]["accessKeyId"]["name"]
    assert the(tree, "ObjectBucketClaim", claim), "the credentials are the claim's Secret"

    def read(name: str, key: str) -> str | None:
        assert name == claim, f"the ObjectStore names Secret {name}, not its claim's {claim}"
        return keys.get(key)

    host = f"http://localhost:{store.port}"   # a host name, not an address: the path style is the endpoint's
    return barman.Commands(object_store["spec"], server or parameters.get("serverName") or name_of(cluster), read,
                           endpoint or host, bin_dir)


def run(tools: barman.Commands, argv: list[str], at: postgres.Server, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=at.root,
                          env=env if env is not None else tools.env(), user=at.account.uid, group=at.account.gid)


def script(at: postgres.Server, name: str, tools: barman.Commands, argv: list[str]) -> Path:
    """A command for Postgres to run with the sidecar's environment (its %-arguments follow)."""
    path = at.root / name
    exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in tools.env().items())
    path.write_text(f"#!/bin/sh\n{exports}exec {shlex.join(argv)} \"$@\"\n")
    path.chmod(0o700)
    os.chown(path, at.account.uid, at.account.gid)
    return path


def sql(socket: Path, port: int, statements: list[str], database: str = "postgres") -> list[Any]:
    connection = pg8000.connect(user="postgres", unix_sock=str(socket / f".s.PGSQL.{port}"), database=database)
    connection.autocommit = True
    try:
        return [connection.run(statement) for statement in statements]
    finally:
        connection.close()


def archived(socket: Path, port: int, segment: str) -> bool:
    ((last,),) = sql(socket, port, ["SELECT last_archived_wal FROM pg_stat_archiver"])[0]
    return last is not None and last >= segment


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    tree = load_rendered(rendered("prod"))
    cluster = the(tree, "Cluster", CLUSTER)
    bucket = the(tree, "ObjectStore", archiver(cluster)["barmanObjectName"])["spec"]["configuration"]["destinationPath"]
    buckets = [bucket.removeprefix("s3://").split("/")[0], *copied_buckets(tree)]
    with s3.serving(*dict.fromkeys(buckets), readers=[COPIER], read_actions=READ_ACTIONS) as store, \
            postgres.server() as at:
        tools = commands(tree, cluster, store, barman.installed(at.root, at.account))
        checked = run(tools, tools.check_wal_archive(), at)
        assert checked.returncode == 0, f"a new cluster's archive is not empty: {checked.stderr}"
        archive_wal = script(at, "wal-archive", tools, tools.wal_archive("%p")[:-1])
        port = free_port()
        settings = {**(cluster["spec"].get("postgresql") or {}).get("parameters", {}), **CNPG_ARCHIVING,
                    "archive_command": f"{archive_wal} %p"}
        with postgres.serving(at, settings, port, ["local all all trust"]) as socket:
            sql(socket, port, ["CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL)"])
            started = time.monotonic()
            name = "backup-" + time.strftime("%Y%m%d%H%M%S", time.gmtime())   # the plugin's backup name
            taken = run(tools, tools.backup(name, str(socket), port), at)
            assert taken.returncode == 0, f"barman-cloud-backup failed: {taken.stderr[-2000:]}"
            backup_seconds = time.monotonic() - started
            target_time, archive_seconds = two_transactions(socket, port)
            listed = run(tools, tools.backup_list(), at)
            assert listed.returncode == 0, listed.stderr
            (backup,) = json.loads(listed.stdout)["backups_list"]
            yield Archive(tree, cluster, store, tools, at, socket, port, backup["backup_id"], target_time,
                          backup_seconds, archive_seconds)


def two_transactions(socket: Path, port: int) -> tuple[str, float]:
    """`first` committed, the target time taken, `second` committed; the segment holding both archived."""
    sql(socket, port, ["INSERT INTO ledger VALUES (1, 'first')"])
    time.sleep(1.1)
    ((target,),) = sql(socket, port, ["SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                                      "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"])[0]
    time.sleep(1.1)
    ((segment,),) = sql(socket, port, ["INSERT INTO ledger VALUES (2, 'second')",
                                       "SELECT pg_walfile_name(pg_switch_wal())"])[1]
    started = time.monotonic()
    while not archived(socket, port, segment):
        assert time.monotonic() - started < TIMEOUT, f"WAL segment {segment} was not archived in {TIMEOUT:.0f}s"
        time.sleep(0.2)
    return target, time.monotonic() - started


def postgres_time(target_time: str) -> str:
    """CNPG's recovery_target_time for a Cluster's targetTime (api/v1/cluster_funcs.go:1541, machinery v0.5.0
    pkg/postgres/time/time.go:43-69): `YYYY-MM-DD HH:MM:SS.ffffff` and an offset, +00:00 for UTC's Z."""
    moment = datetime.fromisoformat(target_time)
    offset = moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + f"{offset[:3]}:{offset[3:]}"


def recovered(archive: Archive, name: str, target_time: str | None, tools: barman.Commands | None = None,
              ) -> list[Any]:
    """A new data directory restored from the store's base backup (or `tools`' store's) and replayed from its WAL
    (to `target_time`, or to the archive's end), started, and the ledger it holds."""
    at, tools = archive.at, tools or archive.tools
    restored = postgres.Server(at.root, at.account)
    restored.data = at.root / name
    done = run(tools, tools.restore(archive.backup_id, restored.data), at)
    assert done.returncode == 0, f"barman-cloud-restore failed: {done.stderr[-2000:]}"
    (restored.data / "recovery.signal").touch()
    wal_restore = script(at, f"{name}-wal-restore", tools, tools.wal_restore())
    settings = {"restore_command": f"{wal_restore} %f %p", "recovery_target_action": "promote",
                **({"recovery_target_time": postgres_time(target_time)} if target_time else {})}
    port = free_port()
    with postgres.serving(restored, settings, port, ["local all all trust"]) as socket:
        deadline = time.monotonic() + TIMEOUT
        while sql(socket, port, ["SELECT pg_is_in_recovery()"])[0][0][0]:
            assert time.monotonic() < deadline, "the recovered server did not promote"
            time.sleep(0.2)
        return [list(row) for row in sql(socket, port, ["SELECT id, note FROM ledger ORDER BY id"])[0]]


def objects(archive: Archive) -> dict[str, dict[str, Any]]:
    bucket = archive.tools.store["configuration"]["destinationPath"].removeprefix("s3://").split("/")[0]
    client = archive.store.client()
    return {o["Key"]: client.head_object(Bucket=bucket, Key=o["Key"])
            for o in client.list_objects_v2(Bucket=bucket)["Contents"]}


def test_the_backup_and_the_wal_are_stored_compressed_and_unencrypted_as_the_object_store_says(
        archive: Archive) -> None:
    stored = objects(archive)
    server = archive.tools.server
    base = [key for key in stored if key.startswith(f"{server}/base/{archive.backup_id}/")]
    wals = [key for key in stored if key.startswith(f"{server}/wals/")]
    assert f"{server}/base/{archive.backup_id}/data.tar.gz" in base, base
    assert wals and all(key.endswith(".gz") for key in wals if ".history" not in key), wals
    configuration = archive.tools.store["configuration"]
    assert configuration["wal"]["compression"] == configuration["data"]["compression"] == "gzip"
    encrypted = [key for key, head in stored.items() if head.get("ServerSideEncryption")]
    assert encrypted == [] and "encryption" not in configuration["wal"] and "encryption" not in configuration["data"]


def test_the_retention_window_keeps_a_backup_inside_it(archive: Archive) -> None:
    assert archive.tools.store["retentionPolicy"].endswith("d")
    swept = run(archive.tools, archive.tools.retention(), archive.at)
    assert swept.returncode == 0, swept.stderr
    listed = run(archive.tools, archive.tools.backup_list(), archive.at)
    assert [b["backup_id"] for b in json.loads(listed.stdout)["backups_list"]] == [archive.backup_id]


def restore_as_code(target_time: str) -> dict[str, Any]:
    """The recovery Cluster prod registers with relational.postgres.recoverFrom naming this cluster and a time."""
    values = deep_merge(read_stack_values("prod"), {"relational": {"postgres": {
        "recoverFrom": {"cluster": CLUSTER, "targetTime": target_time}}}})
    config = load_stack_config(values, "prod")
    check_config_against_catalog(config, load_catalog(), load_registry(), load_streams())
    clusters = by_metadata_name(register_platform(config, load_catalog()), "kubernetes:postgresql.cnpg.io/v1:Cluster")
    return dict(clusters[recovery_cluster_name(CLUSTER)].inputs["spec"])


def test_restore_as_code_recovers_to_a_time_between_two_transactions_the_first_and_not_the_second(
        archive: Archive) -> None:
    """The stack's own recovery Cluster, read as CNPG and the plugin read it: the source's store and server name
    from its external cluster, the target from its recoveryTarget (converted as CNPG converts it), and its own
    server name, whose archive must be empty before it may archive."""
    spec = restore_as_code(archive.target_time)
    recovery = spec["bootstrap"]["recovery"]
    (source,) = [c for c in spec["externalClusters"] if c["name"] == recovery["source"]]
    parameters = source["plugin"]["parameters"]
    assert parameters["barmanObjectName"] == archiver(archive.cluster)["barmanObjectName"]
    origin = commands(archive.tree, archive.cluster, archive.store, archive.tools.bin, server=parameters["serverName"])
    own = commands(archive.tree, archive.cluster, archive.store, archive.tools.bin,
                   server=archiver({"spec": spec})["serverName"])
    assert run(own, own.check_wal_archive(), archive.at).returncode == 0
    started = time.monotonic()
    assert recovered(archive, "pitr", recovery["recoveryTarget"]["targetTime"], tools=origin) == [[1, "first"]]
    log(f"recovered to {archive.target_time} in {time.monotonic() - started:.1f}s (base backup "
        f"{archive.backup_seconds:.1f}s, a switched segment archived in {archive.archive_seconds:.1f}s)")


def test_recovery_to_the_end_of_the_archive_holds_both(archive: Archive) -> None:
    assert recovered(archive, "latest", None) == [[1, "first"], [2, "second"]]


def test_a_recovery_archiving_under_its_origins_server_name_is_refused_and_the_stacks_name_is_not(
        archive: Archive) -> None:
    origin = commands(archive.tree, archive.cluster, archive.store, archive.tools.bin)
    refused = run(origin, origin.check_wal_archive(), archive.at)
    assert refused.returncode != 0 and "Expected empty archive" in refused.stderr, refused.stderr
    own = commands(archive.tree, archive.cluster, archive.store, archive.tools.bin,
                   server=recovery_cluster_name(CLUSTER))
    assert run(own, own.check_wal_archive(), archive.at).returncode == 0


@pytest.mark.parametrize(("secret", "message"), [
    pytest.param({"AWS_ACCESS_KEY_ID": "from-another-user", "AWS_SECRET_ACCESS_KEY": "x"}, "InvalidAccessKeyId",
                 id="an-unknown-key"),
    pytest.param("wrong secret", "SignatureDoesNotMatch", id="a-wrong-secret"),
    pytest.param({"AWS_ACCESS_KEY_ID": "only-the-key-id"}, "AWS_SECRET_ACCESS_KEY", id="no-secret-key"),
])
def test_keys_the_store_does_not_know_fail_with_the_tools_message(archive: Archive, secret: Any, message: str) -> None:
    if secret == "wrong secret":
        secret = {"AWS_ACCESS_KEY_ID": archive.store.access_key, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    broken = commands(archive.tree, archive.cluster, archive.store, archive.tools.bin, secret=secret)
    failed = run(broken, broken.backup_list(), archive.at)
    assert failed.returncode != 0 and message in failed.stderr, failed.stderr


def test_an_https_endpoint_for_a_plain_http_store_fails_with_the_tools_message(archive: Archive) -> None:
    broken = commands(archive.tree, archive.cluster, archive.store, archive.tools.bin,
                      endpoint=f"https://localhost:{archive.store.port}")
    # one attempt: botocore's retries of a failed handshake say nothing more
    failed = run(broken, broken.backup_list(), archive.at, env={**broken.env(), "AWS_MAX_ATTEMPTS": "1"})
    assert failed.returncode != 0 and "SSL" in failed.stderr, failed.stderr


# --- the off-site copy ----------------------------------------------------------------------------------------


def copy_job(tree: Rendered) -> Obj:
    return the(tree, "CronJob", COPY)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def copied_buckets(tree: Rendered) -> list[str]:
    """Every bucket the copy mirrors: this site's RGW holds each (here: moto's, empty but for the archive's)."""
    (buckets,) = [e["value"] for e in copy_job(tree)["env"] if e["name"] == "BUCKETS"]
    return str(buckets).split()


def copy_environment(container: Obj, keys: dict[tuple[str, str], str], endpoints: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet gives it: values, and Secret keys from `keys`; the remotes'
    endpoints are the pod's world (`endpoints`, by variable)."""
    env = {"PATH": f"{engines.binary('rclone').parent}:/usr/bin:/bin"}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = endpoints.get(entry["name"], entry["value"])
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = keys[(ref["name"], ref["key"])]
    return env


def keys_under(store: s3.S3, bucket: str, prefix: str) -> set[str]:
    """The keys under `prefix`, without it."""
    pages = store.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"].removeprefix(prefix) for page in pages for o in page.get("Contents", [])}


def test_the_copier_may_not_write_this_sites_backups(archive: Archive) -> None:
    import boto3

    bucket = archive.tools.store["configuration"]["destinationPath"].removeprefix("s3://").split("/")[0]
    reader = archive.store.readers[COPIER]
    client = boto3.client("s3", endpoint_url=archive.store.endpoint, aws_access_key_id=reader[0],
                          aws_secret_access_key=reader[1], region_name=s3.REGION)
    with pytest.raises(Exception, match="AccessDenied"):
        client.delete_object(Bucket=bucket, Key=f"{archive.tools.server}/base/{archive.backup_id}/backup.info")


def test_the_offsite_copy_is_recovered_at_the_other_site_to_the_same_point(archive: Archive, tmp_path: Path) -> None:
    """The rendered CronJob's script and environment, run by rclone at the image's release, copy every backup bucket
    from this site's store (as the read-only copier) to the other site's; Barman recovers from that copy alone."""
    tree, container = archive.tree, copy_job(archive.tree)
    offsite_bucket = next(e["value"] for e in container["env"] if e["name"] == "OFFSITE_BUCKET")
    with s3.serving(offsite_bucket) as other_site:
        copier_keys = copier_user(copied_buckets(tree)).secret(the(tree, "CephObjectStore", "lake")["metadata"]["name"])
        offsite_secret = next(e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]
                              if e["name"] == "RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID")
        reader = archive.store.readers[COPIER]
        keys = {(copier_keys, "AccessKey"): reader[0], (copier_keys, "SecretKey"): reader[1],
                (offsite_secret, "AWS_ACCESS_KEY_ID"): other_site.access_key,
                (offsite_secret, "AWS_SECRET_ACCESS_KEY"): other_site.secret_key}
        endpoints = {"RCLONE_CONFIG_RGW_ENDPOINT": f"http://localhost:{archive.store.port}",
                     "RCLONE_CONFIG_OFFSITE_ENDPOINT": f"http://localhost:{other_site.port}"}
        assert container["command"][:2] == ["/bin/sh", "-c"]

        def copy() -> None:
            started = time.monotonic()
            done = subprocess.run(["/bin/sh", "-c", container["command"][2]], capture_output=True, text=True,
                                  timeout=300, cwd=tmp_path, env=copy_environment(container, keys, endpoints))
            assert done.returncode == 0, f"the copy failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            log(f"copied {len(copied_buckets(tree))} buckets off site in {time.monotonic() - started:.1f}s")

        copy()
        store = archive.tools.store
        local = store["configuration"]["destinationPath"].removeprefix("s3://").rstrip("/")
        here = keys_under(archive.store, local, "")
        assert keys_under(other_site, offsite_bucket, f"{local}/") == here
        moved = {**store, "configuration": {**store["configuration"],
                                            "destinationPath": f"s3://{offsite_bucket}/{local}/"}}
        there = barman.Commands(moved, archive.tools.server, lambda _name, key: {
            "AWS_ACCESS_KEY_ID": other_site.access_key, "AWS_SECRET_ACCESS_KEY": other_site.secret_key}.get(key),
            f"http://localhost:{other_site.port}", archive.tools.bin)
        assert recovered(archive, "offsite", archive.target_time, tools=there) == [[1, "first"]]
        # this site's bucket emptied (a rebuilt site, a stolen key): the next copy keeps every object, set aside
        emptied = archive.store.client()
        for key in here:
            emptied.delete_object(Bucket=local, Key=key)
        copy()
        assert keys_under(other_site, offsite_bucket, f"{local}/") == set()
        (day,) = {key.split("/")[0] for key in keys_under(other_site, offsite_bucket, ".deleted/")}
        assert keys_under(other_site, offsite_bucket, f".deleted/{day}/{local}/") == here
