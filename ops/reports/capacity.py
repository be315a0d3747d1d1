"""What a stack asks of its nodes and disks, read from its rendered manifests: CPU and memory of every pod
(ops/reports/pods.py), the storage it claims (raw after the pools' replication or erasure coding), and how that
compares with the nodes `topology.node` declares.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from foundry.config import ConfigProblem, StackConfig, Topology
from ops.reports.pods import Workload, operator_workloads, plane_of, program_workloads
from ops.reports.units import cores, human_bytes, size_bytes

NEARFULL = 0.85   # Ceph's mon_osd_nearfull_ratio default: past it the cluster warns, and rebalancing needs room
@dataclass(frozen=True)
class Claim:
    plane: str
    owner: str
    storage_class: str
    size: float          # bytes per copy the workload sees (None-size buckets are listed apart)
    count: int
    pool: str
    device_class: str
    raw_factor: float    # raw bytes per usable byte: replicated size, or (k+m)/k
    spread: str          # the pool's failure domain


@dataclass(frozen=True)
class Disks:
    count: int
    size: float          # bytes each


@dataclass(frozen=True)
class Nodes:
    """The nodes `topology.node` declares, in the units the report counts in: cores, bytes, pods, disks per Ceph
    device class, and how many nodes each zone holds (as `Topology.layout` places them)."""

    count: int = 0
    cpu: float = 0.0                 # cores each
    memory: float = 0.0              # bytes each
    pods: int = 0                    # each
    disks: dict[str, Disks] = field(default_factory=dict)   # each
    zones: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, topology: Topology) -> Nodes:
        node = topology.node
        return cls(count=topology.nodes, cpu=cores(node.cpu), memory=size_bytes(node.memory), pods=node.pods,
                   disks={c: Disks(d.count, size_bytes(d.size)) for c, d in node.disks.items()},
                   zones=dict(Counter(place.zone for place in topology.layout())))

    def offered(self, device_class: str) -> float:
        """Raw bytes one node's disks of that class offer (`any`: all of them)."""
        return float(sum(d.count * d.size for c, d in self.disks.items() if device_class in ("any", c)))


@dataclass
class Capacity:
    stack: str
    workloads: list[Workload] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    unbounded_buckets: list[str] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    nodes: Nodes = field(default_factory=Nodes)

    def steady(self) -> list[Workload]:
        return [w for w in self.workloads if not w.transient]

    def totals(self, plane: str | None = None, at_max: bool = False) -> dict[str, float]:
        chosen = [w for w in self.steady() if plane is None or w.plane == plane]
        count = (lambda w: w.max_replicas) if at_max else (lambda w: w.replicas)
        return {"pods": sum(count(w) for w in chosen),
                "cpu": sum(w.cpu * count(w) for w in chosen),
                "memory": sum(w.memory * count(w) for w in chosen),
                "cpu_limit": sum((w.cpu_limit or 0) * count(w) for w in chosen),
                "memory_limit": sum((w.memory_limit or 0) * count(w) for w in chosen),
                "no_cpu_limit": sum(1 for w in chosen if w.cpu_limit is None),
                "no_requests": sum(1 for w in chosen if not w.declared)}

    def after_losing(self, lost_nodes: int) -> dict[str, float]:
        """Requests and room once `lost_nodes` nodes are gone: every pod moves to the others except the OSDs,
        which stay with their disks (the lost nodes' OSDs are simply gone)."""
        nodes = self.nodes.count
        left = nodes - lost_nodes
        bound = [w for w in self.steady() if w.kind == "Ceph osd"]
        needs = {}
        for key in ("cpu", "memory"):
            bound_total = sum(getattr(w, key) * w.replicas for w in bound)
            needs[key] = self.totals()[key] - bound_total * lost_nodes / max(nodes, 1)
            needs[f"{key}_room"] = getattr(self.nodes, key) * left
        return needs

    def planes(self) -> list[str]:
        return sorted({w.plane for w in self.workloads} | {c.plane for c in self.claims})

    def storage(self) -> dict[str, dict[str, float]]:
        """Usable and raw bytes claimed per Ceph device class."""
        found: dict[str, dict[str, float]] = {}
        for claim in self.claims:
            entry = found.setdefault(claim.device_class, {"usable": 0.0, "raw": 0.0})
            entry["usable"] += claim.size * claim.count
            entry["raw"] += claim.size * claim.count * claim.raw_factor
        return found

    def per_zone(self) -> dict[str, dict[str, float]]:
        """Raw bytes each zone holds per device class: a pool whose failure domain is the zone puts one copy or
        chunk in each (an even share of its raw bytes); one by rack or host spreads by capacity, so by each zone's
        share of the nodes."""
        zones = self.nodes.zones
        nodes = sum(zones.values())
        found: dict[str, dict[str, float]] = {zone: {} for zone in zones}
        for claim in self.claims:
            raw = claim.size * claim.count * claim.raw_factor
            for zone, count in zones.items():
                share = 1 / len(zones) if claim.spread == "zone" else count / nodes
                found[zone][claim.device_class] = found[zone].get(claim.device_class, 0.0) + raw * share
        return found

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "nodes": asdict(self.nodes),
                "total": self.totals(), "total_at_autoscaler_ceiling": self.totals(at_max=True),
                "planes": {p: self.totals(p) for p in self.planes()},
                "workloads": [asdict(w) for w in self.workloads], "claims": [asdict(c) for c in self.claims],
                "storage": self.storage(), "storage_per_zone": self.per_zone(), "unbounded_buckets": self.unbounded_buckets,
                "problems": [{"path": p.path, "found": p.found, "allowed": p.allowed} for p in self.problems],
                "notes": self.notes}


