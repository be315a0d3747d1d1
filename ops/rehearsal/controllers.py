"""The controllers that reconcile the rehearsal cluster, run as processes against its API server out of cluster, as
their own e2e suites run them; the others stay external (EXTERNAL says why).

- The Prometheus Operator (PROMETHEUS_OPERATOR_REHEARSAL_VERSION, engines/prometheus-operator) with the flags that
  matter out of cluster: the API server and the admin's client certificate from the rehearsal's kubeconfig, every
  namespace. It reconciles `monitoring/rehearsal`, a Prometheus with the selectors of the cluster's own
  (config.monitoring: kube-prometheus-stack's `release` label for PodMonitors and PrometheusRules): the stack does
  not own the cluster's Prometheus, the operators' monitoring stack does, so the rehearsal makes one like it. The
  operator writes its configuration (Secret `prometheus-rehearsal`) and rule files (ConfigMap
  `prometheus-rehearsal-rulefiles-0`); no Prometheus pod runs (KWOK), tests/cluster loads them into a real one.

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
from ops.rehearsal import kube

OPERATOR = "prometheus-operator"
OPERATOR_PACKAGE = "github.com/prometheus-operator/prometheus-operator/cmd/operator"
PROMETHEUS = "rehearsal"
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
    """The controllers running (started when not yet), and the Prometheus they reconcile; their names."""
    directory = _directory(state)
    if not _running(directory / f"{OPERATOR}.pid"):
        flags = [f"--{name}={value}" for name, value in _credentials(kubeconfig).items()]
        with (directory / f"{OPERATOR}.log").open("ab") as log:
            process = subprocess.Popen([str(operator_binary()), *flags, "--web.listen-address=127.0.0.1:0"],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, env={"PATH": "/usr/bin:/bin",
                                                                    **_session_mark()})
        (directory / f"{OPERATOR}.pid").write_text(str(process.pid))
    kube.apply(client, prometheus(Monitoring()))
    return [f"{OPERATOR} {PROMETHEUS_OPERATOR_REHEARSAL_VERSION}"]


def prometheus(monitoring: Monitoring) -> dict[str, Any]:
    """A Prometheus that selects what the cluster's would: PodMonitors and PrometheusRules by the monitoring
    selector labels, in every namespace."""
    selector = {"matchLabels": dict(monitoring.selector_labels)}
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
            "metadata": {"name": PROMETHEUS, "namespace": monitoring.namespace},
            "spec": {"replicas": 1, "podMonitorSelector": selector, "podMonitorNamespaceSelector": {},
                     "ruleSelector": selector, "ruleNamespaceSelector": {},
                     "serviceMonitorSelector": selector, "serviceMonitorNamespaceSelector": {}}}


def stop(state: Path) -> list[str]:
    """Every controller of this cluster ended; their names."""
    stopped = []
    for pid_file in sorted((state / "controllers").glob("*.pid")) if (state / "controllers").exists() else []:
        pid = int(pid_file.read_text())
        if _running(pid_file):
            _end(pid)
            stopped.append(pid_file.stem)
        pid_file.unlink()
    return stopped


def _running(pid_file: Path) -> bool:
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def _end(pid: int, grace: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:   # our own child (a test session's): reaped
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _session_mark() -> dict[str, str]:
    """The test session's mark, when there is one: a controller a test run starts is that run's (tests/processes.py)."""
    return {key: value for key, value in os.environ.items() if key == "OPENFOUNDRY_TEST_SESSION"}
