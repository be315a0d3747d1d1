"""What every pod of a stack asks for, read from its rendered manifests: the pods the program runs (Deployments,
StatefulSets, DaemonSets, Jobs, CronJobs, at their autoscaler's floor and ceiling) and the pods the operators make
from its custom resources (Kafka, Postgres, PgBouncer, Ceph, Flink), sized as their specs say."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from foundry.config import StackConfig
from ops.reports.units import cores, flink_bytes, size_bytes

CEPH_NAMESPACE = "rook-ceph"


@dataclass(frozen=True)
class Workload:
    plane: str
    kind: str           # Deployment, StatefulSet, Kafka brokers, Postgres instances, Ceph OSDs, ...
    name: str
    runs: str           # "program", or the operator that makes the pods
    replicas: int
    max_replicas: int   # with its autoscaler at its ceiling
    cpu: float          # requested cores per pod
    memory: float       # requested bytes per pod
    cpu_limit: float | None      # None: at least one container without a limit
    memory_limit: float | None
    transient: bool = False      # a Job's or CronJob's pod: runs, then frees what it asked for
    declared: bool = True        # False: no container states requests, the scheduler reserves nothing


def _container_sums(containers: list[Mapping[str, Any]]) -> tuple[float, float, float | None, float | None, bool]:
    cpu = memory = 0.0
    cpu_limit: float | None = 0.0
    memory_limit: float | None = 0.0
    declared = False
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        declared = declared or bool(requests)
        cpu += cores(requests.get("cpu", limits.get("cpu", 0)))
        memory += size_bytes(requests.get("memory", limits.get("memory", 0)))
        cpu_limit = None if cpu_limit is None or "cpu" not in limits else cpu_limit + cores(limits["cpu"])
        memory_limit = None if memory_limit is None or "memory" not in limits else memory_limit + size_bytes(limits["memory"])
    return cpu, memory, cpu_limit, memory_limit, declared


def plane_of(document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata") or {}
    plane = (metadata.get("labels") or {}).get("openfoundry.io/plane")
    if plane:
        return str(plane)
    namespace = str(metadata.get("namespace", ""))
    return "storage" if namespace == CEPH_NAMESPACE else namespace.removeprefix("openfoundry-")


def _pod_workload(document: Mapping[str, Any], template: Mapping[str, Any], replicas: int, max_replicas: int,
                  kind: str, runs: str = "program", transient: bool = False) -> Workload:
    spec = template.get("spec") or {}
    cpu, memory, cpu_limit, memory_limit, declared = _container_sums(spec.get("containers") or [])
    return Workload(plane_of(document), kind, document["metadata"]["name"], runs, replicas, max_replicas, cpu, memory,
                    cpu_limit, memory_limit, transient, declared)


def program_workloads(documents: list[dict[str, Any]], nodes: int) -> Iterator[Workload]:
    autoscaled = {(d["metadata"].get("namespace"), d["spec"]["scaleTargetRef"]["name"]): d["spec"]
                  for d in documents if d.get("kind") == "HorizontalPodAutoscaler"}
    for document in documents:
        kind, spec = document.get("kind"), document.get("spec") or {}
        if kind in ("Deployment", "StatefulSet"):
            hpa = autoscaled.get((document["metadata"].get("namespace"), document["metadata"]["name"]))
            low = hpa["minReplicas"] if hpa else spec.get("replicas", 1)
            yield _pod_workload(document, spec["template"], low, hpa["maxReplicas"] if hpa else low, kind)
        elif kind == "DaemonSet":
            yield _pod_workload(document, spec["template"], nodes, nodes, kind)
        elif kind == "Job":
            yield _pod_workload(document, spec["template"], 1, 1, kind, transient=True)
        elif kind == "CronJob":
            yield _pod_workload(document, spec["jobTemplate"]["spec"]["template"], 1, 1, kind, transient=True)


def _resources_pod(resources: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"spec": {"containers": [{"resources": resources or {}}]}}


def operator_workloads(documents: list[dict[str, Any]], config: StackConfig) -> Iterator[Workload]:
    """The pods the operators make from the program's custom resources, sized as their specs say."""
    for document in documents:
        kind, spec = document.get("kind"), document.get("spec") or {}
        if kind == "KafkaNodePool":
            role = "Kafka " + "+".join(spec.get("roles") or [])
            yield _pod_workload(document, _resources_pod(spec.get("resources")), spec["replicas"], spec["replicas"],
                                role, "strimzi")
        elif kind == "Kafka":
            operators = spec.get("entityOperator") or {}
            containers = [{"resources": (operators.get(part) or {}).get("resources") or {}}
                          for part in ("topicOperator", "userOperator") if part in operators]
            if containers:
                yield _pod_workload(document, {"spec": {"containers": containers}}, 1, 1, "Kafka entity operator",
                                    "strimzi")
            if "kafkaExporter" in spec:
                yield _pod_workload(document, _resources_pod(spec["kafkaExporter"].get("resources")), 1, 1,
                                    "Kafka exporter", "strimzi")
        elif kind == "KafkaConnect":
            yield _pod_workload(document, _resources_pod(spec.get("resources")), spec["replicas"], spec["replicas"],
                                "Kafka Connect workers", "strimzi")
        elif kind == "Cluster" and str(document.get("apiVersion", "")).startswith("postgresql.cnpg.io"):
            yield _pod_workload(document, _resources_pod(spec.get("resources")), spec.get("instances", 1),
                                spec.get("instances", 1), "Postgres instances", "cloudnative-pg")
        elif kind == "Pooler":
            template = spec.get("template") or _resources_pod(None)
            yield _pod_workload(document, template, spec.get("instances", 1), spec.get("instances", 1), "PgBouncer",
                                "cloudnative-pg")
        elif kind == "CephCluster":
            yield from _ceph_daemons(document, config)
        elif kind == "CephObjectStore":
            gateway = spec.get("gateway") or {}
            count = gateway.get("instances", 1)
            yield _pod_workload(document, _resources_pod(gateway.get("resources")), count, count, "Ceph RGW", "rook")
        elif kind == "FlinkDeployment":
            yield from _flink_pods(document)
        elif kind == "K8ssandraCluster":
            cassandra = spec.get("cassandra") or {}
            for dc in cassandra.get("datacenters") or []:
                size = int(dc.get("size") or 1)
                yield _pod_workload(document, _resources_pod(dc.get("resources") or cassandra.get("resources")),
                                    size, size, f"Cassandra {(dc.get('metadata') or {}).get('name')}", "cass-operator")


