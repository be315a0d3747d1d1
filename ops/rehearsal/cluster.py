"""The rehearsal cluster: a real Kubernetes control plane on this machine, built from Go modules.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real ones (v1.37.2, from the committed
wrapper modules in cluster/); KWOK simulates the nodes and the pods' lives, so the scheduler places real pods on
nodes spread over zones and racks but no container runs. kwokctl runs the lot with its binary runtime, on
127.0.0.1 only, admission like a production cluster (RBAC, NodeRestriction, PodSecurity). Binaries are cached
outside the repository (`~/.cache/openfoundry/cluster-<key>/`); the cluster's data and kubeconfig live in
`.cluster/` (gitignored) until `down`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lightkube import ApiError, Client, codecs

from components.cluster.operators import operator_namespaces
from foundry import versions
from foundry.config import Monitoring
from ops.checks.crds import ensure_crds
from ops.engine import toolchain
from ops.engine.toolchain import REPO, ToolchainError, cache_dir, go_env, run
from ops.rehearsal import controllers, kube

WRAPPERS = REPO / "cluster"
CONFIG = WRAPPERS / "kwokctl.yaml"
NODES = REPO / "data" / "local-cluster.yaml"
VERSION_PACKAGE = "k8s.io/component-base/version"
TAG = "cluster"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True)
class Rehearsal:
    """One rehearsal cluster: its kwokctl name and the directory holding its data, kubeconfig and stacks' state."""

    name: str = "openfoundry"
    state: Path = REPO / ".cluster"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def context(self) -> str:
        return f"kwok-{self.name}"

    def shown(self, path: Path) -> str:
        return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


DEFAULT = Rehearsal()


def log(message: str) -> None:
    toolchain.log(message, TAG)


def step(what: str) -> AbstractContextManager[None]:
    return toolchain.step(what, TAG)


# --- building ------------------------------------------------------------------------------------------

def binaries_key() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in WRAPPERS.rglob("go.*") if p.is_file()):
        digest.update(path.relative_to(WRAPPERS).as_posix().encode() + path.read_bytes())
    digest.update(f"{versions.LOCAL_KUBERNETES_VERSION}".encode())
    return digest.hexdigest()[:16]


def binaries() -> Path:
    """The directory holding etcd, kwok, kwokctl and the control plane, built first when not cached."""
    target = cache_dir() / f"cluster-{binaries_key()}"
    stamp = target / "complete"
    if stamp.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    started = time.monotonic()
    kubernetes = versions.LOCAL_KUBERNETES_VERSION
    major, minor, _ = kubernetes.split(".")
    ldflags = " ".join(["-s -w", f"-X {VERSION_PACKAGE}.gitVersion=v{kubernetes}",
                        f"-X {VERSION_PACKAGE}.gitMajor={major}", f"-X {VERSION_PACKAGE}.gitMinor={minor}",
                        f"-X {VERSION_PACKAGE}.gitTreeState=clean"])
    with step(f"building kube-apiserver, kube-controller-manager and kube-scheduler v{kubernetes} "
              "(cold: ~15 min on 2 cores)"):
        run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", f"{target}/",
             *(f"k8s.io/kubernetes/cmd/{name}" for name in CONTROL_PLANE)], WRAPPERS / "kubernetes", go_env())
    with step(f"building etcd v{versions.ETCD_VERSION}, kwok and kwokctl v{versions.KWOK_VERSION} (cold: ~4 min)"):
        run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", f"{target}/", "go.etcd.io/etcd/server/v3",
             "sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok/cmd/kwokctl"], WRAPPERS / "kwok", go_env())
        (target / "server").rename(target / "etcd")   # the etcd module's root package is named `server`
    stamp.write_text(f"built in {time.monotonic() - started:.0f}s\n")
    log(f"cluster binaries ready in {target} in {time.monotonic() - started:.1f}s")
    return target


# --- the cluster ------------------------------------------------------------------------------------------

def kwokctl(rehearsal: Rehearsal, bin_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KWOK_WORKDIR": str(rehearsal.state / "kwok"),
           "KWOK_KUBE_VERSION": f"v{versions.LOCAL_KUBERNETES_VERSION}", "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(bin_dir / "kwokctl"), "--config", str(CONFIG), *args], env=env,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ToolchainError(f"`kwokctl {' '.join(args)}` failed:\n{(result.stderr or result.stdout).strip()[-3000:]}")
    return result


def answering(rehearsal: Rehearsal = DEFAULT) -> Client | None:
    """A client of the running cluster, or None when there is none."""
    if not rehearsal.kubeconfig.exists():
        return None
    try:
        client = kube.connect(rehearsal.kubeconfig)
    except (ApiError, OSError, KeyError, ValueError):
        return None
    return client if kube.answers(client) else None


def start(rehearsal: Rehearsal, bin_dir: Path) -> Client:
    name = rehearsal.name
    if (client := answering(rehearsal)) is not None:
        log(f"cluster {name} already running ({kube.server(client)})")
        return client
    flags = [f"--{name}-binary={bin_dir / name}" for name in CONTROL_PLANE]
    flags += [f"--etcd-binary={bin_dir / 'etcd'}", f"--kwok-controller-binary={bin_dir / 'kwok'}"]
    rehearsal.state.mkdir(parents=True, exist_ok=True)
    if (rehearsal.state / "kwok" / "clusters" / name).exists():
        with step(f"restarting cluster {name}"):
            kwokctl(rehearsal, bin_dir, "start", "cluster", "--name", name, "--timeout", "240s")
    else:
        with step(f"starting cluster {name}: Kubernetes v{versions.LOCAL_KUBERNETES_VERSION} on 127.0.0.1"):
            kwokctl(rehearsal, bin_dir, "create", "cluster", "--name", name, "--runtime", "binary", *flags,
                    "--kubeconfig", str(rehearsal.kubeconfig), "--timeout", "240s", "--wait", "240s")
    rehearsal.kubeconfig.chmod(0o600)
    client = kube.connect(rehearsal.kubeconfig)
    kube.wait("the API server", lambda: kube.answers(client), timeout=120)
    kube.wait("the default ServiceAccount", lambda: kube.exists(client, "v1", "ServiceAccount", "default", "default"))
    return client


def node_layout() -> list[dict[str, Any]]:
    """The nodes of a stack's topology (data/local-cluster.yaml says which stack): its zones, racks, node count and
    node size (`topology.node`), each node where `Topology.layout` places it."""
    from foundry.config import load_stack_config
    from ops.engine.stacks import read_stack_values

    spec = yaml.safe_load(NODES.read_text())
    topology = load_stack_config(read_stack_values(spec["layout"]), spec["layout"]).topology
    size = topology.node
    resources = {"cpu": size.cpu, "memory": size.memory, "pods": str(size.pods)}
    return [{
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": place.node, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                     "labels": {"kubernetes.io/hostname": place.node, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "type": "kwok", topology.zone_label: place.zone,
                                spec["rackLabel"]: place.rack}},
        "status": {"allocatable": resources, "capacity": resources, "nodeInfo": _node_info(place.node)},
    } for place in topology.layout()]


