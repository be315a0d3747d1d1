"""The workload every OpenFoundry service runs as: one catalog entry and the contract of the binary it runs in, a
production Deployment out: the binary's image at the pin, its listeners on the catalog's ports, its probes, and the
environment its contract asks for (components/services/environment.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.trust import ca_mount, ca_volume
from components.common.credentials import GeneratedKey
from components.common.endpoints import PlatformEndpoint
from components.common.kube import peer, pod_monitor, scrape_ingress, service_peer, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.ingestion.clients import (
    PLAIN_PORT,
    TLS_PORT,
    KafkaClient,
    broker_peer,
    plain_client_env,
    scram_client_env,
)
from components.relational.access import database_ca_mount, database_ca_volume, database_egress, database_env
from components.relational.database import Database
from components.services.environment import Endpoints, binary_env, binary_keys, keys_secret, listener_env
from components.storage.ceph import Bucket, ObjectGateway
from foundry.binaries import WAITING
from foundry.catalog import EXTERNAL_CALLERS, Catalog, Service
from foundry.config import Images, Workloads
from foundry.labels import common_labels, selector_labels, service_labels
from foundry.upstream import Binary

RUN_AS = 10001
WAITING_ANNOTATION = "openfoundry.dev/waiting-for"   # scaled to zero until the store it names exists


@dataclass(frozen=True)
class ServiceWorkloadArgs:
    service: Service
    binary: Binary                     # what its pods run (data/upstream/binaries/)
    catalog: Catalog
    sizing: Workloads                  # replicas, autoscaling ceiling, requests and limits
    images: Images
    site: Site
    gateway: ObjectGateway             # where its buckets are served
    ingress_namespace: str             # the ingress controller's, for services the edge routes to
    namespace: pulumi.Input[str]
    provider: k8s.Provider
    database: Database | None = None
    kafka: KafkaClient | None = None
    buckets: tuple[Bucket, ...] = ()
    endpoints: tuple[PlatformEndpoint, ...] = ()
    platform: Endpoints | None = None  # what the binary's `platform.sets` resolve to


class ServiceWorkload(pulumi.ComponentResource):
    """ServiceAccount, Deployment, Service and NetworkPolicy for one service; in prod also a
    PodDisruptionBudget and a HorizontalPodAutoscaler."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service

    def __init__(self, name: str, args: ServiceWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:workload:ServiceWorkload", name, None, opts)
        self._args = args
        svc = args.service
        self._labels = service_labels(svc.name, svc.plane, svc.family, args.images.tag, list(svc.buses))
        self._sizing = args.sizing
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)

        account = k8s.core.v1.ServiceAccount(
            svc.name, metadata=self._metadata(), automount_service_account_token=svc.service_account_token, opts=child)
        self._keys(child)
        self.deployment = k8s.apps.v1.Deployment(
            svc.name, metadata=self._metadata(), spec=self._deployment_spec(account), opts=child)
        self.service = k8s.core.v1.Service(svc.name, metadata=self._metadata(), spec=self._service_spec(), opts=child)
        k8s.networking.v1.NetworkPolicy(svc.name, metadata=self._metadata(), spec=self._network_policy(), opts=child)
        pod_monitor(svc.name, args.namespace, common_labels(svc.plane), selector_labels(svc.name), args.site, child,
                    port=svc.ports.metrics[0], path="/metrics")
        if args.site.prod and not self._waiting:
            self._disruption_budget(child)
            self._autoscaler(child)
        self.register_outputs({"deployment": self.deployment.metadata.name, "service": self.service.metadata.name})

    # --- pieces -----------------------------------------------------------------------------------------

    @property
    def _waiting(self) -> bool:
        return WAITING in self._args.binary.platform.waits_for

    def _metadata(self, name: str | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        annotations = {WAITING_ANNOTATION: WAITING} if self._waiting else None
        return k8s.meta.v1.ObjectMetaArgs(name=name or self._args.service.name, namespace=self._args.namespace,
                                          labels=self._labels, annotations=annotations)

    def _keys(self, opts: pulumi.ResourceOptions) -> None:
        """The keys only this service holds, each generated once as a Pulumi secret, in one Secret its pods read."""
        keys = binary_keys(self._args.binary)
        if not keys:
            return
        name = keys_secret(self._args.service.name)
        values = {key.secret_key: GeneratedKey(f"{name}-{key.secret_key}", key.format, opts=opts).value for key in keys}
        k8s.core.v1.Secret(name, metadata=self._metadata(name), type="Opaque", string_data=values, opts=opts)

    def _deployment_spec(self, account: k8s.core.v1.ServiceAccount) -> k8s.apps.v1.DeploymentSpecArgs:
        svc = self._args.service
        return k8s.apps.v1.DeploymentSpecArgs(
            # with an autoscaler (prod) the replica count is its to set: a value here would scale every release back
            # to the minimum (Kubernetes docs, "Migrating Deployments and StatefulSets to horizontal autoscaling")
            replicas=0 if self._waiting else None if self._args.site.prod else self._sizing.replicas,
            revision_history_limit=5,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(svc.name)),
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate",
                rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
            ),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=account.metadata.name,
                    automount_service_account_token=svc.service_account_token,
                    security_context=restricted_pod(RUN_AS),
                    containers=[self._container()],
                    volumes=self._volumes(),
                    topology_spread_constraints=self._spread(),
                ),
            ),
        )

    def _container(self) -> k8s.core.v1.ContainerArgs:
        svc, binary = self._args.service, self._args.binary
        health = binary.health
        return k8s.core.v1.ContainerArgs(
            name=svc.name,
            image=self._args.images.of(binary.name),
            image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name=n, container_port=p, protocol="TCP")
                   for n, p in svc.ports.all().items()],
            env=self._env(),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": self._sizing.cpu_request, "memory": self._sizing.memory_request},
                limits={"cpu": self._sizing.cpu_limit, "memory": self._sizing.memory_limit},
            ),
            readiness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path=health.path, port=health.port),
                period_seconds=10, timeout_seconds=2, failure_threshold=3,
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path=health.path, port=health.port),
                initial_delay_seconds=10, period_seconds=20, timeout_seconds=2, failure_threshold=3,
            ),
            security_context=restricted_container(),
            volume_mounts=self._volume_mounts(),
        )

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """Its listeners, the platform's own labels, its database and bus, the platform endpoints it reaches, then
        what its binary's contract asks for (after the endpoints' `$(NAME)` variables it may use). Its buckets are
        claimed, but no binary at the pin has an S3 client, so none is handed to its pods."""
        args, svc = self._args, self._args.service
        return [
            *listener_env(args.binary, svc),
            # the platform's own: which service, plane and environment a pod belongs to (for people and logs)
            k8s.core.v1.EnvVarArgs(name="OPENFOUNDRY_SERVICE", value=svc.name),
            k8s.core.v1.EnvVarArgs(name="OPENFOUNDRY_PLANE", value=svc.plane),
            k8s.core.v1.EnvVarArgs(name="OPENFOUNDRY_ENVIRONMENT", value=args.site.environment),
            *self._database_env(),
            *self._kafka_env(),
            *(env for endpoint in args.endpoints for env in endpoint.env_vars()),
            *(binary_env(args.binary, svc, args.platform) if args.platform else []),
        ]

    def _database_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        database, contract = self._args.database, self._args.binary.database
        if database is None:
            return []
        env = database_env(database)
        if contract is not None and contract.env != "DATABASE_URL":   # a binary that reads it under another name
            env.append(k8s.core.v1.EnvVarArgs(name=contract.env, value="$(DATABASE_URL)"))
        return env

    @property
    def _speaks_scram(self) -> bool:
        kafka = self._args.binary.kafka
        return self._args.kafka is not None and kafka is not None and kafka.security == "scram-sha-512"

    @property
    def _speaks_plaintext(self) -> bool:
        kafka = self._args.binary.kafka
        return kafka is not None and kafka.security == "plaintext"

    def _kafka_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """SCRAM over TLS for a client that speaks it; the PLAINTEXT listener's bootstrap for one that speaks nothing
        else (under the name it reads); nothing for a binary with no Kafka client."""
        kafka = self._args.binary.kafka
        if kafka is None:
            return []
        if self._speaks_plaintext:
            return plain_client_env(kafka.bootstrap_env)
        return scram_client_env(self._args.kafka) if self._args.kafka and self._speaks_scram else []

    def _volumes(self) -> list[k8s.core.v1.VolumeArgs]:
        volumes = [k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))]
        if self._speaks_scram:
            volumes.append(ca_volume())
        if self._args.database:
            volumes.append(database_ca_volume(self._args.database))
        volumes += [endpoint.token.volume() for endpoint in self._args.endpoints if endpoint.token]
        return volumes

    def _volume_mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        mounts = [k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        if self._speaks_scram:
            mounts.append(ca_mount())
        if self._args.database:
            mounts.append(database_ca_mount())
        mounts += [endpoint.token.mount() for endpoint in self._args.endpoints if endpoint.token]
        return mounts

    def _spread(self) -> list[k8s.core.v1.TopologySpreadConstraintArgs]:
        site = self._args.site
        pods = selector_labels(self._args.service.name)
        return [spread(site.zone_label, pods, hard=site.prod, per_revision=True),
                spread("kubernetes.io/hostname", pods, hard=False, per_revision=True)]

    def _service_spec(self) -> k8s.core.v1.ServiceSpecArgs:
        svc = self._args.service
        return k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            selector=selector_labels(svc.name),
            ports=[k8s.core.v1.ServicePortArgs(name=n, port=p, target_port=n, protocol="TCP")
                   for n, p in svc.ports.all().items()],
        )

    def _network_policy(self) -> k8s.networking.v1.NetworkPolicySpecArgs:
        svc = self._args.service
        own_ports = [k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP") for p in svc.ports.serving().values()]
        callers = self._caller_peers()
        ingress = [k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=callers, ports=own_ports)] if callers else []
        ingress.append(scrape_ingress(self._args.site, [svc.ports.metrics[1]]))
        egress = [
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[service_peer(callee)],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP")
                       for p in callee.ports.serving().values()],
            )
            for callee in self._args.catalog.callees_of(svc.name)
        ]
        if self._args.database is not None:
            egress.append(database_egress(self._args.database))
        egress += [rule for endpoint in self._args.endpoints for rule in endpoint.egress_rules()]
        if self._args.buckets and any(store.kind == "s3" for store in self._args.binary.stores):
            egress.append(self._args.gateway.egress_rule())   # only a binary with an S3 client reaches its buckets
        kafka_port = PLAIN_PORT if self._speaks_plaintext else TLS_PORT if self._speaks_scram else None
        if kafka_port is not None:
            egress.append(k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[broker_peer()], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=kafka_port, protocol="TCP")]))
        return k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(svc.name)),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            egress=egress,
        )

    def _caller_peers(self) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
        peers = []
        for caller in sorted(self._args.service.callers):
            if caller in EXTERNAL_CALLERS:
                peers.append(peer(self._args.ingress_namespace))
            else:
                peers.append(service_peer(self._args.catalog.by_name(caller)))
        return peers

    def _disruption_budget(self, opts: pulumi.ResourceOptions) -> None:
        k8s.policy.v1.PodDisruptionBudget(
            self._args.service.name,
            metadata=self._metadata(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(self._args.service.name)),
            ),
            opts=opts,
        )

    def _autoscaler(self, opts: pulumi.ResourceOptions) -> None:
        workloads = self._sizing
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            self._args.service.name,
            metadata=self._metadata(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.deployment.metadata.name),
                min_replicas=workloads.replicas,
                max_replicas=workloads.max_replicas,
                metrics=[k8s.autoscaling.v2.MetricSpecArgs(
                    type="Resource",
                    resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                        name="cpu",
                        target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=70),
                    ),
                )],
            ),
            opts=opts,
        )
