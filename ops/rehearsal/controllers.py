"""The controllers that reconcile the rehearsal cluster, run as processes against its API server out of cluster, as
their own e2e suites run them; the others stay external (EXTERNAL says why). Each is built from its Go module at a
pin (engines/<name>/go.mod) and given the flags its chart gives it, but for what only a pod has (its service
account, its namespace file, ports of its own): the API server and credentials come from the rehearsal's
kubeconfig, and ports are free ones (trust-manager binds its metrics and readiness ports on every address: its
binary fixes the host).

- cert-manager's controller (engines/cert-manager: its root module's controllers at the chart's pin, wired as its
  own controller-binary wires them; that module is not served here): the cluster resource namespace is the chart's
  `$(POD_NAMESPACE)`, cert-manager; leader election on a Lease in kube-system, as the chart's global.leaderElection.
  Its webhook does not run (its binary is in another unserved module), so the API server neither validates
  Certificates as cert-manager would nor fills a request's requester fields; issuance does not read them.
- trust-manager (engines/trust-manager: its own cmd/trust-manager at the chart's pin): trust namespace cert-manager;
  leader election off: the binary names no Lease namespace (cmd/trust-manager/app/app.go) and controller-runtime
  v0.25.0 then reads it only from a pod's service account file (pkg/leaderelection/leader_election.go). Its webhook
  serves a certificate made here, as the chart's Certificate would give it; no API server calls it (the chart's
  ValidatingWebhookConfiguration is not installed).
- The Prometheus Operator (engines/prometheus-operator) reconciles `monitoring/rehearsal`, a Prometheus with the
  selectors of the cluster's own (config.monitoring: kube-prometheus-stack's `release` label): the stack does not own
  the cluster's Prometheus, so the rehearsal makes one like it; its configuration and rule files are what
  tests/cluster loads into a real one.

The stacks' edge certificates name the cluster's ACME ClusterIssuer (edge.tlsClusterIssuer, outside the stack); ACME
needs the internet, so the rehearsal makes a self-signed ClusterIssuer of that name in its place (STAND_IN).
Each controller's pid and log live in `<cluster state>/controllers/`; `stop` ends them (make cluster-down).
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lightkube import Client

from foundry.config import ConfigErrors, Monitoring, load_stack_config
from foundry.versions import CHARTS, PROMETHEUS_OPERATOR_REHEARSAL_VERSION
from ops.checks import engines
from ops.engine.stacks import read_stack_values
from ops.engine.toolchain import REPO
from ops.rehearsal import kube, processes

PROMETHEUS = "rehearsal"
PROMETHEUS_VERSION = "v3.16.0"   # PROMETHEUS_MODULE_VERSION v0.316.0 is Prometheus 3.16.0
CERT_MANAGER_NAMESPACE = "cert-manager"   # the chart's release namespace: cluster resource and trust namespace
LEASE_NAMESPACE = "kube-system"           # cert-manager chart's global.leaderElection.namespace
STAND_IN = "openfoundry.dev/rehearsal-stand-in"
READY_TIMEOUT = 60.0
EXTERNAL = {
    "CloudNativePG, Rook, Strimzi, NACK, Flink, k8ssandra-operator": "no artifact of theirs is served here",
}


@dataclass(frozen=True)
class Controller:
    name: str
    package: str                                      # the main package built (engines.binary)
    module: str                                       # the module engines/<name>/go.mod requires
    version: str                                      # at this pin (foundry/versions.py)
    flags: Callable[[Path, Path], list[str]]          # (its directory, the kubeconfig): its flags
    started: str                                      # what shows it is working
    ready: Callable[[Path, Client], bool]


def _credentials(kubeconfig: Path) -> dict[str, str]:
    """The API server and the admin's certificate files, from the rehearsal's kubeconfig (kwokctl writes paths)."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    return {"apiserver": cluster["server"], "ca-file": cluster["certificate-authority"],
            "cert-file": user["client-certificate"], "key-file": user["client-key"]}


def _prometheus_operator_flags(_: Path, kubeconfig: Path) -> list[str]:
    return [*(f"--{name}={value}" for name, value in _credentials(kubeconfig).items()),
            "--web.listen-address=127.0.0.1:0"]


def _cert_manager_flags(_: Path, kubeconfig: Path) -> list[str]:
    # the chart's (deploy/charts/cert-manager/templates/deployment.yaml at v1.20.2, its default values)
    return [f"--kubeconfig={kubeconfig}", "--v=2", f"--cluster-resource-namespace={CERT_MANAGER_NAMESPACE}",
            "--leader-elect=true", f"--leader-election-namespace={LEASE_NAMESPACE}"]


