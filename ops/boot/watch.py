"""Starting every binary in its sandbox and watching them together: each is probed (its contract's health path
on the port its rendered container port of that name has) until it answers 2xx or exits; the watch ends at the
timeout, or earlier once every binary has exited or been healthy for `settle` seconds (a degradation is often
logged just after start-up, when a connection attempt fails)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ops.boot.pods import PodRun
from ops.boot.rootfs import DISTROLESS_ENV
from ops.boot.sandbox import Process, Sandbox
from ops.boot.verdicts import Seen
from ops.engine.toolchain import log

POLL = 1.0


@dataclass
class Running:
    """One started binary and what the watch has seen of it so far."""

    run: PodRun
    box: Sandbox
    port: int | None                 # the probed port (None: its container has no port of the health port's name)
    path: str
    process: Process | None = None
    healthy_at: float | None = None
    probe: str = "not probed"
    exit_code: int | None = None
    ended_at: float | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def decided(self) -> bool:
        return self.exit_code is not None or self.healthy_at is not None


def start(running: Running, hosts: Mapping[str, str]) -> None:
    """The image's environment under the pod's (the container's variables win, as in the image config merge)."""
    run = running.run
    env = {**DISTROLESS_ENV, **run.env}
    running.process = running.box.start(run.argv, env, run.files, hosts, run.uid, run.gid, dirs=run.dirs)
    running.started_at = time.monotonic()


def watch(processes: Sequence[Running], timeout: float, settle: float) -> float:
    """Poll every process until the timeout, or until all are decided and `settle` seconds have passed since the
    last decision; the seconds watched."""
    began = time.monotonic()
    last_decision = began
    while time.monotonic() - began < timeout:
        for running in processes:
            if not running.decided and poll(running):
                last_decision = time.monotonic()
        if all(r.decided for r in processes) and time.monotonic() - last_decision >= settle:
            break
        time.sleep(POLL)
    for running in processes:
        poll(running)           # a last look: a binary healthy at first may have exited since
    watched = time.monotonic() - began
    log(f"watched {len(processes)} binaries for {watched:.0f} s", "boot")
    return watched


def poll(running: Running) -> bool:
    """Update what is seen of it; True when it has just been decided (exited, or answered 2xx)."""
    assert running.process is not None
    code = running.process.exit_code()
    if code is not None:
        if running.exit_code is None:
            running.exit_code, running.ended_at = code, time.monotonic()
            return True
        return False
    if running.healthy_at is not None or running.port is None:
        return False
    result = running.process.http_get(running.port, running.path)
    where = f"GET :{running.port}{running.path}"
    running.probe = f"{where} -> {result.status}" if result else f"{where}: no answer"
    if result is not None and 200 <= result.status < 300:
        running.healthy_at = time.monotonic()
        return True
    return False


def seen(running: Running) -> Seen:
    lines = running.process.log_lines() if running.process else []
    probe = running.probe if running.port is not None else "no container port named as the contract's health port"
    return Seen(running.exit_code, running.healthy_at is not None, probe, lines)
