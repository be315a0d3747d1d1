"""One address for the Valkey primary, for clients that cannot ask the Sentinels (prod only).

The gateway reads one Redis URL and dials the one server it names (go-redis `ParseURL`:
of:services/edge-gateway-service/internal/server/server.go:146-163); its rate limiter fails open on any Redis error
(of:services/edge-gateway-service/internal/middleware/ratelimit/redis.go:18-20), so a URL naming a replica would
turn distributed rate limiting off without a word (every script call is refused READONLY). HAProxy stands between:
it checks every Valkey pod with `INFO replication` each second and sends connections only to the one reporting
`role:master`, and it closes the connections to a pod that stops being primary, so the client reconnects to the one
the Sentinels promoted. Pods are named through the cluster's resolver at run time (a restarted pod has a new
address). During a partition an isolated old primary may answer `role:master` until the Sentinels demote it on
its return: writes in that window are rate-limit counters, which the limiter tolerates (docs/edge.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import one_pod_per_node, peer, pod_monitor, scrape_ingress, secret_env, spread
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from foundry.labels import common_labels, selector_labels
from foundry.versions import HAPROXY_IMAGE

NAME = "valkey-primary"
PORT = 6379
MONITOR_PORT = 8404
HAPROXY_USER = 99      # the official image's `haproxy` user (its Dockerfile's USER)
REPLICAS = 2


def haproxy_config(servers: Sequence[tuple[str, str]], port: int, monitor_port: int = MONITOR_PORT) -> str:
    """haproxy.cfg for `servers` (name, host:port): the password reaches the checks from the environment
    (`"${VALKEY_PASSWORD}"`), never the file."""
    lines = [
        "global",
        "  log stdout format raw local0 info",
        "  maxconn 4096",
        "resolvers cluster",
        "  parse-resolv-conf",
        "  hold valid 5s",
        "  hold nx 2s",
        "defaults",
        "  mode tcp",
        "  log global",
        "  timeout connect 3s",
        "  timeout check 2s",
        # the gateway's pooled connections idle between requests
        "  timeout client 1h",
        "  timeout server 1h",
        "frontend valkey",
        f"  bind :{port}",
        "  default_backend primary",
        "frontend monitor",
        f"  bind :{monitor_port}",
        "  mode http",
        "  monitor-uri /ready",
        # ready only while exactly one primary is known: HAProxy starts every server up until its checks fail, and
        # two servers answering role:master (a partition) is no answer either; a Service with no ready proxy is
        # refused at once, not hung
        "  monitor fail if { nbsrv(primary) lt 1 } || { nbsrv(primary) gt 1 }",
        "  http-request use-service prometheus-exporter if { path /metrics }",
        "backend primary",
        "  option tcp-check",
        "  tcp-check connect",
        '  tcp-check send "AUTH ${VALKEY_PASSWORD}\\r\\n"',
        "  tcp-check expect string +OK",
        '  tcp-check send "INFO replication\\r\\n"',
        "  tcp-check expect string role:master",
        '  tcp-check send "QUIT\\r\\n"',
        "  tcp-check expect string +OK",
        "  default-server check inter 1s fall 2 rise 2 resolvers cluster init-addr none on-marked-down shutdown-sessions",
        *(f"  server {name} {address}" for name, address in servers),
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class PrimaryProxyArgs:
    namespace: str
    servers: Sequence[str]            # every Valkey pod's stable name
    valkey_pods: dict[str, str]       # their labels (the proxy's egress)
    clients: Sequence[k8s.networking.v1.NetworkPolicyPeerArgs]
    password_secret: str
    site: Site
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class PrimaryProxy(pulumi.ComponentResource):
    """HAProxy in front of the Valkey primary: its configuration, Deployment, Service, budget and NetworkPolicy."""

    def __init__(self, name: str, args: PrimaryProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:edge:PrimaryProxy", name, None, opts)
        self._args = args
        config = haproxy_config([(server.split(".")[0], f"{server}:{PORT}") for server in args.servers], PORT)
        config_map = k8s.core.v1.ConfigMap(NAME, metadata=self._metadata(), data={"haproxy.cfg": config},
                                           opts=self._child())
        self._deployment(hashlib.sha256(config.encode()).hexdigest(), depends_on=[config_map])
        k8s.core.v1.Service(NAME, metadata=self._metadata(), spec=k8s.core.v1.ServiceSpecArgs(
            selector=self.pods, ports=[k8s.core.v1.ServicePortArgs(name="valkey", port=PORT, target_port=PORT,
                                                                   protocol="TCP")]), opts=self._child())
        k8s.policy.v1.PodDisruptionBudget(NAME, metadata=self._metadata(), spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.pods)), opts=self._child())
        self._network_policy()
        pod_monitor(NAME, args.namespace, common_labels("edge"), self.pods, args.site, self._child(), port="monitor",
                    path="/metrics")
        self.register_outputs({"servers": list(args.servers)})

    @property
    def pods(self) -> dict[str, str]:
        return selector_labels(NAME)

    def _deployment(self, digest: str, depends_on: Sequence[pulumi.Resource]) -> None:
        site = self._args.site
        monitor = k8s.core.v1.HTTPGetActionArgs(path="/ready", port="monitor")
        container = k8s.core.v1.ContainerArgs(
            name="haproxy", image=HAPROXY_IMAGE, image_pull_policy="IfNotPresent",
            args=["-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"],
            env=[secret_env("VALKEY_PASSWORD", self._args.password_secret, "password")],
            ports=[k8s.core.v1.ContainerPortArgs(name="valkey", container_port=PORT, protocol="TCP"),
                   k8s.core.v1.ContainerPortArgs(name="monitor", container_port=MONITOR_PORT, protocol="TCP")],
            readiness_probe=k8s.core.v1.ProbeArgs(http_get=monitor, period_seconds=2, failure_threshold=2),
            liveness_probe=k8s.core.v1.ProbeArgs(tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="monitor"),
                                                 period_seconds=10, failure_threshold=3),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "50m", "memory": "64Mi"},
                                                           limits={"memory": "128Mi"}),
            security_context=restricted_container(),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="config", mount_path="/usr/local/etc/haproxy",
                                                       read_only=True)])
        k8s.apps.v1.Deployment(NAME, metadata=self._metadata(), spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=REPLICAS,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.pods),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={**common_labels("edge"), **self.pods},
                                                    annotations={"openfoundry.io/config-sha256": digest}),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(HAPROXY_USER),
                    affinity=one_pod_per_node(self.pods),
                    topology_spread_constraints=[spread(site.zone_label, self.pods, hard=True, per_revision=True)],
                    containers=[container],
                    volumes=[k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                        name=NAME))]))), opts=self._child(depends_on=depends_on))

    def _network_policy(self) -> None:
        """The clients in on the Valkey port, Prometheus on the monitor; out to the Valkey pods only (DNS: the
        namespace's own policy)."""
        port = [k8s.networking.v1.NetworkPolicyPortArgs(port=PORT, protocol="TCP")]
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.pods),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=list(self._args.clients), ports=port),
                     scrape_ingress(self._args.site, [MONITOR_PORT])],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[peer(pods=self._args.valkey_pods)], ports=port)],
        ), opts=self._child())

    def _metadata(self) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=self._args.namespace, labels=common_labels("edge"))

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])
