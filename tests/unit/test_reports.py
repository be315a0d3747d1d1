"""The report arithmetic on small synthetic stacks, against answers computed by hand (make report: ops/capacity.py,
ops/zoneloss.py)."""

from __future__ import annotations

from typing import Any

import pytest

from foundry.config import load_stack_config
from foundry.config.platform import NodeSize, Topology
from ops.engine.stacks import read_stack_values
from ops.reports.capacity import capacity_of
from ops.reports.units import flink_bytes, size_bytes
from ops.reports.zoneloss import Site, pool_verdict, quorum, verdicts

GI = 2**30


def site(zones: int, racks: int, nodes: int) -> Site:
    return Site.of(Topology(zones=[f"z{i}" for i in range(zones)], racks=racks, nodes=nodes,
                            zone_label="topology.kubernetes.io/zone", node=NodeSize(cpu="1", memory="1Gi")))


def test_the_layout_keeps_racks_inside_zones_and_fills_zones_evenly() -> None:
    config = load_stack_config(read_stack_values("prod"), "prod")
    places = config.topology.layout()
    zone_of_rack: dict[str, set[str]] = {}
    for place in places:
        zone_of_rack.setdefault(place.rack, set()).add(place.zone)
    assert all(len(zones) == 1 for zones in zone_of_rack.values())
    assert len(zone_of_rack) == 7
    assert site(3, 7, 9) == Site(zones=3, nodes_per_zone=3, racks_per_zone=3, nodes=9,
                                 zone_key="topology.kubernetes.io/zone")


def test_an_ec_4_2_pool_over_three_zones() -> None:
    # by rack (7 racks, 3/2/2 per zone): a zone can hold 3 of the 6 chunks, 3 left < k: data lost with the zone
    by_rack = pool_verdict(site(3, 7, 9), "ec", {"failureDomain": "rack", "erasureCoded": {"dataChunks": 4, "codingChunks": 2}})
    assert not by_rack.survives and "3 left < min_size 5" in by_rack.reason and "data lost" in by_rack.reason
    # by zone: 2 chunks per zone, 4 left = k (data kept) but < k+1 (I/O stops)
    by_zone = pool_verdict(site(3, 7, 9), "ec", {"failureDomain": "zone", "erasureCoded": {"dataChunks": 4, "codingChunks": 2}})
    assert not by_zone.survives and "4 left < min_size 5" in by_zone.reason and "data kept" in by_zone.reason
    # over six zones one chunk each: 5 left = min_size
    assert pool_verdict(site(6, 6, 6), "ec", {"failureDomain": "zone",
                                             "erasureCoded": {"dataChunks": 4, "codingChunks": 2}}).survives


def test_replicated_pools_survive_by_zone_and_not_by_host() -> None:
    assert pool_verdict(site(3, 3, 9), "r", {"failureDomain": "zone", "replicated": {"size": 3}}).survives
    by_host = pool_verdict(site(3, 3, 9), "r", {"failureDomain": "host", "replicated": {"size": 3}})
    assert not by_host.survives and "0 left" in by_host.reason
    # size 2 by zone: 1 left = min_size 1 (2 - 2//2)
    assert pool_verdict(site(3, 3, 9), "r", {"failureDomain": "zone", "replicated": {"size": 2}}).survives


@pytest.mark.parametrize(("members", "zones", "spread", "survives"), [
    (3, 2, "zone", False),   # a 3-node quorum in two zones: one zone holds 2, 1 left < 2
    (3, 3, "zone", True),    # one per zone: 2 left
    (5, 3, "zone", True),    # 2/2/1: 3 left = majority of 5
    (4, 3, "zone", False),   # 2/1/1: 2 left < 3
    (3, 3, "host", False),   # three nodes per zone: all three can share one zone
])
def test_a_quorum_keeps_its_majority(members: int, zones: int, spread: str, survives: bool) -> None:
    assert quorum(site(zones, zones, 3 * zones), "q", "quorum", "p", members, spread).survives is survives


def deployment(name: str, replicas: int, containers: list[dict[str, Any]], zone_spread: bool) -> dict[str, Any]:
    constraints = [{"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                    "maxSkew": 1}] if zone_spread else []
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "openfoundry-compute", "labels": {"openfoundry.io/plane": "compute"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": containers,
                                                                 "topologySpreadConstraints": constraints}}}}


