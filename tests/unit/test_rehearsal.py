"""The rehearsal cluster's parts that need no cluster: its nodes, and what the local target leaves unawaited."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections import Counter
from pathlib import Path

from components.cluster.rehearsal import CLAIMED_VOLUMES, skip_await_reason
from ops.rehearsal import stacks
from ops.rehearsal.cluster import node_layout
from tests.mocks import Registered


def test_nodes_follow_prods_topology_and_hold_prods_requests(prod_resources: list[Registered]) -> None:
    nodes = node_layout()
    assert len(nodes) == 9
    zones = Counter(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == {"zone-a": 3, "zone-b": 3, "zone-c": 3}
    assert len({n["metadata"]["labels"]["topology.rook.io/rack"] for n in nodes}) == 7
    assert all(n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake" for n in nodes)
    cpu = sum(int(n["status"]["allocatable"]["cpu"]) for n in nodes)
    requested = 0.0
    for resource in prod_resources:
        if resource.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            spec = resource.inputs["spec"]
            for container in spec["template"]["spec"]["containers"]:
                value = str((container.get("resources") or {}).get("requests", {}).get("cpu", "0"))
                per_pod = float(value[:-1]) / 1000 if value.endswith("m") else float(value)
                requested += per_pod * spec.get("replicas", 3)   # HPA-owned: its minimum, 3
    assert requested < cpu * 0.75, (requested, cpu)


def test_only_what_an_operator_or_storage_must_complete_is_left_unawaited() -> None:
    claims = {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}
    assert skip_await_reason("kubernetes:apps/v1:StatefulSet", claims) == CLAIMED_VOLUMES
    assert skip_await_reason("kubernetes:apps/v1:StatefulSet", {"spec": {}}) is None
    assert skip_await_reason("kubernetes:networking.k8s.io/v1:Ingress", {}) is not None
    for awaited in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job", "kubernetes:core/v1:Service"):
        assert skip_await_reason(awaited, claims) is None


def test_only_the_locks_of_runs_that_died_on_this_machine_are_released(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "openfoundry"
    owners = {"dead": (socket.gethostname(), finished.pid), "alive": (socket.gethostname(), os.getpid()),
              "elsewhere": ("another-host", finished.pid)}
    for stack, (host, pid) in owners.items():
        (locks / stack).mkdir(parents=True)
        (locks / stack / "a.json").write_text(json.dumps({"pid": pid, "username": "u", "hostname": host,
                                                           "timestamp": "2026-11-30T12:53:33Z"}))
    released = stacks.release_dead_locks(tmp_path)
    assert len(released) == 1 and "stack dead" in released[0] and f"pid {finished.pid}" in released[0]
    assert sorted(p.parent.name for p in locks.rglob("*.json")) == ["alive", "elsewhere"]


def test_the_rehearsals_prometheus_selects_what_the_clusters_would(tmp_path: Path) -> None:
    from foundry.config import Monitoring
    from ops.rehearsal import controllers

    spec = controllers.prometheus(Monitoring(selector_labels={"team": "platform"}, namespace="observability"))
    assert spec["metadata"] == {"name": "rehearsal", "namespace": "observability"}
    for kind in ("podMonitor", "rule", "serviceMonitor"):
        assert spec["spec"][f"{kind}Selector"] == {"matchLabels": {"team": "platform"}}
        assert spec["spec"][f"{kind}NamespaceSelector"] == {}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [{cluster: {server: 'https://127.0.0.1:6443', certificate-authority: /p/ca.crt}}]\n"
                          "users: [{user: {client-certificate: /p/admin.crt, client-key: /p/admin.key}}]\n")
    assert controllers._credentials(kubeconfig) == {"apiserver": "https://127.0.0.1:6443", "ca-file": "/p/ca.crt",
                                                    "cert-file": "/p/admin.crt", "key-file": "/p/admin.key"}


def test_each_controller_is_built_at_its_pin_and_only_prods_acme_issuer_gets_a_stand_in() -> None:
    from foundry.versions import CHARTS
    from ops.checks import engines
    from ops.rehearsal import controllers

    pins = {c.name: (engines.required_version(c.name, c.module), c.version) for c in controllers.CONTROLLERS}
    assert all(required == pinned for required, pinned in pins.values()), pins
    assert pins["cert-manager"][1] == CHARTS["cert-manager"].version
    assert pins["trust-manager"][1] == CHARTS["trust-manager"].version
    (stand_in,) = controllers.stand_in_issuers(["dev", "prod"])
    assert stand_in["kind"] == "ClusterIssuer" and stand_in["spec"] == {"selfSigned": {}}
    assert stand_in["metadata"]["name"] == "letsencrypt-prod"
    assert controllers.stand_in_issuers(["dev"]) == []


def test_stopping_controllers_of_a_cluster_that_has_none_stops_nothing(tmp_path: Path) -> None:
    from ops.rehearsal import controllers

    assert controllers.stop(tmp_path) == []
    (tmp_path / "controllers").mkdir()
    (tmp_path / "controllers" / "gone.pid").write_text("999999999")
    assert controllers.stop(tmp_path) == [] and not (tmp_path / "controllers" / "gone.pid").exists()
