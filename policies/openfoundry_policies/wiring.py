"""Wiring: the checks kube-linter runs by default that look at how objects refer to each other (dangling-service,
mismatching-selector, non-existent-service-account, duplicate-env-var, dangling-service target ports,
pdb-max-unavailable/pdb-min-available), and the settings that make each operator's pods pass the Pod Security level
of their namespace.

A Secret counts as existing when the stack creates it, when an operator makes it from one of the stack's custom
resources (CNPG's `<cluster>-app` and `-ca`, Rook's claim and object-user Secrets, cert-manager's certificate
Secrets), or when the workload declares it external with the reason (`policy.openfoundry.dev/external-secrets`:
Secrets another team provisions).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard

from openfoundry_policies.resources import LONG_RUNNING, Resource, pod_labels, pod_spec, pods, selects

EXTERNAL_SECRETS = "policy.openfoundry.dev/external-secrets"
SERVICE = "kubernetes:core/v1:Service"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
ENFORCE = "pod-security.kubernetes.io/enforce"


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]


def no_duplicate_env_vars(r: Resource) -> Iterator[str]:
    for where, pod in pods(r):
        for container in _containers(pod):
            names = [str(e.get("name")) for e in container.get("env") or []]
            for name in sorted({n for n in names if names.count(n) > 1}):
                yield f"{where}: container {container.get('name')} sets {name} twice (the last one wins silently)"


def selector_matches_template(r: Resource) -> Iterator[str]:
    if r.type not in LONG_RUNNING:
        return
    selector = r.spec.get("selector") or {}
    if not selects(selector, pod_labels(r)):
        yield f"{r.label}: its selector {selector.get('matchLabels')} does not match its pod template's labels"


def _templates(resources: list[Resource]) -> list[tuple[Resource, Mapping[str, Any], Mapping[str, Any]]]:
    return [(r, pod_labels(r), pod_spec(r) or {}) for r in resources if pod_spec(r) is not None]


def services_select_a_workload(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """A Service selects some pod template of its namespace, and each target port names a port of those pods."""
    templates = _templates(resources)
    for service in (r for r in resources if r.type == SERVICE and (r.spec.get("selector") or {})):
        namespace = service.metadata.get("namespace")
        selected = [(w, spec) for w, labels, spec in templates if w.metadata.get("namespace") == namespace
                    and selects({"matchLabels": service.spec["selector"]}, labels)]
        if not selected:
            yield service, f"{service.label} selects no pod template of the stack ({service.spec['selector']})"
            continue
        names = {p.get("name") for _, spec in selected for c in _containers(spec) for p in c.get("ports") or []}
        for port in service.spec.get("ports") or []:
            target = port.get("targetPort")
            if isinstance(target, str) and target not in names:
                yield service, f"{service.label}: port {port.get('name')} targets {target}, which no selected pod names"


def _made_by_operators(resources: list[Resource]) -> set[tuple[str, str]]:
    """(namespace, name) of the Secrets operators make from the stack's custom resources."""
    made = set()
    for r in resources:
        namespace, name = str(r.metadata.get("namespace", "")), str(r.metadata.get("name", ""))
        if r.kind == "Cluster" and r.type.startswith("kubernetes:postgresql.cnpg.io/"):
            made |= {(namespace, f"{name}-app"), (namespace, f"{name}-ca")}       # cnpg pkg/specs/secrets.go
        elif r.kind == "ObjectBucketClaim":
            made.add((namespace, name))                                            # lib-bucket-provisioner
        elif r.kind == "CephObjectStoreUser":
            made.add((namespace, f"rook-ceph-object-user-{r.spec.get('store')}-{name}"))
        elif r.kind == "Certificate" and r.spec.get("secretName"):
            made.add((namespace, str(r.spec["secretName"])))
    return made


def _secret_references(pod: Mapping[str, Any]) -> Iterator[str]:
    for container in _containers(pod):
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") and not ref.get("optional"):
                yield str(ref["name"])
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name"):
                yield str(source["secretRef"]["name"])
    for volume in pod.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName"):
            yield str(volume["secret"]["secretName"])