# --- the storage ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pool:
    name: str
    device_class: str
    raw_factor: float
    failure_domain: str


def pools(documents: list[dict[str, Any]]) -> dict[str, Pool]:
    """Each StorageClass's pool: RBD classes name a CephBlockPool, bucket classes a CephObjectStore's data pool."""
    def protection(pool_spec: Mapping[str, Any], name: str) -> Pool:
        ec = pool_spec.get("erasureCoded")
        factor = ((ec["dataChunks"] + ec["codingChunks"]) / ec["dataChunks"]) if ec else \
            float((pool_spec.get("replicated") or {}).get("size", 3))
        return Pool(name, str(pool_spec.get("deviceClass", "any")), factor, str(pool_spec.get("failureDomain", "host")))

    block = {d["metadata"]["name"]: protection(d["spec"], d["spec"].get("name", d["metadata"]["name"]))
             for d in documents if d.get("kind") == "CephBlockPool"}
    stores = {d["metadata"]["name"]: protection(d["spec"]["dataPool"], f"{d['metadata']['name']} data")
              for d in documents if d.get("kind") == "CephObjectStore"}
    found = {}
    for document in (d for d in documents if d.get("kind") == "StorageClass"):
        parameters = document.get("parameters") or {}
        pool = block.get(parameters.get("pool", "")) or stores.get(parameters.get("objectStoreName", ""))
        if pool:
            found[document["metadata"]["name"]] = pool
    return found


