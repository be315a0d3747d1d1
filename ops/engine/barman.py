"""Barman's cloud tools, the release the Barman Cloud plugin's sidecar runs (BARMAN_SIDECAR_REQUIREMENTS), for the
engine tier's backups and recoveries, and the commands the plugin gives them for an ObjectStore (`Commands`).

Their wheels are downloaded once from PyPI into <cache>/barman-<version>/. Postgres runs its `archive_command` and
`restore_command` as its own account, which may not reach root's cache or root's interpreter, so each
`installed(...)` builds a small virtualenv where that account can run it (about a second from the wheels), with
an interpreter it can run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundry.versions import BARMAN_SIDECAR_REQUIREMENTS, BARMAN_VERSION
from ops.engine.postgres import Account
from ops.engine.toolchain import ToolchainError, cache_dir, log

TAG = "barman"
CLOUD_PROVIDER = ("--cloud-provider", "aws-s3")
# cloudnative-pg/barman-cloud pkg/utils/barman.go:29-45 (at the plugin's pin): `14d` -> RECOVERY WINDOW OF 14 DAYS
RETENTION_UNITS = {"d": "DAYS", "w": "WEEKS", "m": "MONTHS"}
MARKER = "complete"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def wheelhouse(python: Path) -> Path:
    """<cache>/barman-<version>-<interpreter tag>: the pinned wheels, resolved from PyPI when missing."""
    tag = subprocess.run([str(python), "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
                         capture_output=True, text=True, check=True).stdout.strip()
    home = cache_dir() / f"barman-{BARMAN_VERSION}-{tag}"
    if (home / MARKER).exists():
        return home
    started = time.monotonic()
    log(f"downloading Barman {BARMAN_VERSION}'s cloud tools from PyPI into {home}", TAG)
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="barman-", dir=home.parent) as work:
        _pip(python, "download", "--quiet", "--no-deps", "--dest", work, *BARMAN_SIDECAR_REQUIREMENTS)
        (Path(work) / MARKER).write_text(BARMAN_VERSION)
        shutil.rmtree(home, ignore_errors=True)
        Path(work).rename(home)
    log(f"Barman's wheels in {time.monotonic() - started:.1f}s", TAG)
    return home


def installed(root: Path, account: Account) -> Path:
    """The bin/ of a virtualenv under `root` holding the barman-cloud-* commands, which `account` can run."""
    python = _interpreter(account)
    wheels = wheelhouse(python)
    venv = root / "barman"
    created = subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True)
    if created.returncode != 0:
        raise ToolchainError(f"{python} could not make a virtualenv: {created.stderr.strip()[-400:]}")
    _pip(venv / "bin" / "python", "install", "--quiet", "--no-deps", "--no-index", "--find-links", str(wheels),
         *BARMAN_SIDECAR_REQUIREMENTS)
    for path in [venv, *venv.rglob("*")]:
        os.chown(path, account.uid, account.gid, follow_symlinks=False)
    return venv / "bin"


def _pip(python: Path, *args: str) -> None:
    """This interpreter's pip acting for `python` (which may have none of its own)."""
    result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python), *args],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise ToolchainError(f"pip {args[0]} of Barman's tools failed: {result.stderr.strip()[-800:]}")


def _interpreter(account: Account) -> Path:
    """This Python when `account` can run it, else the system's (root's own may sit under a private home)."""
    ours = Path(sys.executable).resolve()
    if account.uid == os.getuid() or _reachable_by_others(ours):
        return ours
    if SYSTEM_PYTHON.exists() and _reachable_by_others(SYSTEM_PYTHON.resolve()):
        return SYSTEM_PYTHON
    raise ToolchainError(f"Postgres's account (uid {account.uid}) can run neither {ours} nor {SYSTEM_PYTHON}; "
                         "Barman's tools run as that account")


def _reachable_by_others(path: Path) -> bool:
    """Every directory above `path` searchable, and `path` executable, by an account that owns none of them."""
    if not path.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


