"""The services of one plane, each as a ServiceWorkload, grouped under the plane's own component."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.ceph import Bucket
from components.endpoints import PlatformEndpoint
from components.ingestion import KafkaClient
from components.relational import Database
from components.workload import ServiceWorkload, ServiceWorkloadArgs
from foundry.catalog import Catalog
from foundry.config import StackConfig


@dataclass(frozen=True)
class PlaneServicesArgs:
    plane: str
    catalog: Catalog
    config: StackConfig
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
                ServiceWorkloadArgs(service=svc, catalog=args.catalog, config=args.config,
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
