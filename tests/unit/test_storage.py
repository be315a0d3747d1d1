"""The Ceph foundation of the storage plane under mocks: cluster, pools, StorageClasses, bucket claims, wiring."""

from __future__ import annotations

from typing import Any

from components.storage.ceph import BLOCK_POOL, ROOK_NAMESPACE
from foundry.catalog import Catalog
from foundry.labels import namespace_for
from tests.mocks import Registered, by_metadata_name, of_type

CEPH = "kubernetes:ceph.rook.io/v1:"
CLAIM = "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


def spec_of(resources: list[Registered], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = by_metadata_name(resources, CEPH + kind)[name].inputs["spec"]
    return spec


def test_prod_ceph_cluster_has_an_odd_mon_quorum_one_per_node_spread_by_zone(prod_resources: list[Registered]) -> None:
    mon = spec_of(prod_resources, "CephCluster", "ceph")["mon"]
    assert mon["count"] >= 3 and mon["count"] % 2 == 1
    assert mon["allowMultiplePerNode"] is False and mon["failureDomainLabel"] == "topology.kubernetes.io/zone"
    cluster = spec_of(prod_resources, "CephCluster", "ceph")
    assert cluster["mgr"]["count"] == 2 and cluster["disruptionManagement"]["managePodBudgets"] is True


def test_prod_block_pool_is_replicated_three_on_the_fast_class(prod_resources: list[Registered]) -> None:
    pool = spec_of(prod_resources, "CephBlockPool", BLOCK_POOL)
    assert pool["replicated"] == {"size": 3, "requireSafeReplicaSize": True}
    assert pool["failureDomain"] in ("rack", "zone") and pool["deviceClass"] == "nvme"
    storage_class = of_type(prod_resources, STORAGE_CLASS)["ceph-fast-rbd"].inputs
    assert storage_class["provisioner"] == "rook-ceph.rbd.csi.ceph.com"
    assert storage_class["parameters"]["pool"] == BLOCK_POOL and storage_class["reclaimPolicy"] == "Retain"


def test_prod_object_store_is_erasure_coded_four_plus_two_over_racks(prod_resources: list[Registered]) -> None:
    store = spec_of(prod_resources, "CephObjectStore", "lake")
    assert store["dataPool"]["erasureCoded"] == {"dataChunks": 4, "codingChunks": 2}
    assert store["dataPool"]["failureDomain"] in ("rack", "zone")
    assert store["metadataPool"]["replicated"]["size"] == 3 and "erasureCoded" not in store["metadataPool"]
    assert store["preservePoolsOnDelete"] is True and store["gateway"]["instances"] >= 2


def test_with_device_classes_every_pool_names_one(prod_resources: list[Registered]) -> None:
    pools = by_metadata_name(prod_resources, CEPH + "CephBlockPool")
    assert set(pools) == {BLOCK_POOL, "builtin-mgr"}
    assert all(p.inputs["spec"].get("deviceClass") for p in pools.values())
    store = spec_of(prod_resources, "CephObjectStore", "lake")
    assert store["metadataPool"]["deviceClass"] and store["dataPool"]["deviceClass"]


def test_dev_is_single_node(dev_resources: list[Registered]) -> None:
    mon = spec_of(dev_resources, "CephCluster", "ceph")["mon"]
    assert mon == {"count": 1, "allowMultiplePerNode": True}
    store = spec_of(dev_resources, "CephObjectStore", "lake")
    assert store["dataPool"]["replicated"] == {"size": 1, "requireSafeReplicaSize": False}
    pools = by_metadata_name(dev_resources, CEPH + "CephBlockPool")
    assert {name: p.inputs["spec"]["replicated"]["size"] for name, p in pools.items()} == {BLOCK_POOL: 1, "builtin-mgr": 1}


def test_each_catalog_bucket_is_claimed_by_its_owner_with_a_quota(prod_resources: list[Registered],
                                                                  catalog: Catalog) -> None:
    claims = by_metadata_name(prod_resources, CLAIM)
    for service in catalog.services:
        for bucket in service.buckets:
            claim = claims[bucket]
            assert claim.inputs["metadata"]["namespace"] == namespace_for(service.plane)
            assert claim.inputs["metadata"]["labels"]["openfoundry.io/bucket-owner"] == service.name
            assert claim.inputs["spec"]["additionalConfig"] == {"maxSize": "50Ti"}
            assert claim.protected


def test_no_binary_is_handed_bucket_credentials_it_has_no_client_for(prod_resources: list[Registered],
                                                                      catalog: Catalog) -> None:
    """At the pin no OpenFoundry binary has an S3 client (their contracts: data/upstream/binaries/): the claims exist
    for their owners, and no pod reads a claim's Secret or ConfigMap, so the keys Rook writes stay unread."""
    claims = {b for s in catalog.services for b in s.buckets}
    assert claims
    for name, deployment in by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment").items():
        env = [e for c in deployment.inputs["spec"]["template"]["spec"]["containers"] for e in c.get("env") or []]
        refs = {e["valueFrom"][key]["name"] for e in env if "valueFrom" in e
                for key in ("secretKeyRef", "configMapKeyRef") if key in e["valueFrom"]}
        assert not refs & claims, (name, refs & claims)
        assert not [e["name"] for e in env if e["name"].startswith("BUCKET_")], name


def test_the_bucket_class_points_at_the_object_store(prod_resources: list[Registered]) -> None:
    bucket_class = of_type(prod_resources, STORAGE_CLASS)["ceph-bucket"].inputs
    assert bucket_class["provisioner"] == f"{ROOK_NAMESPACE}.ceph.rook.io/bucket"
    assert bucket_class["parameters"] == {"objectStoreName": "lake", "objectStoreNamespace": ROOK_NAMESPACE}
