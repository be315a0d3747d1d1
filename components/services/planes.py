"""The services of one plane that run a binary of their own, each as a ServiceWorkload, grouped under the plane's own
component (a surface merged into another binary, or with no live binary, runs no pods: foundry/binaries.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.common.endpoints import PlatformEndpoint
from components.common.site import Site
from components.ingestion.clients import KafkaClient
from components.relational.database import Database
from components.services.environment import Endpoints
from components.services.workload import ServiceWorkload, ServiceWorkloadArgs
from components.storage.ceph import Bucket, ObjectGateway
from foundry.binaries import Running
from foundry.catalog import Catalog
from foundry.config import Images, Workloads


@dataclass(frozen=True)
class PlaneServicesArgs:
    plane: str
    running: Sequence[Running]         # the plane's services that run a binary, with its contract
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
    platform: Endpoints | None = None  # what the binaries' `platform.sets` resolve to
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class PlaneServices(pulumi.ComponentResource):
    """Every catalog service anchored to `plane`, in the plane's namespace."""

    workloads: dict[str, ServiceWorkload]

    def __init__(self, name: str, args: PlaneServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"openfoundry:{args.plane}:PlaneServices", name, None, opts)
        self.workloads = {
            run.service.name: ServiceWorkload(
                run.service.name,
                ServiceWorkloadArgs(service=run.service, binary=run.binary, catalog=args.catalog, sizing=args.sizing,
                                    images=args.images,
                                    site=args.site, gateway=args.gateway, ingress_namespace=args.ingress_namespace,
                                    namespace=args.namespace, provider=args.provider,
                                    database=args.databases.get(run.service.name),
                                    kafka=args.kafka_clients.get(run.service.name),
                                    buckets=tuple(args.buckets.get(run.service.name, ())),
                                    endpoints=tuple(args.endpoints.get(run.service.name, ())),
                                    platform=args.platform),
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
            )
            for run in args.running if run.service.plane == args.plane
        }
        self.register_outputs({"services": sorted(self.workloads)})