@dataclass(frozen=True)
class Commands:
    """The argv and environment plugin-barman-cloud v0.13.0 gives Barman's tools for one ObjectStore and server
    name (cloudnative-pg/barman-cloud at the plugin's pin, bd68198c31dc): compression and encryption first, the
    endpoint, the cloud provider, then the destination and the server. `secret(name, key)` reads a key of a Secret
    beside the store, as the sidecar reads the credentials (pkg/credentials/env.go); `endpoint` is where the test
    reaches the store (the pod's world), in place of the rendered endpointURL's host and port."""

    store: Mapping[str, Any]          # the ObjectStore's spec
    server: str
    secret: Callable[[str, str], str | None]   # None: the Secret has no such key
    endpoint: str
    bin: Path

    @property
    def _configuration(self) -> Mapping[str, Any]:
        return self.store["configuration"]

    def _target(self) -> list[str]:
        return [self._configuration["destinationPath"], self.server]

    def _endpoint(self) -> list[str]:
        return ["--endpoint-url", self.endpoint]

    def _section(self, name: str) -> list[str]:
        """pkg/archiver/command.go:40-50, pkg/backup/backup.go:53-87: `--<compression>`, `-e`/`--encryption`."""
        section = self._configuration.get(name) or {}
        options = [f"--{section['compression']}"] if section.get("compression") else []
        if section.get("encryption"):
            options += ["-e" if name == "wal" else "--encryption", section["encryption"]]
        return options

    def env(self) -> dict[str, str]:
        """The sidecar's per-call credentials (pkg/credentials/env.go:149-205), beside a plain PATH."""
        s3 = self._configuration["s3Credentials"]
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
        for variable, field in (("AWS_ACCESS_KEY_ID", "accessKeyId"), ("AWS_SECRET_ACCESS_KEY", "secretAccessKey"),
                                ("AWS_DEFAULT_REGION", "region")):
            value = self.secret(s3[field]["name"], s3[field]["key"]) if field in s3 else None
            if value is not None:
                env[variable] = value
        return env

    def wal_archive(self, wal_path: str) -> list[str]:
        return [str(self.bin / "barman-cloud-wal-archive"), *self._section("wal"), *self._endpoint(), *CLOUD_PROVIDER,
                *self._target(), wal_path]

    def check_wal_archive(self) -> list[str]:
        return [str(self.bin / "barman-cloud-check-wal-archive"), *self._endpoint(), *CLOUD_PROVIDER, *self._target()]

    def backup(self, name: str, host: str, port: int) -> list[str]:
        """pkg/backup/backup.go:96-131; the sidecar connects through the PG* environment, here through options."""
        return [str(self.bin / "barman-cloud-backup"), "--user", "postgres", "--name", name, *self._section("data"),
                *self._endpoint(), *CLOUD_PROVIDER, "--host", host, "--port", str(port), *self._target()]

    def backup_list(self) -> list[str]:
        return [str(self.bin / "barman-cloud-backup-list"), "--format", "json", *self._endpoint(), *CLOUD_PROVIDER,
                *self._target()]

    def retention(self) -> list[str]:
        """pkg/command/backupdelete.go:44-64, run by the primary's sidecar every 30 minutes."""
        policy = self.store["retentionPolicy"]
        window = f"RECOVERY WINDOW OF {int(policy[:-1])} {RETENTION_UNITS[policy[-1]]}"
        return [str(self.bin / "barman-cloud-backup-delete"), *self._endpoint(), *CLOUD_PROVIDER,
                "--retention-policy", window, *self._target()]

    def restore(self, backup_id: str, pgdata: Path) -> list[str]:
        """plugin internal/cnpgi/restore/restore.go:174-197: the provider before the endpoint here."""
        return [str(self.bin / "barman-cloud-restore"), *CLOUD_PROVIDER, *self._endpoint(), *self._target(), backup_id,
                str(pgdata)]

    def wal_restore(self) -> list[str]:
        """pkg/command/commandbuilder.go:34-55; Postgres's %f and %p follow."""
        return [str(self.bin / "barman-cloud-wal-restore"), *self._endpoint(), *CLOUD_PROVIDER, *self._target()]