def referenced_accounts_and_secrets_exist(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    created = {(r.kind, str(r.metadata.get("namespace", "")), str(r.metadata.get("name", ""))) for r in resources}
    secrets = {(ns, name) for kind, ns, name in created if kind == "Secret"} | _made_by_operators(resources)
    for workload, _, pod in _templates(resources):
        namespace = str(workload.metadata.get("namespace", ""))
        account = pod.get("serviceAccountName")
        if account and ("ServiceAccount", namespace, account) not in created and workload.kind != "FlinkDeployment":
            yield workload, f"{workload.label} runs as ServiceAccount {account}, which nothing creates"
        declared = {s.strip() for s in str((workload.metadata.get("annotations") or {}).get(EXTERNAL_SECRETS, "")
                                           ).split(",") if s.strip()}
        for secret in sorted(set(_secret_references(pod))):
            if (namespace, secret) not in secrets and secret not in declared:
                yield workload, f"{workload.label} reads Secret {secret}, which nothing creates (nor is it declared external)"


def _count(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def budgets_allow_an_eviction(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """A budget that can never be met blocks every drain (kube-linter pdb-max-unavailable, pdb-min-available)."""
    templates = _templates(resources)
    for budget in (r for r in resources if r.type == PDB):
        spec = budget.spec
        if spec.get("maxUnavailable") in (0, "0", "0%"):
            yield budget, f"{budget.label} allows no pod to be unavailable: no node can ever be drained"
            continue
        selected = [w for w, labels, _ in templates if w.metadata.get("namespace") == budget.metadata.get("namespace")
                    and selects(spec.get("selector") or {}, labels)]
        minimum = spec.get("minAvailable")
        for workload in selected:
            replicas = workload.spec.get("replicas")
            # a count, not a percentage; the engine hands every number over as a float
            if _count(minimum) and _count(replicas) and minimum >= replicas:
                yield budget, f"{budget.label} keeps {int(minimum)} of {workload.label}'s {int(replicas)} pods: none may go"


# --- the operators' pods and the Pod Security level of their namespace ------------------------------------------

def _restricted_container_settings(security: Mapping[str, Any]) -> list[str]:
    missing = []
    if security.get("allowPrivilegeEscalation") is not False:
        missing.append("allowPrivilegeEscalation: false")
    if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
        missing.append("capabilities.drop: [ALL]")
    return missing


def operators_make_admissible_pods(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """Each managed operator is configured to make pods its namespace's Pod Security level admits: Strimzi with its
    Restricted provider where the Kafka cluster's namespace is restricted (its default Baseline provider sets no
    container securityContext), NACK's chart with complete security contexts (its defaults are empty, its image
    runs as root), and a Kafka template that replaces the provider's settings only with restricted ones."""
    levels = {str(r.metadata.get("name")): str((r.metadata.get("labels") or {}).get(ENFORCE, "privileged"))
              for r in resources if r.kind == "Namespace"}
    charts = {r.name: r for r in resources if r.type == "kubernetes:helm.sh/v4:Chart"}
    kafka_namespaces = {str(r.metadata.get("namespace")) for r in resources if r.type.endswith("kafka.strimzi.io/v1:Kafka")}
    strimzi = charts.get("strimzi")
    if strimzi is not None and any(levels.get(ns) == "restricted" for ns in kafka_namespaces):
        env = {e.get("name"): e.get("value") for e in (strimzi.props.get("values") or {}).get("extraEnvs") or []}
        if "restricted" not in str(env.get("STRIMZI_POD_SECURITY_PROVIDER_CLASS", "")).lower():
            yield strimzi, ("Strimzi makes its pods with the Baseline provider, which a restricted namespace refuses: "
                            "set STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted in extraEnvs")
    nack = charts.get("nack")
    if nack is not None and levels.get(str(nack.props.get("namespace"))) == "restricted":
        values = nack.props.get("values") or {}
        pod = values.get("securityContext") or {}
        missing = _restricted_container_settings(values.get("containerSecurityContext") or {})
        if pod.get("runAsNonRoot") is not True or not pod.get("runAsUser"):
            missing.append("runAsNonRoot with a non-zero runAsUser (the image has no USER)")
        if (pod.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            missing.append("seccompProfile RuntimeDefault")
        if missing:
            yield nack, f"NACK's pod would be refused by its restricted namespace: it lacks {', '.join(missing)}"
    for kafka in (r for r in resources if r.type.endswith("kafka.strimzi.io/v1:Kafka")):
        if levels.get(str(kafka.metadata.get("namespace"))) != "restricted":
            continue
        template = (kafka.spec.get("kafka") or {}).get("template") or {}
        for part in ("kafkaContainer", "initContainer"):
            security = (template.get(part) or {}).get("securityContext")
            if security and _restricted_container_settings(security):
                yield kafka, (f"{kafka.label}: template.{part}.securityContext replaces Strimzi's restricted settings "
                              f"and lacks {', '.join(_restricted_container_settings(security))}")
