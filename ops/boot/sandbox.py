"""One binary run as its pod would run it: its own network namespace on a private bridge (so every pod may bind
0.0.0.0:9090), its own hostname, PID and IPC namespaces, a root filesystem holding only what a distroless static
image and the pod's mounts hold, a fixed uid/gid, exactly the environment given, host names from /etc/hosts only.

A `Network` (context manager) owns everything: one Linux bridge with a private /24 whose first address is the
host's (servers on the host bound to it are reachable from every sandbox), and per `Sandbox` a namespace joined
by a veth pair. There is no default route and no DNS server (resolv.conf names 127.0.0.1): a sandbox reaches the
subnet and nothing else. Leaving the context, by an exception, Ctrl-C or SIGTERM too, stops every process and
removes namespaces, links, mounts and files; a Network whose owner was killed outright is swept by the next one.
Processes start as `nsenter --net --uts -- setpriv --no-new-privs -- unshare --pid --ipc --fork --mount-proc --root
--wd --setuid --setgid -- argv` (util-linux; no_new_privs is allowPrivilegeEscalation: false), in a session of
their own, so Ctrl-C reaches only this program, which stops them.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from ops.boot.netns import (
    PREFIX,
    STATE,
    SandboxError,
    enter_netns,
    ip,
    owner_mark,
    quiet,
    remove_namespace,
    run_checked,
    sweep,
    which,
)
from ops.boot.rootfs import NONROOT, make_root
from ops.engine.toolchain import log

DEFAULT_SUBNET = "10.233.0.0/24"
PROBE_HEADERS = {"User-Agent": "kube-probe/1.31", "Accept": "*/*"}


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        """The kubelet's verdict on an HTTP probe: 200 <= status < 400."""
        return 200 <= self.status < 400


class Network:
    """The bridge and every sandbox on it; `with Network() as net:` removes all of it on the way out."""

    def __init__(self, subnet: str = DEFAULT_SUBNET) -> None:
        self.subnet = ipaddress.IPv4Network(subnet)
        addresses = [str(a) for a in self.subnet.hosts()]
        self.gateway, self._free = addresses[0], addresses[1:]
        self.token = secrets.token_hex(2)
        self.bridge = ""                    # named, like the temp dir, once the token is claimed
        self.sandboxes: list[Sandbox] = []
        self.tmp = Path()
        self._sigterm: Any = None

    def __enter__(self) -> Network:
        sweep()
        try:
            self._claim()
            self._catch_sigterm()
            for args in (["link", "add", self.bridge, "type", "bridge"], ["link", "set", self.bridge, "up"],
                         ["addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge]):
                ip(*args)
        except BaseException:
            self.close()
            raise
        log(f"network {self.subnet} on bridge {self.bridge} (host side {self.gateway})", "boot")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def sandbox(self, name: str, address: str | None = None) -> Sandbox:
        """A new pod-like sandbox on the bridge: its own network namespace and hostname `name`, the next free
        address (or `address`)."""
        address, safe = address or (self._free[0] if self._free else ""), re.sub(r"[^a-z0-9-]", "-", name.lower())[:63]
        if address not in self._free:
            raise SandboxError(f"no free address {address or ''} in {self.subnet} for sandbox {name}")
        if any(box.name == safe for box in self.sandboxes):
            raise SandboxError(f"a sandbox named {safe} already exists on this network")
        self._free.remove(address)
        box = Sandbox(self, safe, address, len(self.sandboxes) + 1)
        self.sandboxes.append(box)    # before it is built: close() removes a half-built one too
        box.create()
        return box

    def close(self, grace: float = 5.0) -> None:
        """Stop every process (SIGTERM, then SIGKILL after `grace` seconds), then remove namespaces, links, the
        bridge and the temp dir. Signals wait until it is done: a second Ctrl-C must not leave half of it."""
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            processes = [p for box in self.sandboxes for p in box.processes]
            for process in processes:
                process.signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            for process in processes:
                process.wait(max(0.0, deadline - time.monotonic()))
                process.signal(signal.SIGKILL)
                process.wait(5.0)
            for box in reversed(self.sandboxes):
                box.destroy()
            if self.bridge:
                quiet("ip", "link", "del", self.bridge)
                shutil.rmtree(self.tmp, ignore_errors=True)
                (STATE / f"{self.token}.json").unlink(missing_ok=True)
            self.sandboxes, self.bridge = [], ""
        finally:
            if self._sigterm is not None:
                signal.signal(signal.SIGTERM, self._sigterm)
                self._sigterm = None
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _claim(self) -> None:
        """Refuse a subnet the host already routes (another Network, a VPN...), then record this Network's owner
        so that the next one can sweep what it leaves if it is killed outright."""
        shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
        for line in shown.splitlines():
            fields = line.split()
            if len(fields) > 3 and ipaddress.IPv4Interface(fields[3]).network.overlaps(self.subnet):
                raise SandboxError(f"{self.subnet} overlaps {fields[3]} on {fields[1]}: choose another subnet")
        STATE.mkdir(mode=0o700, exist_ok=True)
        while True:     # a token no live Network holds: its state file is created exclusively
            try:
                (STATE / f"{self.token}.json").open("x").close()
                break
            except FileExistsError:
                self.token = secrets.token_hex(2)
        self.bridge = f"{PREFIX}{self.token}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{self.token}-"))
        mark = {"pid": os.getpid(), "mark": owner_mark(os.getpid()), "tmp": str(self.tmp)}
        (STATE / f"{self.token}.json").write_text(json.dumps(mark))

    def _catch_sigterm(self) -> None:
        """SIGTERM (a CI timeout, `kill`) would end Python without `finally`: make it an exit that cleans up."""
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._sigterm = signal.signal(signal.SIGTERM, _exit_on_signal)


