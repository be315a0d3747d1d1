"""Settings every plane reads: where the program deploys, the operators, images, failure domains, workload
sizing and monitoring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from foundry.config.base import ConfigProblem, Count, DnsLabel, FailureDomain, Quantity, Section, millicores, quantity_bytes


class KubernetesTarget(Section):
    mode: Literal["render", "cluster"]
    render_directory: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    # the rehearsal cluster `make cluster` runs here (ops/cluster.py): no operator runs in it and NACK's CRDs
    # cannot be installed, so NACK's kinds are left out and what only an operator or real storage completes is
    # not awaited (components/cluster/rehearsal.py says what and why)
    local: bool = False


class Operators(Section):
    install: Literal["managed", "external"]


class Images(Section):
    registry: Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$")]
    tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]

    def of(self, name: str) -> str:
        """An OpenFoundry image, named after the binary it holds: `<registry>/<binary>:<tag>`."""
        return f"{self.registry}/{name}:{self.tag}"


class Disks(Section):
    """The OSD devices of one device class on each node."""

    count: Annotated[int, Field(ge=0, le=99)]
    size: Quantity


class NodeSize(Section):
    """What each node offers: allocatable CPU, memory and pods, and its OSD devices by Ceph device class."""

    cpu: Quantity
    memory: Quantity
    pods: Annotated[int, Field(ge=1, le=1000)] = 110
    disks: dict[Literal["nvme", "ssd", "hdd"], Disks] = Field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    node: str
    zone: str
    rack: str


class Topology(Section):
    zones: Annotated[list[DnsLabel], Field(min_length=1)]
    racks: Count
    nodes: Count
    zone_label: str
    node: NodeSize

    def failure_domains(self, domain: FailureDomain) -> int:
        return {"host": self.nodes, "rack": self.racks, "zone": len(self.zones)}[domain]

    def layout(self) -> list[Place]:
        """Where each node stands: nodes dealt round the zones, racks dealt round the zones (a rack never spans two),
        and each zone's nodes dealt round its own racks."""
        racks_of = {zone: [f"rack-{r + 1}" for r in range(self.racks) if r % len(self.zones) == z]
                    for z, zone in enumerate(self.zones)}
        places, seen = [], {zone: 0 for zone in self.zones}
        for index in range(self.nodes):
            zone = self.zones[index % len(self.zones)]
            racks = racks_of[zone] or [f"rack-{zone}"]
            places.append(Place(f"node-{index + 1}-{zone}", zone, racks[seen[zone] % len(racks)]))
            seen[zone] += 1
        return places


class Workloads(Section):
    replicas: Count
    max_replicas: Count
    cpu_request: Quantity
    memory_request: Quantity
    cpu_limit: Quantity
    memory_limit: Quantity


class Monitoring(Section):
    """The cluster's Prometheus (the Prometheus Operator's): where it runs and how it picks up our objects."""

    # the labels it selects PodMonitors and PrometheusRules by (kube-prometheus-stack selects `release: <its
    # release>` unless told otherwise: podMonitorSelectorNilUsesHelmValues, ruleSelectorNilUsesHelmValues)
    selector_labels: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9./_-]+$")], DnsLabel] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"})
    # its namespace: the metrics ports admit scrapes from there
    namespace: DnsLabel = "monitoring"


def kubernetes_target_problems(target: KubernetesTarget) -> Iterable[ConfigProblem]:
    if target.mode == "render" and not target.render_directory:
        yield ConfigProblem("openfoundry:kubernetes.renderDirectory", "nothing",
                            "a directory when kubernetes.mode is 'render'")
    if target.mode == "cluster" and not target.context:
        yield ConfigProblem("openfoundry:kubernetes.context", "nothing",
                            "the kubeconfig context to deploy to when kubernetes.mode is 'cluster'")


def image_problems(images: Images) -> Iterable[ConfigProblem]:
    if images.tag.lower() == "latest":
        yield ConfigProblem("openfoundry:images.tag", "'latest'", "a pinned release tag, never 'latest'")


def workload_problems(workloads: Workloads, compute_workloads: Workloads | None, prod: bool) -> Iterable[ConfigProblem]:
    yield from sizing_problems("openfoundry:workloads", workloads, prod)
    if compute_workloads is not None:
        yield from sizing_problems("openfoundry:compute.workloads", compute_workloads, prod)


def sizing_problems(path: str, w: Workloads, prod: bool) -> Iterable[ConfigProblem]:
    if w.max_replicas < w.replicas:
        yield ConfigProblem(f"{path}.maxReplicas", str(w.max_replicas), f"at least replicas ({w.replicas})")
    if prod and w.replicas < 2:
        yield ConfigProblem(f"{path}.replicas", str(w.replicas),
                            "at least 2 in prod (a PodDisruptionBudget needs a spare replica)")
    if millicores(w.cpu_limit) < millicores(w.cpu_request):
        yield ConfigProblem(f"{path}.cpuLimit", repr(w.cpu_limit), f"at least cpuRequest ({w.cpu_request})")
    if quantity_bytes(w.memory_limit) < quantity_bytes(w.memory_request):
        yield ConfigProblem(f"{path}.memoryLimit", repr(w.memory_limit), f"at least memoryRequest ({w.memory_request})")
