"""Kubernetes hygiene: what kube-linter's default checks and Polaris cover, as plain checks."""

from __future__ import annotations

import re
from collections.abc import Iterator

from openfoundry_policies.resources import LONG_RUNNING, Resource, containers, pod_labels, pod_spec, pods, selects

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)
# a literal after password/secret/token; `$NAME` (a variable the process resolves from a Secret) is not one
SECRET_VALUE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(password|secret|token)[\"']?\s*[=:]\s*(?![\"']?\$)[\"']?[^\s\"',}]{6,})",
    re.IGNORECASE)
NAMESPACED_EXCEPTIONS = {"kubernetes:core/v1:Namespace", "kubernetes:storage.k8s.io/v1:StorageClass",
                         "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                         "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                         "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
                         "kubernetes:cert-manager.io/v1:ClusterIssuer", "kubernetes:trust.cert-manager.io/v1alpha1:Bundle"}
ALLOW_LOAD_BALANCER = "policy.openfoundry.dev/allow-load-balancer"


def _each_container(r: Resource, with_init: bool = True) -> Iterator[tuple[str, dict, dict]]:
    """Each container of each pod the resource makes, with the pod's name for a message."""
    for where, pod in pods(r):
        for container in containers(pod, with_init=with_init):
            yield where, dict(pod), dict(container)


