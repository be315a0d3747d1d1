"""The pods the operators make from the platform's custom resources, as the operators make them at their pinned
versions: labels, ports and security contexts. The flow check (ops/flows.py) evaluates NetworkPolicies against
them, the admission check (ops/admission.py) puts them through the Pod Security Standards, and a policy checks
the settings they depend on. Sources: Strimzi 1.2.0, CloudNativePG 1.30.0, Flink Kubernetes Operator 1.15.0,
NACK chart 0.34.0, cert-manager v1.20.2, Rook v1.20.6, cass-operator v1.30.3 (paths cited per function).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openfoundry_policies.cassandra import K8SSANDRA, cassandra_pod_specs
from openfoundry_policies.connect import CONNECT, connect_labels, connect_pod_spec
from openfoundry_policies.flink import FLINK_DEPLOYMENT, flink_pod, flink_pod_template
from openfoundry_policies.resources import Resource

KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
PG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
POOLER = "kubernetes:postgresql.cnpg.io/v1:Pooler"
OBJECT_STORE = "kubernetes:ceph.rook.io/v1:CephObjectStore"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
CLUSTER_ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
RESTRICTED_PROVIDER = "restricted"
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}


@dataclass(frozen=True)
class Pod:
    """A pod the platform runs: its identity for a report, where it runs, its labels, ports and spec."""

    name: str                               # e.g. "Kafka openfoundry-ingestion/openfoundry: pool brokers"
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int] = field(default_factory=dict)    # named container ports
    spec: Mapping[str, Any] = field(default_factory=dict)     # the PodSpec (camelCase)
    made_by: str = "the program"


@dataclass(frozen=True)
class OperatorSettings:
    """What the operators are installed with that shapes their pods (chart values; docs/operators.md for external)."""

    strimzi_pod_security: str = "baseline"        # STRIMZI_POD_SECURITY_PROVIDER_CLASS
    strimzi_namespace: str = "strimzi"
    nack_namespace: str = "openfoundry-control"
    nack_pod_security: Mapping[str, Any] = field(default_factory=dict)        # the chart's securityContext
    nack_container_security: Mapping[str, Any] = field(default_factory=dict)  # its containerSecurityContext

    @classmethod
    def from_chart_values(cls, values: Mapping[str, Mapping[str, Any]], nack_namespace: str) -> OperatorSettings:
        env = {e["name"]: e["value"] for e in (values.get("strimzi") or {}).get("extraEnvs") or []}
        provider = str(env.get("STRIMZI_POD_SECURITY_PROVIDER_CLASS", "baseline")).rsplit(".", 1)[-1].lower()
        nack = values.get("nack") or {}
        return cls(strimzi_pod_security="restricted" if provider.startswith("restricted") else "baseline",
                   nack_namespace=nack_namespace, nack_pod_security=nack.get("securityContext") or {},
                   nack_container_security=nack.get("containerSecurityContext") or {})


def _ident(resource: Resource) -> tuple[str, str]:
    """A resource's name and namespace."""
    return str(resource.metadata.get("name", "")), str(resource.metadata.get("namespace", ""))


def _restricted_container() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "seccompProfile": dict(RUNTIME_DEFAULT),
            "capabilities": {"drop": ["ALL"]}}


# --- Strimzi ---------------------------------------------------------------------------------------------

