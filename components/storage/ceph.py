"""The storage plane's Ceph foundation (Rook): the cluster, the fast block pool and its StorageClass, the RGW
object store with its erasure-coded data pool, the bucket StorageClass, and a claimed bucket per catalog bucket.

Every stateful workload of the platform (Kafka, Postgres, NATS, Vespa) provisions its volumes through the
block StorageClass; every bucket (service buckets here, Postgres backups in the relational plane) through the
bucket StorageClass. Both names come from `storage.*` in the stack config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import custom_resource, peer, spread_spec
from components.common.site import Site
from foundry.catalog import PLATFORM_BUCKET_OWNERS, PLATFORM_DATABASE_OWNERS, Catalog
from foundry.config import Backups, Storage
from foundry.labels import common_labels, namespace_for
from foundry.versions import CEPH_IMAGE

PLANE = "storage"
ROOK_NAMESPACE = "rook-ceph"
BLOCK_POOL = "fast-rbd"
RGW_POD_PORT = 8080  # the gateway pods' listener behind the rook-ceph-rgw-<store> Service on port 80
CEPH_API = "ceph.rook.io/v1"


@dataclass(frozen=True)
class Bucket:
    """A catalog bucket, claimed in its owner's namespace; Rook writes the claim's ConfigMap and Secret there."""

    name: str
    owner: str
    namespace: str
    backups: bool = False     # it holds a tool's backups: copied off site (storage.backups)

    @property
    def claim(self) -> str:
        return self.name


@dataclass(frozen=True)
class ObjectUser:
    """A platform component's own RGW user in its own namespace, granted other owners' buckets: read-write, or
    read-only for a reader (ClickHouse).

    Rook creates it through the object store's `allowUsersInNamespaces` and writes its keys (AccessKey,
    SecretKey) to `rook-ceph-object-user-<store>-<name>` beside it; the buckets grant it by their policy.
    """

    name: str
    namespace: str
    buckets: tuple[str, ...]
    read_only: bool = False
    keys_secret: str | None = None   # keys the platform generated (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in a
    #                                  Secret beside it, for a client that must be given them at deploy time

    def secret(self, store: str) -> str:
        return f"rook-ceph-object-user-{store}-{self.name}"


# The claim settings this platform uses; Rook must allow each (its operator's obcAllowAdditionalConfigFields).
OBC_ADDITIONAL_CONFIG_FIELDS = "maxObjects,maxSize,bucketPolicy"

# What a granted user may do in a bucket: read, and for a writer write objects; never the bucket's own settings.
READ_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject")
GRANTED_ACTIONS = (*READ_ACTIONS, "s3:ListBucketMultipartUploads", "s3:PutObject", "s3:DeleteObject",
                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")


def bucket_policy(bucket: str, users: Sequence[ObjectUser]) -> str:
    """An S3 bucket policy granting RGW `users` read-write, or read-only, on `bucket` and its objects."""
    statements = []
    for sid, actions, granted in (("platform-users-read-write", GRANTED_ACTIONS, [u for u in users if not u.read_only]),
                                  ("platform-users-read-only", READ_ACTIONS, [u for u in users if u.read_only])):
        if granted:
            statements.append({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam:::user/{user.name}" for user in sorted(granted, key=lambda u: u.name)]},
                "Action": list(actions),
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            })
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


OFFSITE_POLICY = "backups-leave-the-site"
EXEMPT_ANNOTATION = "policy.openfoundry.dev/exempt"   # the pack's exemption (policies/.../resources.py)


def single_site_exemption(backups: Backups) -> dict[str, str]:
    """A backup bucket's annotations when prod accepts keeping its backups on this site alone: the pack's
    exemption from OFFSITE_POLICY, with the risk accepted as its reason."""
    if backups.single_site_acknowledged is None:
        return {}
    return {EXEMPT_ANNOTATION: OFFSITE_POLICY, f"{EXEMPT_ANNOTATION}-reason": backups.single_site_acknowledged}


def catalog_buckets(catalog: Catalog) -> list[Bucket]:
    """Every bucket the platform claims: the catalog services' and the platform components'."""
    platform = [Bucket(bucket, owner, namespace_for(PLATFORM_DATABASE_OWNERS[owner]))
                for bucket, owner in PLATFORM_BUCKET_OWNERS.items()]
    return [Bucket(bucket, s.name, namespace_for(s.plane)) for s in catalog.services for bucket in s.buckets] + platform



def rgw_peer(store: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return peer(ROOK_NAMESPACE, {"app": "rook-ceph-rgw", "rgw": store})


@dataclass(frozen=True)
class ObjectGateway:
    """The object store's S3 endpoint as its clients see it: the URL, and the gateway pods to allow egress to."""

    store: str        # storage.objectStoreName
    endpoint: str     # storage's rgw_endpoint

    @classmethod
    def of(cls, storage: Storage) -> ObjectGateway:
        return cls(storage.object_store_name, storage.rgw_endpoint)

    def egress_rule(self) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
        return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[rgw_peer(self.store)], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=RGW_POD_PORT, protocol="TCP")])