def _trust_manager_flags(directory: Path, kubeconfig: Path) -> list[str]:
    # the chart's (deploy/charts/trust-manager/templates/deployment.yaml at v0.25.0, its default values), on
    # 127.0.0.1's free ports; its default CA package is an image's file (the stack's Bundle does not use it)
    webhook = _webhook_certificate(directory / "trust-manager-webhook")
    (directory / "trust-manager.readyz").write_text(str(_free_port()))
    return [f"--kubeconfig={kubeconfig}", "--log-format=text", "--log-level=1", "--metrics-port=0",
            f"--readiness-probe-port={_readyz_port(directory)}", "--readiness-probe-path=/readyz",
            "--leader-elect=false", f"--trust-namespace={CERT_MANAGER_NAMESPACE}",
            "--webhook-host=127.0.0.1", f"--webhook-port={_free_port()}", f"--webhook-certificate-dir={webhook}"]


def _readyz_port(directory: Path) -> int:
    return int((directory / "trust-manager.readyz").read_text())


def _answers_readyz(directory: Path, _: Client) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{_readyz_port(directory)}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _holds_lease(directory: Path, client: Client) -> bool:
    """The Lease renewed since this process started (a Lease outlives its holder; its pid file was written then)."""
    lease = kube.fetched(client, "coordination.k8s.io/v1", "Lease", "cert-manager-controller", LEASE_NAMESPACE)
    if lease is None:
        return False
    renewed = datetime.datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00")).timestamp()
    return renewed >= (directory / "cert-manager.pid").stat().st_mtime - 1


def _wrote_prometheus_config(_: Path, client: Client) -> bool:
    return kube.exists(client, "v1", "Secret", f"prometheus-{PROMETHEUS}", Monitoring().namespace)


CONTROLLERS = (
    Controller("cert-manager", ".", "github.com/cert-manager/cert-manager", CHARTS["cert-manager"].version,
               _cert_manager_flags, "took the leader's Lease", _holds_lease),
    Controller("trust-manager", "github.com/cert-manager/trust-manager/cmd/trust-manager",
               "github.com/cert-manager/trust-manager", CHARTS["trust-manager"].version, _trust_manager_flags,
               "answered /readyz", _answers_readyz),
    Controller("prometheus-operator", "github.com/prometheus-operator/prometheus-operator/cmd/operator",
               "github.com/prometheus-operator/prometheus-operator", PROMETHEUS_OPERATOR_REHEARSAL_VERSION,
               _prometheus_operator_flags, f"wrote the configuration of Prometheus {PROMETHEUS}",
               _wrote_prometheus_config),
)


def start(state: Path, kubeconfig: Path, client: Client) -> list[str]:
    """The controllers running (started when not yet) and each doing its work: their names and versions."""
    directory = state / "controllers"
    directory.mkdir(parents=True, exist_ok=True)
    binaries = {c.name: engines.binary(c.name, c.package) for c in CONTROLLERS}   # built first: starts stay short
    for controller in CONTROLLERS:
        if processes.alive(directory / f"{controller.name}.pid") is None:
            argv = [str(binaries[controller.name]), *controller.flags(directory, kubeconfig)]
            processes.launch(directory, controller.name, argv)
    # the Prometheus pod's ServiceAccount first: its StatefulSet's pod is refused without it
    kube.wait(f"ServiceAccount default in {Monitoring().namespace}",
              lambda: kube.exists(client, "v1", "ServiceAccount", "default", Monitoring().namespace))
    kube.apply(client, prometheus(Monitoring()))
    for issuer in stand_in_issuers():
        kube.apply(client, issuer)
    for controller in CONTROLLERS:
        processes.await_ready(directory, controller.name, controller.started,
                              functools.partial(controller.ready, directory, client), READY_TIMEOUT)
    return [f"{c.name} {c.version}" for c in CONTROLLERS]


def stop(state: Path) -> list[str]:
    """Every controller of this cluster ended; their names."""
    return processes.stop_all(state / "controllers")


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


def stand_in_issuers(stacks: list[str] | None = None) -> list[dict[str, Any]]:
    """A self-signed ClusterIssuer for each cluster issuer a stack of this repository names for its edge (the
    cluster's ACME issuer, which the stack does not own and which cannot reach an ACME server here)."""
    names = {_edge_issuer(stack) for stack in stacks or _repository_stacks()}
    return [{"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
             "metadata": {"name": name, "labels": {STAND_IN: "true"}, "annotations": {
                 STAND_IN: "the cluster's ClusterIssuer named by edge.tlsClusterIssuer, self-signed here: ACME "
                           "needs the internet"}},
             "spec": {"selfSigned": {}}} for name in sorted(n for n in names if n)]


def _edge_issuer(stack: str) -> str | None:
    try:
        return load_stack_config(read_stack_values(stack), stack).edge.tls_cluster_issuer
    except ConfigErrors:   # a stack file that does not load is `make preview`'s to report, not the cluster's
        return None


def _repository_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in REPO.glob("Pulumi.*.yaml"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _webhook_certificate(directory: Path) -> Path:
    """tls.crt and tls.key for 127.0.0.1 (a day's validity, made again at each start), as the chart's
    Certificate would put them in the webhook's volume."""
    directory.mkdir(exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trust-manager")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    (directory / "tls.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "tls.key"
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return directory