def strimzi_container_security(settings: OperatorSettings, template: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A user's template securityContext replaces the provider's whole (strimzi ContainerSecurityProviderContextImpl);
    else the Restricted provider sets four fields and the Baseline provider none (RestrictedPodSecurityProvider)."""
    if template:
        return dict(template)
    return _restricted_container() if settings.strimzi_pod_security == RESTRICTED_PROVIDER else None


def _container(name: str, ports: Mapping[str, int], security: Mapping[str, Any] | None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": f"strimzi/{name}",
                                 "ports": [{"name": n, "containerPort": p} for n, p in ports.items()]}
    if security is not None:
        container["securityContext"] = dict(security)
    return container


def strimzi_pods(kafka: Resource, pools: list[Resource], settings: OperatorSettings) -> Iterator[Pod]:
    """Node-pool pods, the Entity Operator and the Kafka Exporter (strimzi KafkaPool, KafkaCluster, EntityOperator,
    KafkaExporter, Labels): labels, the ports they open, and their security contexts."""
    cluster, namespace = _ident(kafka)
    spec = kafka.spec.get("kafka") or {}
    template = spec.get("template") or {}
    listeners = {f"tcp-{listener['name']}": listener["port"] for listener in spec.get("listeners") or []}
    common = {"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka", "app.kubernetes.io/instance": cluster,
              "app.kubernetes.io/part-of": f"strimzi-{cluster}", "app.kubernetes.io/managed-by": "strimzi-cluster-operator"}
    for pool in (p for p in pools if (p.metadata.get("labels") or {}).get("strimzi.io/cluster") == cluster):
        roles = pool.spec.get("roles") or []
        pool_template = pool.spec.get("template") or {}
        pod_template = {**(template.get("pod") or {}), **(pool_template.get("pod") or {})}
        ports = {"tcp-ctrlplane": 9090, "tcp-replication": 9091, "tcp-kafkaagent": 8443,
                 **(listeners if "broker" in roles else {}), **({"tcp-prometheus": 9404} if spec.get("metricsConfig") else {})}
        kafka_security = strimzi_container_security(settings, (pool_template.get("kafkaContainer") or template.get(
            "kafkaContainer") or {}).get("securityContext"))
        containers = [_container("kafka", ports, kafka_security)]
        init = []
        if "broker" in roles and (spec.get("rack") or {}).get("topologyKey"):
            init = [_container("kafka-init", {}, strimzi_container_security(settings, (pool_template.get(
                "initContainer") or template.get("initContainer") or {}).get("securityContext")))]
        persistent = "persistent-claim" in str(pool.spec.get("storage"))
        pod_security = pod_template.get("securityContext") or ({"fsGroup": 0} if persistent else None)
        labels = {**common, "strimzi.io/name": f"{cluster}-kafka", "strimzi.io/component-type": "kafka",
                  "strimzi.io/pool-name": _ident(pool)[0], "app.kubernetes.io/name": "kafka",
                  "strimzi.io/broker-role": str("broker" in roles).lower(),
                  "strimzi.io/controller-role": str("controller" in roles).lower()}
        yield Pod(f"Kafka {namespace}/{cluster}: pool {_ident(pool)[0]}", namespace, labels, ports,
                  {"containers": containers, "initContainers": init,
                   **({"securityContext": pod_security} if pod_security else {})}, "Strimzi")
    if "entityOperator" in kafka.spec:
        ports = {"healthcheck-to": 8080, "healthcheck-uo": 8081}
        security = strimzi_container_security(settings, None)
        yield Pod(f"Kafka {namespace}/{cluster}: entity operator", namespace,
                  {**common, "strimzi.io/name": f"{cluster}-entity-operator",
                   "strimzi.io/component-type": "entity-operator", "app.kubernetes.io/name": "entity-operator"},
                  ports, {"containers": [_container("topic-operator", {"healthcheck-to": 8080}, security),
                                         _container("user-operator", {"healthcheck-uo": 8081}, security)]}, "Strimzi")
    if "kafkaExporter" in kafka.spec:
        yield Pod(f"Kafka {namespace}/{cluster}: kafka exporter", namespace,
                  {**common, "strimzi.io/name": f"{cluster}-kafka-exporter",
                   "strimzi.io/component-type": "kafka-exporter", "app.kubernetes.io/name": "kafka-exporter"},
                  {"tcp-prometheus": 9404}, {"containers": [_container("kafka-exporter", {"tcp-prometheus": 9404},
                                                                       strimzi_container_security(settings, None))]},
                  "Strimzi")


def strimzi_network_policies(kafka: Resource, settings: OperatorSettings) -> Iterator[dict[str, Any]]:
    """The NetworkPolicies the Cluster Operator writes for a Kafka cluster (Ingress only; empty peers admit everyone;
    its own peer is `strimzi.io/kind: cluster-operator` in the namespaces STRIMZI_OPERATOR_NAMESPACE_LABELS names).
    Sources: strimzi 1.2.0 NetworkPolicyUtils, KafkaCluster.generateNetworkPolicy, EntityOperator, KafkaExporter."""
    cluster, namespace = _ident(kafka)
    spec = kafka.spec.get("kafka") or {}
    operator = {"podSelector": {"matchLabels": {"strimzi.io/kind": "cluster-operator"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.strimzi_namespace}}}

    def of(name: str) -> dict[str, Any]:
        return {"podSelector": {"matchLabels": {"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka",
                                                "strimzi.io/name": name}}}

    def rule(port: int, peers: list[dict[str, Any]] | None) -> dict[str, Any]:
        return {"ports": [{"port": port, "protocol": "TCP"}], **({"from": peers} if peers else {})}

    kafka_pods = of(f"{cluster}-kafka")
    rules = [rule(9090, [kafka_pods, operator]),
             rule(9091, [operator, kafka_pods, of(f"{cluster}-entity-operator"), of(f"{cluster}-kafka-exporter"),
                         of(f"{cluster}-cruise-control")]),
             rule(8443, [operator])]
    rules += [rule(listener["port"], listener.get("networkPolicyPeers") or None) for listener in spec.get("listeners") or []]
    if spec.get("metricsConfig"):
        rules.append(rule(9404, None))

    def policy(name: str, selected: str, ingress: list[dict[str, Any]]) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"podSelector": of(selected)["podSelector"], "ingress": ingress}}

    yield policy(f"{cluster}-network-policy-kafka", f"{cluster}-kafka", rules)
    if "entityOperator" in kafka.spec:
        yield policy(f"{cluster}-entity-operator", f"{cluster}-entity-operator", [rule(8080, None), rule(8081, None)])
    if "kafkaExporter" in kafka.spec:
        yield policy(f"{cluster}-kafka-exporter", f"{cluster}-kafka-exporter", [rule(9404, None)])


# --- CloudNativePG ----------------------------------------------------------------------------------------

CNPG_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                  "readOnlyRootFilesystem": True, "runAsNonRoot": True, "seccompProfile": dict(RUNTIME_DEFAULT)}


def cnpg_pods(cluster: Resource, poolers: list[Resource]) -> Iterator[Pod]:
    """Instances (a primary and replicas), the initdb Job and the poolers (cnpg 1.30.0 pkg/specs/pods.go, jobs.go,
    pgbouncer/deployments.go; containers.go GetSecurityContext; ports: postgresql 5432, metrics 9187, status 8000)."""
    name, namespace = _ident(cluster)
    inherited = (cluster.spec.get("inheritedMetadata") or {}).get("labels") or {}
    instances = int(cluster.spec.get("instances") or 1)
    pod_security = {"runAsNonRoot": True, "runAsUser": 26, "runAsGroup": 26, "fsGroup": 26,
                    "seccompProfile": dict(RUNTIME_DEFAULT)}
    ports = {"postgresql": 5432, "metrics": 9187, "status": 8000}
    base = {**inherited, "cnpg.io/cluster": name, "app.kubernetes.io/name": "postgresql",
            "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "database",
            "app.kubernetes.io/managed-by": "cloudnative-pg"}

    def spec(main: str) -> dict[str, Any]:
        return {"securityContext": pod_security,
                "initContainers": [{"name": "bootstrap-controller", "securityContext": CNPG_CONTAINER}],
                "containers": [{"name": main, "securityContext": CNPG_CONTAINER,
                                "ports": [{"name": n, "containerPort": p} for n, p in ports.items()]}]}

    for index in range(1, instances + 1):
        role = "primary" if index == 1 else "replica"
        labels = {**base, "cnpg.io/instanceName": f"{name}-{index}", "cnpg.io/podRole": "instance",
                  "cnpg.io/instanceRole": role, "role": role}
        yield Pod(f"Cluster {namespace}/{name}: instance {index} ({role})", namespace, labels, ports, spec("postgres"),
                  "CloudNativePG")
    yield Pod(f"Cluster {namespace}/{name}: initdb job", namespace,
              {**base, "cnpg.io/instanceName": f"{name}-1", "cnpg.io/jobRole": "initdb"}, {}, spec("initdb"),
              "CloudNativePG")
    for pooler in (p for p in poolers if (p.spec.get("cluster") or {}).get("name") == name):
        pooler_name, _ = _ident(pooler)
        pooler_ports = {"pgbouncer": 5432, "metrics": 9127}
        yield Pod(f"Pooler {namespace}/{pooler_name}", namespace,
                  {"cnpg.io/poolerName": pooler_name, "cnpg.io/cluster": name, "cnpg.io/podRole": "pooler",
                   "app.kubernetes.io/component": "pooler"}, pooler_ports,
                  {"securityContext": {"runAsNonRoot": True, "runAsUser": 998, "runAsGroup": 996, "fsGroup": 996,
                                       "seccompProfile": dict(RUNTIME_DEFAULT)},
                   "initContainers": [{"name": "bootstrap-controller", "securityContext": CNPG_CONTAINER}],
                   "containers": [{"name": "pgbouncer", "securityContext": CNPG_CONTAINER,
                                   "ports": [{"name": n, "containerPort": p} for n, p in pooler_ports.items()]}]},
                  "CloudNativePG")


# --- Rook, Flink, NACK, cert-manager -----------------------------------------------------------------------

def rgw_pods(store: Resource) -> Iterator[Pod]:
    """An object store's gateways: port 8080 behind the rook-ceph-rgw-<store> Service (rook pkg/operator/ceph/
    object/config.go; CephDaemonAppLabels). Rook's daemons run privileged in Rook's own namespace."""
    name, _ = _ident(store)
    yield Pod(f"CephObjectStore rook-ceph/{name}: gateway", "rook-ceph", {"app": "rook-ceph-rgw", "rgw": name},
              {"http": 8080}, {"containers": [{"name": "rgw", "securityContext": {"privileged": True}}]}, "Rook")


def flink_pods(deployment: Resource) -> Iterator[Pod]:
    """The JobManager and TaskManagers of a FlinkDeployment, each from its merged pod template, into which the
    operator writes only the image and resources, its labels merged under Flink's own (flink-kubernetes
    InitJobManagerDecorator, "Merge fields": addToLabels; labels: KubernetesUtils, Constants)."""
    name, namespace = _ident(deployment)
    flink_ports = {"jobManager": {"rest": 8081, "jobmanager-rpc": 6123, "blobserver": 6124},
                   "taskManager": {"taskmanager-rpc": 6122}}
    for role, ports in flink_ports.items():
        spec = flink_pod(deployment.spec, role)
        template_ports = {p.get("name"): p.get("containerPort") for c in spec.get("containers") or []
                          for p in c.get("ports") or [] if p.get("name")}
        labels = (flink_pod_template(deployment.spec, role).get("metadata") or {}).get("labels") or {}
        component = role.lower()
        yield Pod(f"FlinkDeployment {namespace}/{name}: {component}", namespace,
                  {**labels, "app": name, "type": "flink-native-kubernetes", "component": component},
                  {**template_ports, **ports}, spec, "Flink")


def nack_pod(settings: OperatorSettings) -> Pod:
    """NACK's controller as its chart makes it (nack-0.34.0 deployment-jetstream-controller.yml: the pod and
    container security contexts are the values', empty by default; legacy label `app: <release>`)."""
    container: dict[str, Any] = {"name": "jsc"}
    if settings.nack_container_security:
        container["securityContext"] = dict(settings.nack_container_security)
    spec: dict[str, Any] = {"containers": [container]}
    if settings.nack_pod_security:
        spec["securityContext"] = dict(settings.nack_pod_security)
    return Pod(f"NACK {settings.nack_namespace}/nack", settings.nack_namespace, {"app": "nack"}, {"health": 8081}, spec,
               "NACK")