class Sandbox:
    """One pod's namespaces: network (eth0 on the bridge, lo) and hostname, kept by files while no process runs,
    as a pod's pause container keeps them."""

    def __init__(self, network: Network, name: str, address: str, index: int) -> None:
        self.network, self.name, self.address = network, name, address
        self.netns = f"{PREFIX}{network.token}-{name}"
        self.veth = f"{PREFIX}{network.token}v{index}"
        self.dir = network.tmp / name
        self.processes: list[Process] = []

    def create(self) -> None:
        self.dir.mkdir(mode=0o700)
        peer, prefix = f"{self.veth}p", self.network.subnet.prefixlen
        ip("netns", "add", self.netns)
        ip("link", "add", self.veth, "type", "veth", "peer", "name", peer, "netns", self.netns)
        ip("link", "set", self.veth, "master", self.network.bridge, "up")
        for args in (["link", "set", peer, "name", "eth0"], ["addr", "add", f"{self.address}/{prefix}", "dev", "eth0"],
                     ["link", "set", "eth0", "up"], ["link", "set", "lo", "up"]):
            ip("-n", self.netns, *args)
        (self.dir / "uts").touch()
        run_checked(["unshare", f"--uts={self.dir / 'uts'}", "hostname", self.name])

    def start(self, argv: Sequence[str], env: Mapping[str, str], files: Mapping[str, bytes | Path],
              hosts: Mapping[str, str] | None = None, uid: int = NONROOT, gid: int = NONROOT, *,
              dirs: Sequence[str] = (), workdir: str = "/home/nonroot") -> Process:
        """Run argv (argv[0] as inside the root) with exactly `env`, as uid:gid, in a fresh root: the distroless
        base, then `files` (in-pod path -> content, or a host file or tree, hard-linked when possible), `dirs`
        as empty writable directories (emptyDirs; everything else is read-only to a non-root user, like
        readOnlyRootFilesystem), /etc/hosts mapping each `hosts` name to its address."""
        run_dir = self.dir / f"run-{len(self.processes) + 1}"
        root = run_dir / "root"
        make_root(root, files, dirs, self.name, self.address, hosts or {})
        cmd = [which("nsenter"), f"--net=/run/netns/{self.netns}", f"--uts={self.dir / 'uts'}", "--",
               which("setpriv"), "--no-new-privs", "--",
               which("unshare"), "--pid", "--ipc", "--fork", "--mount-proc", f"--root={root}", f"--wd={workdir}",
               f"--setuid={uid}", f"--setgid={gid}", "--", *argv]
        log_path = run_dir / "log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(cmd, env=dict(env), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        process = Process(self, popen, log_path)
        self.processes.append(process)
        return process

    def http_get(self, port: int, path: str = "/", host: str | None = None, timeout: float = 1.0) -> HttpResult | None:
        """GET http://<host>:<port><path> from inside the namespace, as the kubelet probes (its host defaults to
        the pod's IP, so a server bound to 127.0.0.1 only fails as it would in the cluster). None: no answer."""
        box: list[HttpResult | None | OSError] = []
        thread = threading.Thread(target=_probe, args=(self.netns, host or self.address, port, path, timeout, box),
                                  name=f"probe-{self.name}", daemon=True)
        thread.start()
        thread.join(2 * timeout + 1)
        result = box[0] if box else None
        if isinstance(result, OSError):
            raise SandboxError(f"cannot enter network namespace {self.netns}: {result}")
        return result

    def destroy(self) -> None:
        remove_namespace(self.netns, self.veth, self.dir / "uts")


class Process:
    """One started binary: its exit code (negative: the signal that killed it), its log, and its stop."""

    def __init__(self, sandbox: Sandbox, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.sandbox, self.log_path, self._popen = sandbox, log_path, popen

    def alive(self) -> bool:
        return self._popen.poll() is None

    def exit_code(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self._popen.wait(timeout)
        return None

    def log_lines(self) -> list[str]:
        return self.log_path.read_bytes().decode(errors="replace").splitlines() if self.log_path.exists() else []

    def signal(self, signum: int) -> None:
        """Signal the process group (the binary; unshare, its parent outside the PID namespace, ignores SIGTERM
        and dies of SIGKILL), only while it is unreaped, so its id cannot have been reused."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signum)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds, as the kubelet stops a container; the exit code."""
        self.signal(signal.SIGTERM)
        if self.wait(grace) is None:
            self.signal(signal.SIGKILL)
        return self.wait(5.0)

    def http_get(self, port: int, path: str = "/", host: str | None = None, timeout: float = 1.0) -> HttpResult | None:
        return self.sandbox.http_get(port, path, host, timeout)


def _probe(netns: str, host: str, port: int, path: str, timeout: float, box: list[HttpResult | None | OSError]) -> None:
    """In a thread of its own: enter the namespace (setns moves this thread only), then GET; the kubelet reads
    at most 10 KiB of a probe's body."""
    try:
        enter_netns(netns)
    except OSError as error:
        box.append(error)
        return
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=PROBE_HEADERS)
        response = connection.getresponse()
        box.append(HttpResult(response.status, response.read(10240)))
    except (OSError, http.client.HTTPException):
        box.append(None)
    finally:
        connection.close()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
