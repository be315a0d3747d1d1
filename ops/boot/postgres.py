"""One real Postgres for every CloudNativePG Cluster of the render: Debian's server (/usr/lib/postgresql/<v>/bin) as
a throwaway cluster in a temp dir, run as the `postgres` user, on the bridge's host address:5432, TLS on with a
server certificate from the boot's own CA, scram-sha-256 passwords, CloudNativePG's pg_hba rule for applications
(`host all all all scram-sha-256`). Each Cluster's database and owner, and each Database resource's, exist with
the password its synthesized `-app` Secret holds; extensions this Postgres lacks are noted, not faked.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops.boot.certs import Pair
from ops.boot.operators import POSTGRES_PORT, PgCluster, PgDatabase
from ops.engine.toolchain import ToolchainError, log

USER = "postgres"
SETTINGS = {
    "max_connections": "600",          # ~50 binaries, each with its own pool
    "ssl": "on", "password_encryption": "scram-sha-256",
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",     # a throwaway cluster
    "log_min_messages": "warning",
}
HBA = "local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\n"
START_TIMEOUT = 30.0


@dataclass
class Postgres:
    """The running server: where it listens, and what it could not provide."""

    address: str
    version: str
    notes: list[str] = field(default_factory=list)


def bin_dir() -> Path:
    """Debian's newest installed PostgreSQL server."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise ToolchainError("no PostgreSQL server under /usr/lib/postgresql/*/bin: apt-get install postgresql")
    return found[-1].parent


@contextlib.contextmanager
def postgres_server(address: str, server: Pair, clusters: Sequence[PgCluster], databases: Sequence[PgDatabase],
                    passwords: Mapping[str, str]) -> Iterator[Postgres]:
    """A started Postgres holding every cluster's and Database's database and owner; stopped and removed after."""
    binaries = bin_dir()
    account = pwd.getpwnam(USER)
    root = Path(tempfile.mkdtemp(prefix="openfoundry-boot-pg-"))
    os.chown(root, account.pw_uid, account.pw_gid)
    data, socket_dir = root / "data", root / "run"
    process: subprocess.Popen[bytes] | None = None
    try:
        _as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", USER, "--encoding=UTF8", "--locale=C"])
        configure(data, socket_dir, address, server, account.pw_uid, account.pw_gid)
        with (root / "postgres.log").open("wb") as out:
            process = subprocess.Popen([str(binaries / "postgres"), "-D", str(data)], user=USER, group=account.pw_gid,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_ready(binaries, socket_dir, process, root / "postgres.log")
        running = Postgres(address, binaries.parent.name)
        running.notes += provision(binaries, socket_dir, clusters, databases, passwords)
        log(f"postgres {running.version} on {address}:{POSTGRES_PORT} (TLS), {len(clusters)} clusters' databases",
            "boot")
        yield running
    finally:
        if process is not None:
            process.terminate()       # SIGTERM: a smart shutdown; nothing is connected by now
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def configure(data: Path, socket_dir: Path, address: str, server: Pair, uid: int, gid: int) -> None:
    socket_dir.mkdir()
    os.chown(socket_dir, uid, gid)
    for source, name in ((server.cert, "server.crt"), (server.key, "server.key")):
        shutil.copy(source, data / name)
        os.chown(data / name, uid, gid)
        (data / name).chmod(0o600)
    settings = {**SETTINGS, "listen_addresses": f"'{address}'", "port": str(POSTGRES_PORT),
                "unix_socket_directories": f"'{socket_dir}'"}
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
    (data / "pg_hba.conf").write_text(HBA)


def wait_ready(binaries: Path, socket_dir: Path, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ToolchainError(f"postgres exited: {_tail(log_file)}")
        ready = subprocess.run([str(binaries / "pg_isready"), "-q", "-h", str(socket_dir), "-p", str(POSTGRES_PORT)])
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise ToolchainError(f"postgres did not accept connections within {START_TIMEOUT:.0f} s: {_tail(log_file)}")


def provision(binaries: Path, socket_dir: Path, clusters: Sequence[PgCluster], databases: Sequence[PgDatabase],
              passwords: Mapping[str, str]) -> list[str]:
    """Owners with their passwords, databases owned by them, extensions; the notes on what could not be made."""
    owners = {c.owner for c in clusters} | {d.owner for d in databases}
    statements = [f"CREATE ROLE {_ident(owner)} LOGIN PASSWORD {_literal(passwords[owner])};"
                  for owner in sorted(owners)]
    wanted = {(c.database, c.owner) for c in clusters} | {(d.name, d.owner) for d in databases}
    statements += [f"CREATE DATABASE {_ident(db)} OWNER {_ident(owner)};" for db, owner in sorted(dict(wanted).items())]
    _psql(binaries, socket_dir, "postgres", "\n".join(statements))
    notes = []
    for database in databases:
        for extension in database.extensions:
            try:
                _psql(binaries, socket_dir, database.name, f"CREATE EXTENSION IF NOT EXISTS {_ident(extension)};")
            except ToolchainError as error:
                notes.append(f"extension {extension} in {database.name} ({database.namespace}/{database.cluster}): "
                             f"not available in this Postgres ({str(error).splitlines()[-1][:120]})")
    return notes


def _psql(binaries: Path, socket_dir: Path, database: str, script: str) -> None:
    result = subprocess.run([str(binaries / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(socket_dir), "-p",
                             str(POSTGRES_PORT), "-U", USER, "-d", database], input=script, capture_output=True,
                            text=True, user=USER)
    if result.returncode != 0:
        raise ToolchainError(f"psql on {database} failed: {result.stderr.strip()[-400:]}")


def _as_postgres(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, user=USER, cwd="/")
    if result.returncode != 0:
        raise ToolchainError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()[-400:]}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tail(log_file: Path) -> str:
    lines = log_file.read_text(errors="replace").strip().splitlines() if log_file.exists() else []
    return lines[-1] if lines else "no output"