def acme_solver_pods(certificate: Resource, local_issuers: set[str]) -> Iterator[Pod]:
    """The HTTP-01 solver of a certificate from a ClusterIssuer the stack does not define (the edge's ACME issuer),
    in the certificate's namespace (cert-manager v1.20.2 pkg/issuer/acme/http/pod.go: restricted by default)."""
    issuer = certificate.spec.get("issuerRef") or {}
    if issuer.get("kind") != "ClusterIssuer" or issuer.get("name") in local_issuers:
        return
    name, namespace = _ident(certificate)
    yield Pod(f"Certificate {namespace}/{name}: HTTP-01 solver", namespace,
              {"acme.cert-manager.io/http01-solver": "true"}, {"http": 8089},
              {"automountServiceAccountToken": False,
               "securityContext": {"runAsNonRoot": True, "seccompProfile": dict(RUNTIME_DEFAULT)},
               "containers": [{"name": "acmesolver", "ports": [{"name": "http", "containerPort": 8089}],
                               "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                                   "capabilities": {"drop": ["ALL"]}}}]}, "cert-manager")


def operand_pods(resources: list[Resource], settings: OperatorSettings) -> Iterator[Pod]:
    """Every pod an operator makes from the stack's custom resources."""
    by_type: dict[str, list[Resource]] = {}
    for resource in resources:
        by_type.setdefault(resource.type, []).append(resource)
    for kafka in by_type.get(KAFKA, []):
        yield from strimzi_pods(kafka, by_type.get(NODE_POOL, []), settings)
    for connect in by_type.get(CONNECT, []):
        ports, spec = connect_pod_spec(connect, lambda template: strimzi_container_security(settings, template))
        yield Pod(f"KafkaConnect {_ident(connect)[1]}/{_ident(connect)[0]}: workers", _ident(connect)[1],
                  connect_labels(connect), ports, spec, "Strimzi")
    for cluster in by_type.get(PG_CLUSTER, []):
        yield from cnpg_pods(cluster, by_type.get(POOLER, []))
    for store in by_type.get(OBJECT_STORE, []):
        yield from rgw_pods(store)
    for deployment in by_type.get(FLINK_DEPLOYMENT, []):
        yield from flink_pods(deployment)
    local_issuers = {_ident(r)[0] for r in by_type.get(CLUSTER_ISSUER, [])}
    for certificate in by_type.get(CERTIFICATE, []):
        yield from acme_solver_pods(certificate, local_issuers)
    for cluster in by_type.get(K8SSANDRA, []):
        for name, namespace, labels, ports, spec in cassandra_pod_specs(cluster):
            yield Pod(name, namespace, labels, ports, spec, "cass-operator")
    if any(r.type.startswith("kubernetes:jetstream.nats.io/") for r in resources):
        yield nack_pod(settings)
