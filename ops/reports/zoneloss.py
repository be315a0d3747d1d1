"""Does each replicated or quorum system of a stack survive the loss of any one zone? Computed from the rendered
manifests and the failure domains the stack declares (`topology`, placed as `Topology.layout` places nodes and
racks), for the worst zone to lose.

Rules: a quorum (Ceph monitors, KRaft controllers, NATS, Vespa's config servers, Valkey's Sentinels) needs a
majority of its members left; a Ceph pool keeps serving I/O with at least `min_size` copies or chunks left (Ceph's
defaults: size - size/2 for replicated pools, k+1 for erasure-coded ones) and keeps its data with at least one copy
or k chunks; a Kafka partition accepts `acks=all` writes with at least `min.insync.replicas` replicas left; a
CloudNativePG cluster with required synchronous durability writes with a primary and `number` standbys left; a
Cassandra keyspace reads and writes at LOCAL_QUORUM with a majority of its replicas in the datacenter left
(NetworkTopologyStrategy puts a datacenter's replicas on distinct racks while there are racks enough); a
stateless Deployment serves with one pod left.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from foundry.config import StackConfig
from foundry.config.platform import Topology
from ops.engine.toolchain import REPO
from ops.reports.pods import plane_of

ACCEPTED = REPO / "data" / "zone-loss-accepted.yaml"


@dataclass(frozen=True)
class Verdict:
    system: str
    kind: str
    plane: str
    survives: bool
    reason: str
    accepted: str = ""    # why a system that does not survive is accepted (data/zone-loss-accepted.yaml)


@dataclass(frozen=True)
class Site:
    """The failure domains of a stack: how many nodes and racks the fullest zone holds."""

    zones: int
    nodes_per_zone: int
    racks_per_zone: int
    nodes: int
    zone_key: str

    @classmethod
    def of(cls, topology: Topology) -> Site:
        places = topology.layout()
        nodes = Counter(p.zone for p in places)
        racks = Counter(zone for zone, _ in {(p.zone, p.rack) for p in places})
        return cls(len(topology.zones), max(nodes.values()), max(racks.values()), len(places), topology.zone_label)

    def worst_members(self, members: int, spread: str) -> int:
        """Members of a set the worst zone can hold: `zone` (spread evenly over the zones, hard), `rack` or `host`
        (at most one per rack or node, zones not considered), or `none`."""
        if self.zones == 1:
            return members
        return {"zone": math.ceil(members / self.zones),
                "rack": min(members, self.racks_per_zone),
                "host": min(members, self.nodes_per_zone)}.get(spread, members)


def majority(members: int) -> int:
    return members // 2 + 1


def quorum(site: Site, name: str, kind: str, plane: str, members: int, spread: str, need: int | None = None) -> Verdict:
    lost = site.worst_members(members, spread)
    need = majority(members) if need is None else need
    left = members - lost
    return Verdict(name, kind, plane, left >= need,
                   f"{members} members spread by {spread}: the worst zone holds {lost}, {left} left, {need} needed")


def pod_spread(pod_spec: Mapping[str, Any] | None, zone_key: str) -> str:
    """How a pod template spreads its replicas: `zone` when a hard constraint keeps them even across zones,
    `host` when only nodes separate them, `none` otherwise."""
    spec = pod_spec or {}
    constraints = spec.get("topologySpreadConstraints") or []
    if any(c.get("topologyKey") == zone_key and c.get("whenUnsatisfiable") == "DoNotSchedule" for c in constraints):
        return "zone"
    anti = ((spec.get("affinity") or {}).get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    hard_host = any(c.get("topologyKey") == "kubernetes.io/hostname" and c.get("whenUnsatisfiable") == "DoNotSchedule"
                    for c in constraints)
    if any(term.get("topologyKey") == zone_key for term in anti or []):
        return "zone"
    return "host" if hard_host or any(t.get("topologyKey") == "kubernetes.io/hostname" for t in anti or []) else "none"


def pool_verdict(site: Site, name: str, spec: Mapping[str, Any]) -> Verdict:
    ec = spec.get("erasureCoded")
    domain = str(spec.get("failureDomain", "host"))
    if ec:
        k, m = ec["dataChunks"], ec["codingChunks"]
        width, min_size, keep, shape = k + m, k + 1, k, f"EC {k}+{m}"
    else:
        width = int((spec.get("replicated") or {}).get("size", 3))
        min_size, keep, shape = width - width // 2, 1, f"replicated size {width}"
    lost = site.worst_members(width, domain)
    left = width - lost
    if left >= min_size:
        return Verdict(name, "Ceph pool", "storage", True, f"{shape} over failure domain {domain}: the worst zone holds "
                       f"{lost} of {width}, {left} left >= min_size {min_size}")
    fate = "data kept, I/O stops until the zone returns" if left >= keep else "data lost if the zone does not return"
    return Verdict(name, "Ceph pool", "storage", False, f"{shape} over failure domain {domain}: the worst zone can hold "
                   f"{lost} of {width}, {left} left < min_size {min_size} ({fate})")


def ceph(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    for document in documents:
        kind, spec, name = document.get("kind"), document.get("spec") or {}, document["metadata"]["name"]
        if kind == "CephCluster":
            mon = spec["mon"]
            spread = "zone" if mon.get("failureDomainLabel") == site.zone_key else (
                "host" if not mon.get("allowMultiplePerNode") else "none")
            yield quorum(site, "Ceph monitors", "quorum", "storage", mon["count"], spread)
            mgr = spec.get("mgr") or {}
            mgr_spread = pod_spread((spec.get("placement") or {}).get("mgr"), site.zone_key)
            yield quorum(site, "Ceph managers", "active/standby", "storage", mgr.get("count", 1), mgr_spread, need=1)
        elif kind == "CephBlockPool":
            yield pool_verdict(site, f"pool {spec.get('name', name)}", spec)
        elif kind == "CephObjectStore":
            yield pool_verdict(site, f"pool {name} metadata", spec["metadataPool"])
            yield pool_verdict(site, f"pool {name} data", spec["dataPool"])
            gateway = spec.get("gateway") or {}
            yield quorum(site, f"RGW {name}", "stateless", "storage", gateway.get("instances", 1),
                         pod_spread(gateway.get("placement"), site.zone_key), need=1)


def kafka(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    pools = [d for d in documents if d.get("kind") == "KafkaNodePool"]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    broker_spread = next((pod_spread((p["spec"].get("template") or {}).get("pod"), site.zone_key)
                          for p in pools if "broker" in p["spec"]["roles"]), "none")
    for pool in pools:
        if "controller" in pool["spec"]["roles"]:
            spread = pod_spread((pool["spec"].get("template") or {}).get("pod"), site.zone_key)
            yield quorum(site, f"KRaft controllers ({pool['metadata']['name']})", "quorum", "ingestion",
                         pool["spec"]["replicas"], spread)
    cluster = next((d for d in documents if d.get("kind") == "Kafka"), None)
    if cluster is None:
        return
    rack_aware = ((cluster["spec"]["kafka"].get("rack") or {}).get("topologyKey")) == site.zone_key
    config = cluster["spec"]["kafka"].get("config") or {}
    for topic in (d for d in documents if d.get("kind") == "KafkaTopic"):
        replicas = int(topic["spec"].get("replicas", config.get("default.replication.factor", 1)))
        min_isr = int((topic["spec"].get("config") or {}).get("min.insync.replicas", config.get("min.insync.replicas", 1)))
        lost = site.worst_members(replicas, "zone") if rack_aware else \
            min(replicas, site.worst_members(brokers, broker_spread))
        left = replicas - lost
        placement = "rack-aware by zone" if rack_aware else "not rack-aware"
        yield Verdict(f"topic {topic['metadata']['name']}", "Kafka partitions", "ingestion", left >= min_isr,
                      f"replication {replicas}, {placement}: the worst zone holds {lost}, {left} in sync left, "
                      f"min.insync.replicas {min_isr}")


def postgres(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    for document in (d for d in documents if d.get("kind") == "Cluster" and "cnpg" in str(d.get("apiVersion"))):
        spec = document["spec"]
        instances = spec.get("instances", 1)
        synchronous = (spec.get("postgresql") or {}).get("synchronous") or {}
        required = synchronous.get("dataDurability", "required") == "required"
        standbys = synchronous.get("number", 0) if required else 0
        spread = pod_spread(spec, site.zone_key)
        if spread == "none" and (spec.get("affinity") or {}).get("podAntiAffinityType") == "required":
            spread = "host"
        verdict = quorum(site, document["metadata"]["name"], "Postgres primary + synchronous standbys", "relational",
                         instances, spread, need=1 + standbys)
        yield Verdict(verdict.system, verdict.kind, verdict.plane, verdict.survives,
                      verdict.reason + f" (a primary and {standbys} synchronous standby(s) to accept writes)")


CASSANDRA_REPLICATION = re.compile(r"CREATE KEYSPACE IF NOT EXISTS (\w+) WITH replication = \{[^}]*'(\w+)': (\d+)")


def cassandra(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    """Each keyspace the schema Job creates, in each datacenter of the K8ssandraCluster: its replicas over the
    datacenter's racks, each rack bound to a zone (or not, and then the worst zone may hold them all)."""
    schema = "".join(str((d.get("data") or {}).get("schema.cql", "")) for d in documents
                     if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "cassandra-schema")
    replication = [(keyspace, dc, int(rf)) for keyspace, dc, rf in CASSANDRA_REPLICATION.findall(schema)]
    for document in (d for d in documents if d.get("kind") == "K8ssandraCluster"):
        for dc in (document["spec"].get("cassandra") or {}).get("datacenters") or []:
            name, size = (dc.get("metadata") or {}).get("name"), int(dc.get("size") or 1)
            racks = dc.get("racks") or [{}]
            zones = [(rack.get("nodeAffinityLabels") or {}).get(site.zone_key) for rack in racks]
            bound = None not in zones and len(set(zones)) == len(zones)
            for keyspace, rf in ((k, rf) for k, d, rf in replication if d == name):
                lost = (math.ceil(rf / len(set(zones))) if bound and site.zones > 1 else min(rf, size))
                need = majority(rf)
                where = f"a rack per zone ({len(racks)})" if bound else "racks not bound to zones"
                yield Verdict(f"Cassandra keyspace {keyspace} ({name})", "LOCAL_QUORUM", "storage", rf - lost >= need,
                              f"replication {rf} on {size} nodes, {where}: the worst zone holds {lost}, "
                              f"{rf - lost} left, {need} needed")


