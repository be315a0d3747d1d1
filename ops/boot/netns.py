"""The Linux plumbing under sandbox.py: `ip` commands, a namespace's removal, entering a network namespace from
one thread, and the sweep of what a killed `make boot` left behind (found by the token in every name it gave).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ops.engine.toolchain import ToolchainError, log

PREFIX = "ofb"                                  # every link and namespace is named ofb<token>...
STATE = Path(tempfile.gettempdir()) / "openfoundry-boot"      # <token>.json per live Network: owner pid, temp dir
CLONE_NEWNET = 0x40000000


class SandboxError(ToolchainError):
    """A namespace, link or process of the sandbox could not be set up; the message says which command failed."""


def sweep() -> None:
    """Remove what Networks whose owners died without cleaning up (SIGKILL, OOM) left: their processes,
    namespaces, links, mounts and temp dirs, found by their token."""
    for state in sorted(STATE.glob("*.json")) if STATE.is_dir() else ():
        token, info = state.stem, json.loads(state.read_text() or "{}")
        if info.get("mark") and owner_mark(int(info.get("pid") or 0)) == info["mark"]:
            continue
        log(f"removing what an earlier `make boot` (pid {info.get('pid')}) left: {PREFIX}{token}*", "boot")
        tmp = str(info.get("tmp") or "")
        for netns in _listed(["ip", "netns", "list"], f"{PREFIX}{token}-"):
            remove_namespace(netns, "", Path(tmp, netns.removeprefix(f"{PREFIX}{token}-"), "uts"))
        for link in _listed(["ip", "-o", "link", "show"], f"{PREFIX}{token}"):
            quiet("ip", "link", "del", link)
        if tmp.startswith(tempfile.gettempdir() + "/"):
            shutil.rmtree(tmp, ignore_errors=True)
        state.unlink(missing_ok=True)


def owner_mark(pid: int) -> str | None:
    """What identifies a live process across pid reuse: its start time (None once it is gone or a zombie, which a
    slow-reaping init can keep for seconds after a SIGKILL)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in "ZX" else f"{pid}:{fields[19]}"


def remove_namespace(netns: str, veth: str, uts: Path) -> None:
    """Kill whatever still runs in the network namespace, delete it and its veth pair, unmount the hostname's."""
    for pid in subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split():
        with contextlib.suppress(OSError):
            os.kill(int(pid), signal.SIGKILL)
    quiet("ip", "netns", "del", netns)
    if veth:
        quiet("ip", "link", "del", veth)
    if uts.exists():
        quiet("umount", "-l", str(uts))


def _listed(cmd: list[str], prefix: str) -> list[str]:
    """Names starting with `prefix` in `ip netns list` (`name (id: 0)`) or `ip -o link show` (`3: name@peer: ...`)."""
    lines = subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()
    names = [line.split(":")[1] if cmd[1] == "-o" else line.split(" ")[0] for line in lines if line.strip()]
    return [name for name in (n.strip().split("@")[0] for n in names) if name.startswith(prefix)]


def ip(*args: str) -> None:
    run_checked(["ip", *args])


def run_checked(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SandboxError(f"`{' '.join(cmd)}` failed: {result.stderr.strip() or result.returncode}")


def quiet(*cmd: str) -> None:
    """A cleanup command whose failure only means there was nothing left to remove."""
    subprocess.run(list(cmd), capture_output=True)


def enter_netns(netns: str) -> None:
    """Move the calling thread (only it: setns on a network namespace is per thread) into `netns`; sockets it
    opens afterwards live there. Python 3.11 has no os.setns."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    finally:
        os.close(fd)


def which(name: str) -> str:
    """Absolute paths: the child's environment is the pod's, whose PATH (if any) is not the host's."""
    found = shutil.which(name, path=os.environ.get("PATH", os.defpath))
    if found is None:
        raise SandboxError(f"`{name}` is not on PATH (util-linux provides nsenter, setpriv and unshare)")
    return found


_LIBC = ctypes.CDLL(None, use_errno=True)