SYNTHETIC: list[dict[str, Any]] = [
    deployment("api", 3, [{"resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                                         "limits": {"cpu": "1", "memory": "1Gi"}}},
                          {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}}],
               zone_spread=True),
    {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "api", "namespace": "openfoundry-compute"},
     "spec": {"minReplicas": 4, "maxReplicas": 8, "scaleTargetRef": {"name": "api"}}},
    deployment("single", 2, [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}], zone_spread=False),
    {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "openfoundry-compute"},
     "spec": {"instances": 3, "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
              "storage": {"size": "10Gi", "storageClass": "rbd"},
              "topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone",
                                             "whenUnsatisfiable": "DoNotSchedule"}],
              "postgresql": {"synchronous": {"number": 1, "dataDurability": "required"}}}},
    {"kind": "CephBlockPool", "metadata": {"name": "fast"}, "spec": {"failureDomain": "zone", "deviceClass": "nvme",
                                                                     "replicated": {"size": 3}}},
    {"kind": "StorageClass", "metadata": {"name": "rbd"}, "parameters": {"pool": "fast"}},
    {"kind": "CephObjectStore", "metadata": {"name": "lake"}, "spec": {
        "metadataPool": {"failureDomain": "zone", "replicated": {"size": 3}},
        "dataPool": {"failureDomain": "rack", "deviceClass": "hdd", "erasureCoded": {"dataChunks": 4, "codingChunks": 2}},
        "gateway": {"instances": 1}}},
    {"kind": "StorageClass", "metadata": {"name": "bucket"}, "parameters": {"objectStoreName": "lake"}},
    {"kind": "ObjectBucketClaim", "metadata": {"name": "b", "namespace": "openfoundry-storage"},
     "spec": {"storageClassName": "bucket", "bucketName": "b", "additionalConfig": {"maxSize": "4Ti"}}},
    {"kind": "ObjectBucketClaim", "metadata": {"name": "open", "namespace": "openfoundry-storage"},
     "spec": {"storageClassName": "bucket", "bucketName": "open"}},
]


def prod_with(**node: Any) -> Any:
    values = read_stack_values("prod")
    topology = values.setdefault("topology", {})
    topology["node"] = {"cpu": "64", "memory": "256Gi", "disks": {"nvme": {"count": 1, "size": "1Ti"},
                                                                   "hdd": {"count": 1, "size": "4Ti"}}, **node}
    return load_stack_config(values, "prod")


def test_capacity_sums_requests_replicas_autoscalers_and_raw_storage() -> None:
    capacity = capacity_of("synthetic", prod_with(), SYNTHETIC)
    total = capacity.totals()
    # api: HPA minimum 4 x (0.35 cores, 640Mi); single: 2 x (1, 1Gi); pg: 3 x (1, 2Gi); the RGW gateway: undeclared
    assert total["cpu"] == pytest.approx(4 * 0.35 + 2 + 3)
    assert total["memory"] == pytest.approx(4 * 640 * 2**20 + 2 * GI + 6 * GI)
    assert capacity.totals(at_max=True)["cpu"] == pytest.approx(8 * 0.35 + 2 + 3)
    assert total["no_cpu_limit"] == 4   # api's second container, single, pg, the gateway
    storage = capacity.storage()
    assert storage["nvme"] == {"usable": 30 * GI, "raw": 90 * GI}        # 3 instances x 10Gi, size 3
    assert storage["hdd"] == {"usable": 4 * 2**40, "raw": 6 * 2**40}     # 4Ti quota, EC 4+2
    # per zone: the zone-domain pool holds one copy in each (30Gi), the rack-domain EC pool by each zone's share of
    # the nodes (3 of 9: 2Ti)
    assert capacity.per_zone() == {zone: {"nvme": 30 * GI, "hdd": 2 * 2**40} for zone in ("zone-a", "zone-b", "zone-c")}
    assert capacity.unbounded_buckets == ["open"]
    assert capacity.problems == []


def test_a_stack_that_cannot_fit_its_nodes_is_refused_with_the_config_path() -> None:
    capacity = capacity_of("synthetic", prod_with(cpu="500m", memory="1Gi", disks={
        "nvme": {"count": 0, "size": "1Ti"}, "hdd": {"count": 1, "size": "100Gi"}}), SYNTHETIC)
    paths = [p.path for p in capacity.problems]
    assert paths == ["openfoundry:topology.node.cpu", "openfoundry:topology.node.memory",
                     "openfoundry:topology.node.cpu", "openfoundry:topology.node.disks.nvme",
                     "openfoundry:topology.node.disks.hdd"]
    assert str(capacity.problems[0]) == ("openfoundry:topology.node.cpu: found 9 nodes of 0.5 cores = 4.5 cores; "
                                         "allowed: at least 0.72 cores per node: the stack requests 6.4 cores")


def test_zone_loss_of_the_synthetic_stack() -> None:
    found = {v.system: v for v in verdicts(prod_with(), SYNTHETIC)}
    assert found["api"].survives and not found["single"].survives
    assert found["pg"].survives and "2 left, 2 needed" in found["pg"].reason
    assert not found["pool lake data"].survives and found["pool lake metadata"].survives


def test_quantities() -> None:
    assert size_bytes("1.5Gi") == 1.5 * GI and size_bytes("2G") == 2e9 and size_bytes(3) == 3
    assert flink_bytes("2048m") == 2 * GI and flink_bytes("1g") == GI
    with pytest.raises(ValueError):
        size_bytes("lots")
