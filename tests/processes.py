"""The processes a test run starts, and the check that none of them outlives it.

`pytest_configure` puts SESSION_MARK in pytest's environment, so every process the suite starts (servers, the Pulumi
CLI, the language hosts and providers the CLI starts in process groups of their own) carries it. At the end of the
session a live process that carries the mark, or still descends from pytest, is a leak: it is killed and the session
fails, naming it. Linux only, from /proc, like the CI machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SESSION_MARK = "OPENFOUNDRY_TEST_SESSION"
PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    command: str


def _live() -> Iterator[Process]:
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:   # it ended while we looked
            continue
        # `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after its last ')'
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state not in ("Z", "X"):
            yield Process(int(entry.name), int(parent), command or stat.split("(", 1)[1].rsplit(")", 1)[0])


def _carries(pid: int, mark: bytes) -> bool:
    try:
        return mark in (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def descendants(root: int, processes: list[Process] | None = None) -> list[Process]:
    processes = list(_live()) if processes is None else processes
    children: dict[int, list[Process]] = {}
    for process in processes:
        children.setdefault(process.parent, []).append(process)
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child.pid)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything under it, found before the first signal so no orphan escapes."""
    for target in [pid, *(p.pid for p in descendants(pid))]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)


def leftovers(mark: str, own: int) -> list[Process]:
    processes = list(_live())
    under_pytest = {p.pid for p in descendants(own, processes)}
    needle = f"{SESSION_MARK}={mark}".encode()
    return [p for p in processes if p.pid != own and (p.pid in under_pytest or _carries(p.pid, needle))]


class LeftoverCheck:
    """A pytest plugin: marks the session's environment, and fails the session if anything it started survives."""

    grace = 2.0   # seconds for a process told to stop a moment ago to go

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        os.environ[SESSION_MARK] = self.mark

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        found = leftovers(self.mark, os.getpid())
        deadline = time.monotonic() + self.grace
        while found and time.monotonic() < deadline:
            time.sleep(0.2)
            found = leftovers(self.mark, os.getpid())
        if not found:
            return
        for process in found:
            kill_tree(process.pid)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "processes the suite started and left running (killed now)", red=True)
            for process in found:
                reporter.write_line(f"  {process.pid}  {process.command[:200]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