def requests_and_limits(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            if not (resources.get(part) or {}).get("memory"):
                yield f"{where}: container {c.get('name')} sets no memory {part}"
        if not (resources.get("requests") or {}).get("cpu"):
            yield f"{where}: container {c.get('name')} sets no cpu request"


def readiness_probe(r: Resource) -> Iterator[str]:
    if r.type != "kubernetes:apps/v1:Deployment":
        return
    for where, _, c in _each_container(r, with_init=False):
        if not c.get("readinessProbe"):
            yield f"{where}: container {c.get('name')} has no readiness probe"


def liveness_probe(r: Resource) -> Iterator[str]:
    if r.type != "kubernetes:apps/v1:Deployment":
        return
    for where, _, c in _each_container(r, with_init=False):
        if not c.get("livenessProbe"):
            yield f"{where}: container {c.get('name')} has no liveness probe"


def _effective(pod: dict, container: dict, key: str) -> object:
    value = (container.get("securityContext") or {}).get(key)
    return (pod.get("securityContext") or {}).get(key) if value is None else value


def run_as_non_root(r: Resource) -> Iterator[str]:
    for where, pod, c in _each_container(r):
        if _effective(pod, c, "runAsNonRoot") is not True or _effective(pod, c, "runAsUser") == 0:
            yield f"{where}: container {c.get('name')} may run as root"


def read_only_root_filesystem(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            yield f"{where}: container {c.get('name')} has a writable root filesystem"


def no_privilege_escalation(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
            yield f"{where}: container {c.get('name')} may escalate privileges"


def drop_all_capabilities(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        capabilities = (c.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{where}: container {c.get('name')} keeps Linux capabilities (drop ALL)"
        if capabilities.get("add"):
            yield f"{where}: container {c.get('name')} adds capabilities {capabilities['add']}"


def no_privileged_containers(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        if (c.get("securityContext") or {}).get("privileged"):
            yield f"{where}: container {c.get('name')} is privileged"


def seccomp_runtime_default(r: Resource) -> Iterator[str]:
    for where, pod, c in _each_container(r):
        profile = ((c.get("securityContext") or {}).get("seccompProfile")
                   or (pod.get("securityContext") or {}).get("seccompProfile") or {})
        if profile.get("type") not in ("RuntimeDefault", "Localhost"):
            yield f"{where}: container {c.get('name')} runs without a seccomp profile"


def no_host_namespaces(r: Resource) -> Iterator[str]:
    for where, pod in pods(r):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key):
                yield f"{where} shares the node's {key[4:]} namespace"


def no_host_path_volumes(r: Resource) -> Iterator[str]:
    for where, pod in pods(r):
        for volume in pod.get("volumes") or []:
            if "hostPath" in volume:
                yield f"{where} mounts the node's {volume['hostPath'].get('path')}"


def pinned_image_tags(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        image = str(c.get("image", ""))
        name, _, tag = image.rpartition(":") if "@" not in image else (image, "", "digest")
        if not tag or "/" in tag or tag == "latest" or not name:
            yield f"{where}: container {c.get('name')} image {image!r} is not pinned to a tag or digest"


def no_automounted_service_account_token(r: Resource) -> Iterator[str]:
    pod = pod_spec(r)
    if pod is not None and r.type in LONG_RUNNING and pod.get("automountServiceAccountToken") is None:
        yield f"{r.label} mounts a Kubernetes API token by default (set automountServiceAccountToken)"


def _names_a_file(name: str, value: str) -> bool:
    """`*_FILE=/path`: where a secret is mounted (a projected token, a Secret volume), not the secret itself."""
    return name.endswith(("_FILE", "_PATH", "_LOCATION")) and value.startswith("/")


def no_secret_env_literals(r: Resource) -> Iterator[str]:
    for where, _, c in _each_container(r):
        for env in c.get("env") or []:
            name, value = str(env.get("name", "")), str(env.get("value") or "")
            if SECRET_NAME.search(name) and value and not _names_a_file(name, value):
                yield f"{where}: container {c.get('name')} sets {name} as a literal (use a Secret)"


def no_secrets_in_config_maps(r: Resource) -> Iterator[str]:
    if r.type != "kubernetes:core/v1:ConfigMap":
        return
    for key, value in (r.props.get("data") or {}).items():
        if SECRET_VALUE.search(str(value)) or (SECRET_NAME.search(key) and str(value).strip()):
            yield f"{r.label}: key {key} looks like a secret (ConfigMaps are not encrypted)"


def no_load_balancer_without_allow(r: Resource) -> Iterator[str]:
    if r.type == "kubernetes:core/v1:Service" and r.spec.get("type") == "LoadBalancer" \
            and ALLOW_LOAD_BALANCER not in (r.metadata.get("annotations") or {}):
        yield f"{r.label} is a LoadBalancer without the {ALLOW_LOAD_BALANCER} annotation"


def no_node_port_services(r: Resource) -> Iterator[str]:
    if r.type == "kubernetes:core/v1:Service" and r.spec.get("type") == "NodePort":
        yield f"{r.label} opens a port on every node (NodePort)"


def explicit_namespace(r: Resource) -> Iterator[str]:
    if not r.type.startswith("kubernetes:") or r.type in NAMESPACED_EXCEPTIONS or r.type.startswith("kubernetes:helm"):
        return
    if "metadata" not in r.props:
        return
    if r.metadata.get("namespace") in (None, "", "default"):
        yield f"{r.label} lands in the default namespace"


def rolling_updates_keep_the_spread(r: Resource) -> Iterator[str]:
    """A Deployment's hard spread counts its own ReplicaSet's pods only: a rolling update would otherwise count the
    old pods about to go, and the new set could end skewed (docs/reports.md)."""
    if r.type != "kubernetes:apps/v1:Deployment":
        return
    for rule in (pod_spec(r) or {}).get("topologySpreadConstraints") or []:
        if rule.get("whenUnsatisfiable") == "DoNotSchedule" and \
                "pod-template-hash" not in (rule.get("matchLabelKeys") or []):
            yield (f"{r.label} spreads hard over {rule.get('topologyKey')} counting every revision's pods: a rolling "
                   "update can leave it skewed (set matchLabelKeys: [pod-template-hash])")


# --- across resources ---------------------------------------------------------------------------------------

def _replicated(resources: list[Resource]) -> Iterator[tuple[Resource, int]]:
    """Each Deployment and StatefulSet with more than one replica, and how many (the engine's numbers are floats)."""
    for r in resources:
        if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            replicas = r.spec.get("replicas")   # unset is Kubernetes' 1
            if isinstance(replicas, int | float) and replicas > 1:
                yield r, int(replicas)


def disruption_budgets_for_replicated_workloads(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    budgets = [b for b in resources if b.type == "kubernetes:policy/v1:PodDisruptionBudget"]
    for r, replicas in _replicated(resources):
        namespace = r.metadata.get("namespace")
        if not any(b.metadata.get("namespace") == namespace and selects(b.spec.get("selector") or {}, pod_labels(r))
                   for b in budgets):
            yield r, f"{r.label} runs {replicas} replicas without a PodDisruptionBudget"


def spread_for_replicated_workloads(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    for r, replicas in _replicated(resources):
        pod = pod_spec(r) or {}
        anti = (pod.get("affinity") or {}).get("podAntiAffinity")
        if not pod.get("topologySpreadConstraints") and not anti:
            yield r, f"{r.label} runs {replicas} replicas with nothing spreading them over nodes"


def network_policy_per_namespace(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    covered = {p.metadata.get("namespace") for p in resources if p.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"}
    for namespace in (r for r in resources if r.type == "kubernetes:core/v1:Namespace"):
        if namespace.metadata.get("name") not in covered:
            yield namespace, f"{namespace.label} has no NetworkPolicy: every pod in it is open"