@dataclass(frozen=True)
class StorageAccess:
    """What the other planes use of the storage plane: the block and bucket StorageClasses and the object gateway."""

    block_class: str
    bucket_class: str
    gateway: ObjectGateway

    @classmethod
    def of(cls, storage: Storage) -> StorageAccess:
        return cls(storage.block_storage_class, storage.bucket_storage_class, ObjectGateway.of(storage))


@dataclass(frozen=True)
class CephStorageArgs:
    storage: Storage
    site: Site
    catalog: Catalog
    provider: k8s.Provider
    rook_ready: Sequence[pulumi.Resource] = ()
    namespaces_ready: Sequence[pulumi.Resource] = ()
    object_users: Sequence[ObjectUser] = ()
    platform_buckets: Sequence[Bucket] = ()     # optional components' buckets (the Iceberg writers' checkpoints)


class CephStorage(pulumi.ComponentResource):
    """CephCluster, pools, object store, StorageClasses and the catalog's bucket claims."""

    cluster: pulumi.CustomResource
    claims: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: CephStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:CephStorage", name, None, opts)
        self._args = args
        storage = args.storage
        self._say_when_single_node()
        self.cluster = self._ceph("CephCluster", "ceph", self._cluster_spec())
        # Ceph's own .mgr pool follows the block pool: its size (a single dev node cannot hold the default 3)
        # and, with device classes, its class (then every pool must name one)
        self._ceph("CephBlockPool", "builtin-mgr", {**self._replicated_pool(), "name": ".mgr"})
        block_pool = self._ceph("CephBlockPool", BLOCK_POOL, self._replicated_pool())
        self._block_storage_class(block_pool)
        store = self._ceph("CephObjectStore", storage.object_store_name, self._object_store_spec())
        bucket_class = self._bucket_storage_class(store)
        self.claims = {b.name: self._claim(b, bucket_class)
                       for b in [*catalog_buckets(args.catalog), *args.platform_buckets]}
        for user in args.object_users:
            keys = ({"keys": [{"accessKeyRef": {"name": user.keys_secret, "key": "AWS_ACCESS_KEY_ID"},
                               "secretKeyRef": {"name": user.keys_secret, "key": "AWS_SECRET_ACCESS_KEY"}}]}
                    if user.keys_secret else {})
            self._resource(CEPH_API, "CephObjectStoreUser", user.name, user.namespace, {
                "store": storage.object_store_name, "clusterNamespace": ROOK_NAMESPACE, "displayName": user.name,
                **keys}, depends_on=[store], stateful=True)
        self.register_outputs({
            "blockStorageClass": storage.block_storage_class,
            "bucketStorageClass": storage.bucket_storage_class,
            "rgwEndpoint": storage.rgw_endpoint,
            "buckets": sorted(self.claims),
        })

    def _say_when_single_node(self) -> None:
        storage = self._args.storage
        if storage.ceph.mon_count == 1 or storage.block_pool.replicas == 1 or storage.object_store.replicas == 1:
            pulumi.log.info(
                f"storage: single-node Ceph: {storage.ceph.mon_count} mon, block pool size {storage.block_pool.replicas}, "
                f"object store pools size {storage.object_store.replicas or 'erasure-coded'}: no redundancy "
                "(development only; prod needs an odd mon count >= 3 and EC 4+2)", resource=self)

    # --- specs ------------------------------------------------------------------------------------------

    def _cluster_spec(self) -> dict[str, Any]:
        site = self._args.site
        ceph = self._args.storage.ceph
        mon: dict[str, Any] = {"count": ceph.mon_count, "allowMultiplePerNode": ceph.allow_multiple_mons_per_node}
        placement: dict[str, Any] = {}
        if site.prod:
            mon["failureDomainLabel"] = site.zone_label
            placement["mon"] = {"topologySpreadConstraints": [self._spread("rook-ceph-mon")]}
            placement["mgr"] = {"topologySpreadConstraints": [self._spread("rook-ceph-mgr")]}
        return {
            "cephVersion": {"image": CEPH_IMAGE, "allowUnsupported": False},
            "dataDirHostPath": "/var/lib/rook",
            "mon": mon,
            "mgr": {"count": ceph.mgr_count, "allowMultiplePerNode": False,
                    "modules": [{"name": "pg_autoscaler", "enabled": True}, {"name": "rook", "enabled": True}]},
            "dashboard": {"enabled": True, "ssl": True},
            "monitoring": {"enabled": True},
            "crashCollector": {"disable": False},
            "disruptionManagement": {"managePodBudgets": True, "osdMaintenanceTimeout": 30},
            "placement": placement,
            "resources": {daemon: getattr(ceph.resources, daemon).as_requirements() for daemon in ("mon", "mgr", "osd")},
            # OSDs on every node's empty devices; Ceph detects each device's class (hdd, ssd, nvme) and the
            # pools below select theirs
            "storage": {"useAllNodes": True, "useAllDevices": True},
        }

    def _spread(self, app: str) -> dict[str, Any]:
        return spread_spec(self._args.site.zone_label, {"app": app}, hard=True)

    def _replicated_pool(self) -> dict[str, Any]:
        pool = self._args.storage.block_pool
        spec: dict[str, Any] = {"failureDomain": pool.failure_domain,
                                "replicated": {"size": pool.replicas, "requireSafeReplicaSize": pool.replicas > 1}}
        if pool.device_class:
            spec["deviceClass"] = pool.device_class
        return spec

    def _object_store_spec(self) -> dict[str, Any]:
        prod = self._args.site.prod
        store, block = self._args.storage.object_store, self._args.storage.block_pool
        # the bucket index is replicated like the block pool and by its failure domain (zone in prod): by rack, one
        # zone could hold all three copies (make report: zone-loss.md)
        metadata: dict[str, Any] = {"failureDomain": block.failure_domain, "replicated": {
            "size": store.replicas or 3, "requireSafeReplicaSize": (store.replicas or 3) > 1}}
        if store.data_chunks is not None and store.coding_chunks is not None:
            data: dict[str, Any] = {"failureDomain": store.failure_domain, "erasureCoded": {
                "dataChunks": store.data_chunks, "codingChunks": store.coding_chunks}}
        else:
            data = {"failureDomain": store.failure_domain, "replicated": {
                "size": store.replicas, "requireSafeReplicaSize": (store.replicas or 1) > 1}}
        if block.device_class:
            metadata["deviceClass"] = block.device_class
        if store.device_class:
            data["deviceClass"] = store.device_class
        gateway: dict[str, Any] = {"port": 80, "instances": store.gateway_instances,
                                   "resources": self._args.storage.ceph.resources.rgw.as_requirements()}
        if prod:
            gateway["placement"] = {"topologySpreadConstraints": [self._spread("rook-ceph-rgw")]}
        spec = {"metadataPool": metadata, "dataPool": data, "preservePoolsOnDelete": prod, "gateway": gateway}
        user_namespaces = sorted({user.namespace for user in self._args.object_users})
        if user_namespaces:
            spec["allowUsersInNamespaces"] = user_namespaces
        return spec

    # --- StorageClasses and claims -----------------------------------------------------------------------

    def _block_storage_class(self, pool: pulumi.Resource) -> None:
        storage = self._args.storage
        # as rook v1.20.6 deploy/examples/csi/rbd/storageclass.yaml (controller-publish: fencing via the CSI operator)
        secrets = {"provisioner": "rook-csi-rbd-provisioner", "controller-expand": "rook-csi-rbd-provisioner",
                   "node-stage": "rook-csi-rbd-node", "controller-publish": "rook-csi-rbd-provisioner"}
        parameters = {"clusterID": ROOK_NAMESPACE, "pool": BLOCK_POOL, "imageFormat": "2",
                      "imageFeatures": "layering", "csi.storage.k8s.io/fstype": "ext4"}
        for use, secret in secrets.items():
            parameters[f"csi.storage.k8s.io/{use}-secret-name"] = secret
            parameters[f"csi.storage.k8s.io/{use}-secret-namespace"] = ROOK_NAMESPACE
        k8s.storage.v1.StorageClass(
            storage.block_storage_class,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=storage.block_storage_class, labels=common_labels(PLANE)),
            provisioner=f"{ROOK_NAMESPACE}.rbd.csi.ceph.com",
            parameters=parameters,
            allow_volume_expansion=True,
            reclaim_policy=self._reclaim_policy(),
            volume_binding_mode="WaitForFirstConsumer",
            opts=self._child(depends_on=[pool]),
        )

    def _bucket_storage_class(self, store: pulumi.Resource) -> k8s.storage.v1.StorageClass:
        storage = self._args.storage
        return k8s.storage.v1.StorageClass(
            storage.bucket_storage_class,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=storage.bucket_storage_class, labels=common_labels(PLANE)),
            provisioner=f"{ROOK_NAMESPACE}.ceph.rook.io/bucket",
            parameters={"objectStoreName": storage.object_store_name, "objectStoreNamespace": ROOK_NAMESPACE},
            reclaim_policy=self._reclaim_policy(),
            opts=self._child(depends_on=[store]),
        )

    def _reclaim_policy(self) -> str:
        """prod keeps volumes and buckets when their claim goes away; dev cleans up."""
        return "Retain" if self._args.site.prod else "Delete"

    def _claim(self, bucket: Bucket, bucket_class: pulumi.Resource) -> pulumi.CustomResource:
        storage = self._args.storage
        additional = {"maxSize": storage.bucket_max_size}
        granted = [user for user in self._args.object_users if bucket.name in user.buckets]
        if granted:
            # the policy replaces the provisioner's own; the claim's user still owns the bucket
            additional["bucketPolicy"] = bucket_policy(bucket.name, granted)
        spec = {"bucketName": bucket.name, "storageClassName": storage.bucket_storage_class,
                "additionalConfig": additional}
        annotations = single_site_exemption(storage.backups) if bucket.backups else {}
        return self._resource("objectbucket.io/v1alpha1", "ObjectBucketClaim", bucket.claim, bucket.namespace, spec,
                              labels={"openfoundry.io/bucket-owner": bucket.owner}, depends_on=[bucket_class],
                              stateful=True, annotations=annotations)

    # --- plumbing ---------------------------------------------------------------------------------------

    def _child(self, depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False) -> pulumi.ResourceOptions:
        keep = self._args.site.keeps(stateful)
        ready = [*self._args.namespaces_ready, *self._args.rook_ready, *depends_on]
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=ready,
                                      protect=keep, retain_on_delete=keep)

    def _ceph(self, kind: str, name: str, spec: dict[str, Any]) -> pulumi.CustomResource:
        depends_on = [] if kind == "CephCluster" else [self.cluster]
        return self._resource(CEPH_API, kind, name, ROOK_NAMESPACE, spec, depends_on=depends_on, stateful=True)

    def _resource(self, api_version: str, kind: str, name: str, namespace: str, spec: dict[str, Any],
                  labels: dict[str, str] | None = None, depends_on: Sequence[pulumi.Resource] = (),
                  stateful: bool = False, annotations: dict[str, str] | None = None) -> pulumi.CustomResource:
        return custom_resource(api_version, kind, name, namespace, {**common_labels(PLANE), **(labels or {})}, spec,
                               self._child(depends_on=depends_on, stateful=stateful), annotations=annotations)