def claims(documents: list[dict[str, Any]], capacity: Capacity) -> None:
    by_class = pools(documents)

    def claim(document: Mapping[str, Any], owner: str, storage_class: str | None, size: Any, count: int) -> None:
        pool = by_class.get(storage_class or "")
        if pool is None:
            capacity.notes.append(f"{owner}: storage class {storage_class!r} is none of the stack's Ceph pools; "
                                  "not counted")
            return
        capacity.claims.append(Claim(plane_of(document), owner, str(storage_class), size_bytes(size), count,
                                     pool.name, pool.device_class, pool.raw_factor, pool.failure_domain))

    for document in documents:
        kind, spec, name = document.get("kind"), document.get("spec") or {}, document["metadata"]["name"]
        if kind == "StatefulSet":
            for template in spec.get("volumeClaimTemplates") or []:
                claim(document, f"{name}/{template['metadata']['name']}", template["spec"].get("storageClassName"),
                      template["spec"]["resources"]["requests"]["storage"], spec.get("replicas", 1))
        elif kind == "PersistentVolumeClaim":
            claim(document, name, spec.get("storageClassName"), spec["resources"]["requests"]["storage"], 1)
        elif kind == "KafkaNodePool":
            for volume in (spec.get("storage") or {}).get("volumes") or [spec.get("storage") or {}]:
                if volume.get("size"):
                    claim(document, f"kafka {name}", volume.get("class"), volume["size"], spec["replicas"])
        elif kind == "Cluster" and str(document.get("apiVersion", "")).startswith("postgresql.cnpg.io"):
            for part in ("storage", "walStorage"):
                if (spec.get(part) or {}).get("size"):
                    claim(document, f"{name} {part}", spec[part].get("storageClass"), spec[part]["size"],
                          spec.get("instances", 1))
        elif kind == "K8ssandraCluster":
            cassandra = spec.get("cassandra") or {}
            for dc in cassandra.get("datacenters") or []:
                volume = ((dc.get("storageConfig") or cassandra.get("storageConfig") or {})
                          .get("cassandraDataVolumeClaimSpec") or {})
                if volume:
                    claim(document, f"cassandra {(dc.get('metadata') or {}).get('name')}", volume.get("storageClassName"),
                          volume["resources"]["requests"]["storage"], int(dc.get("size") or 1))
        elif kind == "ObjectBucketClaim":
            quota = (spec.get("additionalConfig") or {}).get("maxSize")
            if quota:
                claim(document, f"bucket {spec.get('bucketName', name)}", spec.get("storageClassName"), quota, 1)
            else:
                capacity.unbounded_buckets.append(spec.get("bucketName", name))


# --- the fit -------------------------------------------------------------------------------------------------

def fit(capacity: Capacity, config: StackConfig) -> None:
    """The stack's requests and claims against the nodes and disks `topology.node` declares."""
    node, nodes = config.topology.node, config.topology.nodes
    capacity.nodes = Nodes.of(config.topology)
    total = capacity.totals()
    largest = max(w.cpu for w in capacity.steady()) if capacity.steady() else 0.0
    for key, per_node, show in (("cpu", cores(node.cpu), lambda v: f"{math.ceil(v * 100) / 100:g} cores"),
                                ("memory", size_bytes(node.memory), human_bytes)):
        have = per_node * nodes
        if total[key] > have:
            capacity.problems.append(ConfigProblem(
                f"openfoundry:topology.node.{key}", f"{nodes} nodes of {show(per_node)} = {show(have)}",
                f"at least {show(total[key] / nodes)} per node: the stack requests {show(total[key])}"))
    if largest > cores(node.cpu):
        capacity.problems.append(ConfigProblem("openfoundry:topology.node.cpu", node.cpu,
                                               f"at least the largest pod's request ({largest:g} cores)"))
    if total["pods"] > node.pods * nodes:
        capacity.problems.append(ConfigProblem("openfoundry:topology.node.pods", str(node.pods),
                                               f"at least {math.ceil(total['pods'] / nodes)}: the stack runs "
                                               f"{total['pods']} pods on {nodes} nodes"))
    for device_class, need in capacity.storage().items():
        chosen = list(node.disks.values()) if device_class == "any" else \
            [d for c, d in node.disks.items() if c == device_class]
        disks = bool(chosen)
        have = sum(d.count * size_bytes(d.size) for d in chosen) * nodes
        if need["raw"] > have * NEARFULL:
            capacity.problems.append(ConfigProblem(
                f"openfoundry:topology.node.disks.{device_class}",
                f"{human_bytes(have)} raw over {nodes} nodes" if disks else "none",
                f"room for {human_bytes(need['raw'])} raw (the claims after replication and erasure coding) below "
                f"Ceph's nearfull ratio {NEARFULL:g}: at least {human_bytes(need['raw'] / NEARFULL / nodes)} per node"))


def capacity_of(stack: str, config: StackConfig, documents: list[dict[str, Any]]) -> Capacity:
    capacity = Capacity(stack)
    capacity.workloads = [*program_workloads(documents, config.topology.nodes),
                          *operator_workloads(documents, config)]
    claims(documents, capacity)
    fit(capacity, config)
    undeclared = sorted({f"{w.kind} {w.name}" for w in capacity.steady() if not w.declared})
    if undeclared:
        capacity.notes.append("no requests declared, so the scheduler reserves nothing for: " + ", ".join(undeclared))
    return capacity
