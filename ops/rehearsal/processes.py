"""The rehearsal's controller processes: started in a session of their own, known by a pid file that holds the pid
and the process's start time (a reused pid is not theirs), ended with their whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ops.engine.toolchain import ToolchainError


def launch(directory: Path, name: str, argv: list[str]) -> None:
    """`name` started with `argv`, its pid in `<name>.pid` and its output in `<name>.log`."""
    pid_file = directory / f"{name}.pid"
    with (directory / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={"PATH": "/usr/bin:/bin", **_session_mark()})
    pid_file.write_text(f"{process.pid} {_started_at(process.pid)}")


def await_ready(directory: Path, name: str, what: str, ready: Callable[[], bool], timeout: float) -> None:
    """Wait until `ready()`; a process that died or a timeout raises with the tail of its log."""
    deadline = time.monotonic() + timeout
    while not ready():
        if alive(directory / f"{name}.pid") is None or time.monotonic() > deadline:
            log_file = directory / f"{name}.log"
            tail = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            raise ToolchainError(f"{name}: {what} did not happen:\n{tail}")
        time.sleep(0.5)


def stop_all(directory: Path) -> list[str]:
    """Every process with a pid file in `directory` ended; their names."""
    stopped = []
    for pid_file in sorted(directory.glob("*.pid")) if directory.exists() else []:
        pid = alive(pid_file)
        if pid is not None:
            _end(pid)
            stopped.append(pid_file.stem)
        pid_file.unlink()
    return stopped


def alive(pid_file: Path) -> int | None:
    """The pid the file names, when that very process still runs (a reused pid is not it)."""
    try:
        pid_text, started = pid_file.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if started and _started_at(pid) == started else None


def _started_at(pid: int) -> str:
    """The process's start time (field 22 of /proc/<pid>/stat): with the pid, it names one process, not a reused id."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _end(pid: int, grace: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:   # our own child (a test session's): reaped
                return
        if not _started_at(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _session_mark() -> dict[str, str]:
    """The test session's mark, when there is one: a controller a test run starts is that run's (tests/processes.py)."""
    return {key: value for key, value in os.environ.items() if key == "OPENFOUNDRY_TEST_SESSION"}