def statefulsets(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    """NATS (JetStream's meta group and streams), Vespa's config servers and content nodes, Valkey's Sentinels."""
    streams = [d for d in documents if d.get("kind") == "Stream"]
    for document in (d for d in documents if d.get("kind") == "StatefulSet"):
        name, spec = document["metadata"]["name"], document["spec"]
        members, plane = spec.get("replicas", 1), plane_of(document)
        spread = pod_spread(spec["template"]["spec"], site.zone_key)
        if name == "nats":
            yield quorum(site, "NATS JetStream meta group", "quorum", plane, members, spread)
            for replicas in sorted({int(s["spec"].get("replicas", 1)) for s in streams}):
                lost = min(replicas, site.worst_members(members, spread))
                yield Verdict(f"JetStream streams of {replicas} replicas", "quorum", plane,
                              replicas - lost >= majority(replicas),
                              f"{replicas} replicas on distinct servers of {members} spread by {spread}: the worst "
                              f"zone holds {lost}, {majority(replicas)} needed")
        elif name == "valkey":
            env = {e["name"]: e.get("value") for c in spec["template"]["spec"]["containers"] for e in c.get("env") or []}
            need = max(int(env.get("QUORUM") or majority(members)), majority(members))
            yield quorum(site, "Valkey Sentinels", "quorum", plane, members, spread, need=need)
        elif name == "vespa-configserver":
            yield quorum(site, "Vespa config servers (ZooKeeper)", "quorum", plane, members, spread)
        else:
            yield quorum(site, name, "replicas", plane, members, spread, need=1)


def deployments(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    autoscaled = {(d["metadata"].get("namespace"), d["spec"]["scaleTargetRef"]["name"]): d["spec"]["minReplicas"]
                  for d in documents if d.get("kind") == "HorizontalPodAutoscaler"}
    for document in (d for d in documents if d.get("kind") == "Deployment"):
        metadata = document["metadata"]
        replicas = autoscaled.get((metadata.get("namespace"), metadata["name"]), document["spec"].get("replicas", 1))
        if replicas == 0:   # scaled to zero (a binary waiting for a store): nothing runs, nothing is lost
            continue
        spread = pod_spread(document["spec"]["template"]["spec"], site.zone_key)
        yield quorum(site, metadata["name"], "Deployment", plane_of(document), replicas, spread, need=1)


def kafka_connect(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    """A Connect cluster keeps relaying while one worker is left: the group moves the lost workers' connectors."""
    for document in (d for d in documents if d.get("kind") == "KafkaConnect"):
        spec = document.get("spec") or {}
        spread = pod_spread((spec.get("template") or {}).get("pod"), site.zone_key)
        yield quorum(site, f"Kafka Connect {document['metadata']['name']}", "workers", "ingestion", spec["replicas"],
                     spread, need=1)


def outbox_slots(site: Site, documents: list[dict[str, Any]]) -> Iterator[Verdict]:
    """An outbox relay's failover slot hands rows on only once every standby has the WAL (components/relational/
    outbox.py): with an instance in the lost zone, the relay waits for it."""
    waiting = sorted(d["metadata"]["name"] for d in documents if d.get("kind") == "Cluster"
                     and (((d.get("spec") or {}).get("replicationSlots") or {}).get("highAvailability") or {}).get(
                         "synchronizeLogicalDecoding") and (d.get("spec") or {}).get("instances", 1) > 1)
    if waiting and site.zones > 1:
        yield Verdict("outbox relay failover slots", "failover slot", "relational", False,
                      f"{len(waiting)} clusters' relay slots wait for every standby (synchronized_standby_slots): with an "
                      "instance in the lost zone the relay pauses until it is back; rows wait in the WAL")


def accepted() -> dict[str, str]:
    found: dict[str, str] = yaml.safe_load(ACCEPTED.read_text()) or {}
    return found


def verdicts(config: StackConfig, documents: list[dict[str, Any]]) -> list[Verdict]:
    site = Site.of(config.topology)
    reasons = accepted() if site.zones > 1 else {}
    found = [*ceph(site, documents), *kafka(site, documents), *postgres(site, documents), *cassandra(site, documents),
             *kafka_connect(site, documents), *outbox_slots(site, documents), *statefulsets(site, documents),
             *deployments(site, documents)]
    return [Verdict(**{**asdict(v), "accepted": reasons.get(v.system, "")}) if not v.survives else v for v in found]
