"""Vespa (ADR-0007): production search as a multi-node deployment, development as one node ("Vespa Lite").

cluster: a StatefulSet of config servers (3, a ZooKeeper quorum, each on its own node, no readiness probe:
the quorum needs all of them up to form), content nodes and container nodes, all finding the config servers
through VESPA_CONFIGSERVERS and one headless Service. single: one pod running config server and services.
The application package (services.xml, hosts.xml) is deployed by the search team through port 19071.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.endpoints import PlatformEndpoint
from components.common.kube import one_pod_per_node, peer, pod_monitor, scrape_ingress, service_peer, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from foundry.catalog import Catalog
from foundry.config import Vespa as VespaSettings
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import VESPA_IMAGE

NAME = "vespa"
PLANE = "storage"
HEADLESS = "vespa-internal"
QUERY_PORT = 8080
CONFIG_PORT = 19071
METRICS_PORT = 19092
CONTENT_PORT = 19107
VESPA_USER = 1000
ROLE_LABEL = "openfoundry.io/vespa-role"
# The seed: sql-bi-gateway-service routes statements to Vespa (through a Flight SQL front none serves at the pin:
# data/upstream/binaries/sql-bi-gateway-service.yaml); ontology-indexer feeds the ontology's objects into it
# (SEARCH_BACKEND vespa, its SEARCH_ENDPOINT).
SEARCH_CLIENTS = ("sql-bi-gateway-service", "ontology-indexer")
EXEMPT = "policy.openfoundry.dev/exempt"
WRITABLE_ROOT_REASON = "Vespa's start scripts write below /opt/vespa outside its volumes"
# Config servers run ZooKeeper and the deploy API; their size does not grow with the corpus.
CONFIG_SERVER_RESOURCES = {"cpu": "1", "memory": "4Gi"}


def vespa_query_url() -> str:
    return f"http://{NAME}.{namespace_for(PLANE)}.svc:{QUERY_PORT}"


def vespa_endpoint() -> PlatformEndpoint:
    """The way to the container nodes; a binary reads the URL under its own name (`search-url` in its contract)."""
    return PlatformEndpoint(namespace=namespace_for(PLANE), pods=tuple(selector_labels(NAME).items()),
                            ports=(QUERY_PORT,), env=())


@dataclass(frozen=True)
class VespaArgs:
    vespa: VespaSettings
    block_storage_class: str
    site: Site
    catalog: Catalog
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class _Role:
    name: str            # StatefulSet name
    replicas: int
    args: str            # vespa's start-container.sh roles
    readiness_port: int | None
    resources: dict[str, str]


class Vespa(pulumi.ComponentResource):
    """StatefulSets, their headless Service, the query and deploy Services and the NetworkPolicy."""

    def __init__(self, name: str, args: VespaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:Vespa", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        roles = self._roles()
        if args.vespa.mode == "single":
            pulumi.log.info("storage: Vespa runs as one node (config server and services in one pod; development only)",
                            resource=self)
        configservers = [f"{r.name}-{i}.{HEADLESS}.{self._namespace}.svc.cluster.local"
                         for r in roles if "configserver" in r.args for i in range(r.replicas)]
        self._service(HEADLESS, selector={}, headless=True)
        query_role = roles[-1].name
        self._service(NAME, selector={ROLE_LABEL: query_role}, ports={"http": QUERY_PORT})
        self._service(f"{NAME}-config", selector={ROLE_LABEL: roles[0].name}, ports={"config": CONFIG_PORT})
        for role in roles:
            self._stateful_set(role, ",".join(configservers))
            if args.site.prod:
                self._disruption_budget(role)
        self._network_policy()
        # every Vespa node's metrics proxy serves Prometheus' format here (docs.vespa.ai, "Monitoring")
        pod_monitor(NAME, self._namespace, self._labels(), selector_labels(NAME), args.site, self._child(),
                    path="/prometheus/v1/values")
        self.register_outputs({"query": vespa_query_url(),
                               "deploy": f"http://{NAME}-config.{self._namespace}.svc:{CONFIG_PORT}"})

    def _roles(self) -> list[_Role]:
        vespa = self._args.vespa
        node_resources = {"cpu": vespa.cpu, "memory": vespa.memory}
        if vespa.mode == "single":
            return [_Role(NAME, 1, "configserver,services", CONFIG_PORT, node_resources)]
        return [_Role(f"{NAME}-configserver", vespa.config_servers, "configserver,services", None, CONFIG_SERVER_RESOURCES),
                _Role(f"{NAME}-content", vespa.content_nodes, "services", None, node_resources),
                _Role(f"{NAME}-container", vespa.container_nodes, "services", QUERY_PORT, node_resources)]

    def _labels(self, role: str | None = None) -> dict[str, str]:
        return {**common_labels(PLANE), **selector_labels(NAME), **({ROLE_LABEL: role} if role else {})}

    def _stateful_set(self, role: _Role, configservers: str) -> None:
        prod, zone_label = self._args.site.prod, self._args.site.zone_label
        pod_labels = self._labels(role.name)
        readiness = None if role.readiness_port is None else k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/state/v1/health", port=role.readiness_port),
            period_seconds=10, failure_threshold=3)
        volumes = [("var", "/opt/vespa/var", self._args.vespa.storage_size), ("logs", "/opt/vespa/logs", "10Gi")]
        metadata = self._metadata(role.name, pod_labels, annotations={
            EXEMPT: "read-only-root-filesystem", f"{EXEMPT}-reason": WRITABLE_ROOT_REASON})
        k8s.apps.v1.StatefulSet(role.name, metadata=metadata, spec=k8s.apps.v1.StatefulSetSpecArgs(
            service_name=HEADLESS,
            replicas=role.replicas,
            pod_management_policy="Parallel",  # config servers must start together to form the quorum
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={ROLE_LABEL: role.name}),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=pod_labels),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(VESPA_USER),
                    affinity=one_pod_per_node({ROLE_LABEL: role.name}) if prod else None,
                    topology_spread_constraints=[spread(zone_label, {ROLE_LABEL: role.name}, hard=True)] if prod else None,
                    containers=[k8s.core.v1.ContainerArgs(
                        name=NAME, image=VESPA_IMAGE, args=[role.args],
                        env=[k8s.core.v1.EnvVarArgs(name="VESPA_CONFIGSERVERS", value=configservers)],
                        ports=[k8s.core.v1.ContainerPortArgs(name=n, container_port=p) for n, p in (
                            ("http", QUERY_PORT), ("config", CONFIG_PORT), ("metrics", METRICS_PORT))],
                        readiness_probe=readiness,
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests=role.resources, limits={"memory": role.resources["memory"]}),
                        # Vespa writes below /opt/vespa outside its volumes
                        security_context=restricted_container(read_only_root=False),
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name=n, mount_path=path) for n, path, _ in volumes],
                    )],
                ),
            ),
            volume_claim_templates=[k8s.core.v1.PersistentVolumeClaimArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=n),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"], storage_class_name=self._args.block_storage_class,
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size})),
            ) for n, _, size in volumes],
            persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                when_deleted="Retain", when_scaled="Retain"),
        ), opts=self._child(stateful=True))

    def _disruption_budget(self, role: _Role) -> None:
        """One pod of a role at a time: the config servers keep their quorum, content keeps its redundancy."""
        k8s.policy.v1.PodDisruptionBudget(role.name, metadata=self._metadata(role.name, self._labels(role.name)),
                                          spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                                              max_unavailable=1,
                                              selector=k8s.meta.v1.LabelSelectorArgs(match_labels={ROLE_LABEL: role.name})),
                                          opts=self._child())

    def _service(self, name: str, selector: dict[str, str], headless: bool = False,
                 ports: dict[str, int] | None = None) -> None:
        every_port = {"http": QUERY_PORT, "config": CONFIG_PORT, "metrics": METRICS_PORT, "content": CONTENT_PORT}
        k8s.core.v1.Service(name, metadata=self._metadata(name, self._labels()), spec=k8s.core.v1.ServiceSpecArgs(
            cluster_ip="None" if headless else None,
            publish_not_ready_addresses=headless or None,
            selector={**selector_labels(NAME), **selector},
            ports=[k8s.core.v1.ServicePortArgs(name=n, port=p, target_port=p) for n, p in (ports or every_port).items()],
        ), opts=self._child())

    def _network_policy(self) -> None:
        vespa_pods = peer(pods=selector_labels(NAME))
        clients = [service_peer(self._args.catalog.by_name(c)) for c in SEARCH_CLIENTS]
        metadata = self._metadata(NAME, self._labels())
        k8s.networking.v1.NetworkPolicy(NAME, metadata=metadata, spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[vespa_pods]),
                     k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                         from_=clients, ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=QUERY_PORT, protocol="TCP")]),
                     scrape_ingress(self._args.site, [METRICS_PORT]),
                     *self._deployers()],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[vespa_pods])],
        ), opts=self._child())

    def _deployers(self) -> list[k8s.networking.v1.NetworkPolicyIngressRuleArgs]:
        """The search team's deployers, to the deploy API (only the config servers serve it)."""
        namespaces = self._args.vespa.deployer_namespaces
        return [k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[peer(namespace) for namespace in namespaces],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=CONFIG_PORT, protocol="TCP")])] if namespaces else []

    def _metadata(self, name: str, labels: dict[str, str],
                  annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=labels, annotations=annotations)

    def _child(self, stateful: bool = False) -> pulumi.ResourceOptions:
        keep = self._args.site.keeps(stateful)
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=list(self._args.depends_on),
                                      protect=keep, retain_on_delete=keep)
