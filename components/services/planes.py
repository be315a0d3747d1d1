"""The services of one plane, each as a ServiceWorkload, grouped under the plane's own component."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.common.endpoints import PlatformEndpoint
from components.common.site import Site
from components.ingestion.clients import KafkaClient
from components.relational.plane import Database
from components.services.workload import ServiceWorkload, ServiceWorkloadArgs
from components.storage.ceph import Bucket, ObjectGateway
from foundry.catalog import Catalog
from foundry.config import Images, Workloads


@dataclass(frozen=True)
class PlaneServicesArgs:
    plane: str
    catalog: Catalog
    sizing: Workloads                  # the plane's workload sizing
    images: Images
    site: Site
    gateway: ObjectGateway
    ingress_namespace: str
    namespace: pulumi.Input[str]
    provider: k8s.Provider
    databases: Mapping[str, Database] = field(default_factory=dict)   # by owning service
    kafka_clients: Mapping[str, KafkaClient] = field(default_factory=dict)   # by service
    buckets: Mapping[str, list[Bucket]] = field(default_factory=dict)        # by owning service
    endpoints: Mapping[str, list[PlatformEndpoint]] = field(default_factory=dict)   # by calling service
    settings: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)   # by service
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class PlaneServices(pulumi.ComponentResource):
    """Every catalog service anchored to `plane`, in the plane's namespace."""

    workloads: dict[str, ServiceWorkload]

    def __init__(self, name: str, args: PlaneServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"openfoundry:{args.plane}:PlaneServices", name, None, opts)
        self.workloads = {
            svc.name: ServiceWorkload(
                svc.name,
                ServiceWorkloadArgs(service=svc, catalog=args.catalog, sizing=args.sizing, images=args.images,
                                    site=args.site, gateway=args.gateway, ingress_namespace=args.ingress_namespace,
                                    namespace=args.namespace, provider=args.provider,
                                    database=args.databases.get(svc.name), kafka=args.kafka_clients.get(svc.name),
                                    buckets=tuple(args.buckets.get(svc.name, ())),
                                    endpoints=tuple(args.endpoints.get(svc.name, ())),
                                    settings=args.settings.get(svc.name, ())),
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
            )
            for svc in args.catalog.in_plane(args.plane)
        }
        self.register_outputs({"services": sorted(self.workloads)})
