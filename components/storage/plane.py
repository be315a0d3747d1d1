"""The storage plane (seed: STORAGE PLANE): Ceph (RBD, RGW, a bucket per catalog bucket) and Vespa, as one
component. The Iceberg lakehouse on top of this storage is its own component, `components/lakehouse/`, built as a
child of this one.

The services of the plane (iceberg-catalog-service, dataset-service, ...) are catalog workloads like any
other; what they need from here reaches them as environment variables and egress rules (`search_endpoints`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.endpoints import PlatformEndpoint
from components.common.site import Site
from components.storage.ceph import Bucket, CephStorage, CephStorageArgs, ObjectUser
from components.storage.vespa import SEARCH_CLIENTS, Vespa, VespaArgs, vespa_endpoint, vespa_query_url
from foundry.catalog import Catalog
from foundry.config import Storage


def search_endpoints() -> dict[str, list[PlatformEndpoint]]:
    """Which catalog services reach Vespa."""
    return {service: [vespa_endpoint()] for service in SEARCH_CLIENTS}


@dataclass(frozen=True)
class StoragePlaneArgs:
    storage: Storage
    site: Site
    catalog: Catalog
    provider: k8s.Provider
    object_users: Sequence[ObjectUser] = ()          # other planes' RGW users (Trino, ClickHouse)
    platform_buckets: Sequence[Bucket] = ()          # buckets of platform components (the writers' checkpoints)
    rook_ready: Sequence[pulumi.Resource] = ()
    namespaces_ready: Sequence[pulumi.Resource] = ()


class StoragePlane(pulumi.ComponentResource):
    ceph: CephStorage

    def __init__(self, name: str, args: StoragePlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:StoragePlane", name, None, opts)
        storage, child = args.storage, pulumi.ResourceOptions(parent=self)
        self.ceph = CephStorage("ceph", CephStorageArgs(
            storage=storage, site=args.site, catalog=args.catalog, provider=args.provider, rook_ready=args.rook_ready,
            namespaces_ready=args.namespaces_ready, object_users=args.object_users,
            platform_buckets=args.platform_buckets), opts=child)
        Vespa("vespa", VespaArgs(vespa=storage.vespa, block_storage_class=storage.block_storage_class, site=args.site,
                                 catalog=args.catalog, provider=args.provider,
                                 depends_on=[*args.namespaces_ready, self.ceph]), opts=child)
        self.outputs = {
            "blockStorageClass": storage.block_storage_class,
            "bucketStorageClass": storage.bucket_storage_class,
            "rgwEndpoint": storage.rgw_endpoint,
            "buckets": {bucket: f"{bucket} (ConfigMap and Secret {bucket})" for bucket in sorted(self.ceph.claims)},
            "vespa": vespa_query_url(),
        }
        self.register_outputs(self.outputs)
