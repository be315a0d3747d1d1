"""The controllers that reconcile the rehearsal cluster, run as processes against its API server out of cluster, as
their own e2e suites run them; the others stay external (EXTERNAL says why).

- The Prometheus Operator (PROMETHEUS_OPERATOR_REHEARSAL_VERSION, engines/prometheus-operator) with the flags that
  matter out of cluster: the API server and the admin's client certificate from the rehearsal's kubeconfig, every
  namespace. It reconciles `monitoring/rehearsal`, a Prometheus with the selectors of the cluster's own
  (config.monitoring: kube-prometheus-stack's `release` label for PodMonitors and PrometheusRules): the stack does
  not own the cluster's Prometheus, the operators' monitoring stack does, so the rehearsal makes one like it. The
  operator writes its configuration (Secret `prometheus-rehearsal`) and rule files (ConfigMap
  `prometheus-rehearsal-rulefiles-*`); its pod is KWOK's (nothing runs), tests/cluster loads them into a real one.

Each controller's pid and log live in `<cluster state>/controllers/`; `stop` ends them (make cluster-down).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from lightkube import Client

from foundry.config import Monitoring
from foundry.versions import PROMETHEUS_OPERATOR_REHEARSAL_VERSION
from ops.checks import engines
from ops.engine.toolchain import ToolchainError
from ops.rehearsal import kube

OPERATOR = "prometheus-operator"
OPERATOR_PACKAGE = "github.com/prometheus-operator/prometheus-operator/cmd/operator"
PROMETHEUS = "rehearsal"
PROMETHEUS_VERSION = "v3.16.0"   # PROMETHEUS_MODULE_VERSION v0.316.0 is Prometheus 3.16.0
READY_TIMEOUT = 60.0
EXTERNAL = {
    "cert-manager": "the modules holding its binaries' mains (controller-binary, webhook-binary) are not served here",
    "trust-manager": "its bundles' source is the CA cert-manager issues",
    "CloudNativePG, Rook, Strimzi, NACK, Flink, k8ssandra-operator": "no artifact of theirs is served here",
}


def operator_binary() -> Path:
    return engines.binary(OPERATOR, OPERATOR_PACKAGE)


def _directory(state: Path) -> Path:
    path = state / "controllers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _credentials(kubeconfig: Path) -> dict[str, str]:
    """The API server and the admin's certificate files, from the rehearsal's kubeconfig (kwokctl writes paths)."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    return {"apiserver": cluster["server"], "ca-file": cluster["certificate-authority"],
            "cert-file": user["client-certificate"], "key-file": user["client-key"]}


def start(state: Path, kubeconfig: Path, client: Client) -> list[str]:
    """The controllers running (started when not yet), and the Prometheus they reconcile, once the operator has
    written its configuration; their names."""
    directory = _directory(state)
    pid_file, log_file = directory / f"{OPERATOR}.pid", directory / f"{OPERATOR}.log"
    if _alive(pid_file) is None:
        flags = [f"--{name}={value}" for name, value in _credentials(kubeconfig).items()]
        with log_file.open("ab") as log:
            process = subprocess.Popen([str(operator_binary()), *flags, "--web.listen-address=127.0.0.1:0"],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, env={"PATH": "/usr/bin:/bin", **_session_mark()})
        pid_file.write_text(f"{process.pid} {_started_at(process.pid)}")
    # the Prometheus pod's ServiceAccount first: its StatefulSet's pod is refused without it
    kube.wait(f"ServiceAccount default in {Monitoring().namespace}",
              lambda: kube.exists(client, "v1", "ServiceAccount", "default", Monitoring().namespace))
    kube.apply(client, prometheus(Monitoring()))
    deadline = time.monotonic() + READY_TIMEOUT
    while not kube.exists(client, "v1", "Secret", f"prometheus-{PROMETHEUS}", Monitoring().namespace):
        if _alive(pid_file) is None or time.monotonic() > deadline:
            tail = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            raise ToolchainError(f"{OPERATOR} wrote no configuration for Prometheus {PROMETHEUS}:\n{tail}")
        time.sleep(0.5)
    return [f"{OPERATOR} {PROMETHEUS_OPERATOR_REHEARSAL_VERSION}"]


def prometheus(monitoring: Monitoring) -> dict[str, Any]:
    """A Prometheus that selects what the cluster's would: PodMonitors and PrometheusRules by the monitoring
    selector labels, in every namespace."""
    selector = {"matchLabels": dict(monitoring.selector_labels)}
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
            "metadata": {"name": PROMETHEUS, "namespace": monitoring.namespace},
            # the release the cluster tier loads the configuration into (ops/engine/promtool.py): the operator
            # generates for the version it is told
            "spec": {"version": PROMETHEUS_VERSION, "replicas": 1,
                     "podMonitorSelector": selector, "podMonitorNamespaceSelector": {},
                     "ruleSelector": selector, "ruleNamespaceSelector": {},
                     "serviceMonitorSelector": selector, "serviceMonitorNamespaceSelector": {}}}


def stop(state: Path) -> list[str]:
    """Every controller of this cluster ended; their names."""
    stopped = []
    for pid_file in sorted((state / "controllers").glob("*.pid")) if (state / "controllers").exists() else []:
        pid = _alive(pid_file)
        if pid is not None:
            _end(pid)
            stopped.append(pid_file.stem)
        pid_file.unlink()
    return stopped


def _started_at(pid: int) -> str:
    """The process's start time (field 22 of /proc/<pid>/stat): with the pid, it names one process, not a reused id."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid_file: Path) -> int | None:
    """The pid the file names, when that very process still runs (a reused pid is not it)."""
    try:
        pid_text, started = pid_file.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if started and _started_at(pid) == started else None


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
