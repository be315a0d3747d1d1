"""The gateway's Redis (its contract's `redis` store) as a real server: Debian's redis-server, installed with apt
on first use as root, on the bridge's host address and the port the rendered URL names, with the URL's password.
In prod the URL names HAProxy in front of Valkey's Sentinel-elected primary; one server stands in for both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ops.engine.toolchain import ToolchainError, log

PACKAGE, COMMAND = "redis-server", "redis-server"
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class RedisTarget:
    """What a rendered Redis URL asks for: the host it dials, the port, the user and password."""

    host: str
    port: int
    user: str
    password: str


def redis_target(url: str) -> RedisTarget | None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return None
    return RedisTarget(parts.hostname, parts.port or 6379, parts.username or "", parts.password or "")


def ensure_redis_server() -> str | None:
    """redis-server's path: on PATH, or installed from Debian's package (as root); None when it cannot be had."""
    found = shutil.which(COMMAND)
    if found or os.geteuid() != 0:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)
    found = shutil.which(COMMAND)
    if found:
        log(f"installed Debian's {PACKAGE}", "boot")
    return found


@contextlib.contextmanager
def redis_server(address: str, targets: Sequence[RedisTarget]) -> Iterator[list[str]]:
    """One redis-server per port the targets name, with their password (and ACL user); yields notes on what could
    not be honoured. Nothing is started (and a note says so) when redis-server cannot be had."""
    notes: list[str] = []
    binary = ensure_redis_server() if targets else None
    if targets and binary is None:
        yield ["Redis: redis-server is not installed and could not be (apt-get install redis-server)"]
        return
    directory = Path(tempfile.mkdtemp(prefix="openfoundry-boot-redis-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in sorted({t.port for t in targets}):
            on_port = [t for t in targets if t.port == port]
            if len({t.password for t in on_port}) > 1:
                notes.append(f"Redis :{port}: the rendered URLs carry different passwords; the first is the server's")
            processes.append(_start(str(binary), address, on_port[0], directory / f"redis-{port}.log"))
            _wait(processes[-1], address, on_port[0], directory / f"redis-{port}.log")
            log(f"redis on {address}:{port}", "boot")
        yield notes
    finally:
        for process in processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def _start(binary: str, address: str, target: RedisTarget, log_file: Path) -> subprocess.Popen[bytes]:
    args = [binary, "--bind", address, "--port", str(target.port), "--save", "", "--appendonly", "no",
            "--protected-mode", "no", "--dir", str(log_file.parent)]
    if target.user and target.user != "default":
        args += ["--user", target.user, "on", f">{target.password}", "~*", "&*", "+@all"]
    elif target.password:
        args += ["--requirepass", target.password]
    with log_file.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(process: subprocess.Popen[bytes], address: str, target: RedisTarget, log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ToolchainError(f"redis-server exited: {log_file.read_text(errors='replace').strip()[-300:]}")
        if "Ready to accept connections" in log_file.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise ToolchainError(f"redis-server on {address}:{target.port} not ready within {START_TIMEOUT:.0f} s")