def _ceph_daemons(document: dict[str, Any], config: StackConfig) -> Iterator[Workload]:
    spec = document["spec"]
    resources = spec.get("resources") or {}
    osds = config.topology.nodes * sum(d.count for d in config.topology.node.disks.values())
    for daemon, count in (("mon", spec["mon"]["count"]), ("mgr", spec.get("mgr", {}).get("count", 1)), ("osd", osds)):
        yield _pod_workload(document, _resources_pod(resources.get(daemon)), count, count, f"Ceph {daemon}", "rook")


def _flink_pods(document: dict[str, Any]) -> Iterator[Workload]:
    spec = document["spec"]
    slots = int((spec.get("flinkConfiguration") or {}).get("taskmanager.numberOfTaskSlots", 1))
    parallelism = int((spec.get("job") or {}).get("parallelism", 1))
    for role, count in (("jobManager", (spec.get("jobManager") or {}).get("replicas", 1)),
                        ("taskManager", math.ceil(parallelism / slots))):
        resource = (spec.get(role) or {}).get("resource") or {}
        sizes = {"cpu": resource.get("cpu", 1), "memory": flink_bytes(resource.get("memory", "1728m"))}
        pod = _resources_pod({"requests": sizes, "limits": sizes})
        yield _pod_workload(document, pod, count, count, f"Flink {role}", "flink-kubernetes-operator")