def _node_info(node: str) -> dict[str, str]:
    """What a kubelet reports of its node; every field is required by the Node schema, so a simulated node states
    each (KWOK's node: no container runtime, no kernel of its own)."""
    version = f"v{versions.LOCAL_KUBERNETES_VERSION}"
    return {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": version, "kubeProxyVersion": version,
            "osImage": "kwok", "kernelVersion": "kwok", "containerRuntimeVersion": "kwok://", "machineID": node,
            "systemUUID": node, "bootID": node}


def add_nodes(client: Client) -> int:
    nodes = node_layout()
    for node in nodes:
        if not kube.exists(client, "v1", "Node", node["metadata"]["name"]):
            client.create(codecs.from_dict(node))
    names = {n["metadata"]["name"] for n in nodes}
    kube.wait("the nodes", lambda: sum(_ready(n) for n in kube.listed(client, "v1", "Node")
                                       if n["metadata"]["name"] in names) == len(names))
    return len(nodes)


def _ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (node.get("status") or {}).get("conditions") or [])


def install_crds(client: Client) -> int:
    """Every CRD `ops/checks/crds.py` generates, as the operators' charts would install them; then their kinds are
    known to the client."""
    crds = [d for path in sorted(ensure_crds().rglob("*.yaml")) for d in kube.documents(path)
            if d.get("kind") == "CustomResourceDefinition" and d.get("apiVersion") == "apiextensions.k8s.io/v1"]
    for crd in crds:
        kube.apply(client, crd)
    names = {c["metadata"]["name"] for c in crds}
    kube.wait("the CRDs", lambda: sum(_established(c) for c in kube.listed(client, CRD_API, "CustomResourceDefinition")
                                      if c["metadata"]["name"] in names) == len(names))
    kube.learn_custom_kinds(client)
    return len(crds)


def _established(crd: dict[str, Any]) -> bool:
    return any(c["type"] == "Established" and c["status"] == "True" for c in (crd.get("status") or {}).get("conditions") or [])


MONITORING = Monitoring().namespace
CRD_API = "apiextensions.k8s.io/v1"


def add_operator_namespaces(client: Client) -> list[str]:
    """The operators' namespaces, and the cluster's monitoring namespace (where Grafana reads its data sources)."""
    namespaces = {**operator_namespaces(), MONITORING: {"name": MONITORING}}
    for metadata in namespaces.values():
        kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    return sorted(namespaces)


def up(rehearsal: Rehearsal = DEFAULT) -> Client:
    bin_dir = binaries()
    client = start(rehearsal, bin_dir)
    nodes = add_nodes(client)
    crds = install_crds(client)
    namespaces = add_operator_namespaces(client)
    running = controllers.start(rehearsal.state, rehearsal.kubeconfig, client)
    log(f"cluster {rehearsal.name}: {nodes} nodes, {crds} CRDs; kubeconfig {rehearsal.shown(rehearsal.kubeconfig)}")
    stand_ins = ", ".join(i["metadata"]["name"] for i in controllers.stand_in_issuers())
    log(f"controllers running here: {', '.join(running)} (Prometheus {controllers.PROMETHEUS} in {MONITORING}; "
        f"ClusterIssuer {stand_ins} self-signed in place of the cluster's ACME issuer)")
    log(f"operators' namespaces created ({', '.join(namespaces)}); external, their controllers do not run: "
        + "; ".join(f"{names} ({why})" for names, why in controllers.EXTERNAL.items()))
    return client


def down(rehearsal: Rehearsal = DEFAULT) -> None:
    if not rehearsal.state.exists():
        log(f"no cluster {rehearsal.name} here")
        return
    stopped = controllers.stop(rehearsal.state)
    if stopped:
        log(f"stopped {', '.join(stopped)}")
    bin_dir = cache_dir() / f"cluster-{binaries_key()}"
    if (bin_dir / "kwokctl").exists():
        kwokctl(rehearsal, bin_dir, "delete", "cluster", "--name", rehearsal.name, check=False)
    shutil.rmtree(rehearsal.state, ignore_errors=True)
    log(f"cluster {rehearsal.name} stopped; {rehearsal.shown(rehearsal.state)}/ removed")
