"""A server an engine test runs as a process of its own group, logging to a file: entering starts it and waits
until it serves, leaving stops it (SIGTERM to the group, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from ops.engine.toolchain import ToolchainError, log


class ServerProcess:
    """The lifecycle every engine server shares; a subclass says how to start it (`start`, through `launch`) and
    when it serves (`wait_ready`, through `wait_until`)."""

    name = "server"
    tag = "engine"

    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self.started_in: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._offset = 0   # where this run's lines start in the log (a kept root appends to it)

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def wait_ready(self, timeout: float = 180.0) -> float:
        raise NotImplementedError

    def launch(self, command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self._offset = out.tell()
            self._process = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
                                             env=None if env is None else dict(env))
        self._started_at = time.monotonic()
        log(f"{self.name} started (pid {self._process.pid}), log: {self.log_file}", self.tag)

    def wait_until(self, serves: Callable[[], bool], timeout: float) -> float:
        """Block until `serves()`; the seconds since the launch. The process's exit or the timeout is an error."""
        deadline = time.monotonic() + timeout
        while not serves():
            if self.exited() is not None:
                raise ToolchainError(f"{self.name} exited ({self.exited()}) before it served:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ToolchainError(f"{self.name} did not serve within {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.3)
        self.started_in = time.monotonic() - self._started_at
        log(f"{self.name} served in {self.started_in:.1f}s", self.tag)
        return self.started_in

    def exited(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def wait_exit(self, timeout: float) -> int:
        if self._process is None:
            raise ToolchainError(f"{self.name} was not started")
        return self._process.wait(timeout)

    def this_run(self) -> str:
        try:
            with self.log_file.open("rb") as log_file:
                log_file.seek(self._offset)
                return log_file.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.this_run().splitlines()[-lines:]) or "(no log)"

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM to its group, then SIGKILL after `grace` seconds; the exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
