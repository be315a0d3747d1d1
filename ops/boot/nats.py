"""The render's NATS StatefulSet as real servers: nats-server v2.12.1 (built from the Go module pinned in
tests/engine/nats-server, as the engine tier builds it) run as each of its pods, in a sandbox of its own, with the
pod's rendered config, passwords (envFrom the Secret), SERVER_NAME (its pod name) and writable /data and pid
directories. Routes find each other by their pods' DNS names (`<pod>.<headless service>.<ns>.svc…`), so prod's
three servers form JetStream's meta group as they would in the cluster.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ops.boot.images import image_name
from ops.boot.jetstream import monitor
from ops.boot.pods import Image, PodRun, pod_run
from ops.boot.rendered import Obj, Rendered, name_of, namespace_of, service_names
from ops.boot.sandbox import Network, Process, Sandbox
from ops.engine.toolchain import REPO, ToolchainError, cache_dir, go_env, log

VERSION = "v2.12.1"
MODULE_DIR = REPO / "tests" / "engine" / "nats-server"     # its go.mod/go.sum pin the server
ENTRYPOINT = "/usr/local/bin/nats-server"    # the nats image's entrypoint hands the container's args to nats-server
READY_TIMEOUT = 60.0
MONITOR_PORT = 8222


@dataclass
class NatsServers:
    """The running servers (pod name -> sandbox address) and the hosts entries their routes need."""

    addresses: dict[str, str] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    service: str = ""          # the client Service's namespace-qualified name, e.g. nats.openfoundry-control
    problem: str = ""


def nats_server_binary() -> Path:
    """nats-server built once into the toolchain cache (the engine tier's binary, when it built it first)."""
    binary = cache_dir() / f"nats-server-{VERSION}"
    if not binary.exists():
        log(f"building nats-server {VERSION} from its Go module (once)", "boot")
        result = subprocess.run(["go", "build", "-o", str(binary), "github.com/nats-io/nats-server/v2"],
                                cwd=MODULE_DIR, env=go_env(), capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise ToolchainError(f"go build of nats-server failed: {result.stderr.strip()[-400:]}")
    return binary


def nats_statefulset(rendered: Rendered) -> Obj | None:
    """The StatefulSet whose pods run the nats image."""
    return next((sts for sts in rendered.of_kind("StatefulSet")
                 if any(image_name(c["image"]) == "nats" for c in sts["spec"]["template"]["spec"]["containers"])),
                None)


def start_nats(rendered: Rendered, network: Network) -> NatsServers:
    """Every pod of the NATS StatefulSet started and JetStream's meta group elected; or the problem said."""
    servers = NatsServers()
    statefulset = nats_statefulset(rendered)
    if statefulset is None:
        servers.problem = "the render has no NATS StatefulSet"
        return servers
    namespace, name = namespace_of(statefulset), name_of(statefulset)
    servers.service = f"{name}.{namespace}"
    image = Image(ENTRYPOINT, files={ENTRYPOINT: nats_server_binary()})
    container = next(c for c in statefulset["spec"]["template"]["spec"]["containers"] if image_name(c["image"]) == "nats")
    boxes: dict[str, Sandbox] = {}
    for index in range(int(statefulset["spec"].get("replicas", 1))):
        pod = f"{name}-{index}"
        boxes[pod] = network.sandbox(pod)
        servers.addresses[pod] = boxes[pod].address
        headless = statefulset["spec"].get("serviceName", "")
        for host in service_names(f"{pod}.{headless}", namespace) if headless else []:
            servers.hosts[host] = boxes[pod].address
    runs = {pod: pod_run(statefulset, container, rendered, image, pod, box.address) for pod, box in boxes.items()}
    problems = [f"{pod}: {run.problem}" for pod, run in runs.items() if run.problem]
    if problems:
        servers.problem = "; ".join(problems)
        return servers
    for pod, run in runs.items():
        servers.processes[pod] = start_pod(boxes[pod], run, servers.hosts)
    servers.problem = wait_for_jetstream(servers)
    return servers


def start_pod(box: Sandbox, run: PodRun, hosts: Mapping[str, str]) -> Process:
    return box.start(run.argv, run.env, run.files, hosts, run.uid, run.gid, dirs=run.dirs)


def wait_for_jetstream(servers: NatsServers) -> str:
    """'' once every server answers /healthz and the meta group has a leader; else what went wrong."""
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = "no server answered yet"
    while time.monotonic() < deadline:
        exited = [f"{pod} exited: {first_error(process)}" for pod, process in servers.processes.items()
                  if not process.alive()]
        if exited:
            return "; ".join(exited)
        try:
            leaders = {monitor(address, "/jsz").get("meta_cluster", {}).get("leader", "")
                       for address in servers.addresses.values()}
            if all(leaders) and len(leaders) == 1:
                log(f"nats: {len(servers.addresses)} servers, JetStream meta leader {leaders.pop()}", "boot")
                return ""
            waiting = "JetStream's meta group has no leader yet"
        except OSError as error:
            waiting = f"monitoring endpoint: {error}"
        time.sleep(0.5)
    return f"not ready within {READY_TIMEOUT:.0f} s: {waiting}"


def first_error(process: Process) -> str:
    lines = process.log_lines()
    return next((line for line in lines if "[FTL]" in line or "[ERR]" in line), lines[-1] if lines else "no output")
