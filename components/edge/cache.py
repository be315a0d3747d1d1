"""Valkey for the gateway (seed: "Redis for gateway-oriented caching and coordination").

The official Valkey image, run as plain Kubernetes resources. One node in development; in prod a StatefulSet
of `edge.cache.nodes` pods, each running Valkey and a Sentinel: the first pod is the primary on a cold start,
every later start asks the Sentinels who the primary is and replicates from it, and the Sentinels promote a
replica when the primary stays down. The gateway, which names one server, reaches the primary through a proxy that
follows the Sentinels' choice (components/edge/primary.py). The password is a
generated Pulumi secret. Data lives in memory with an append-only file on the pod's emptyDir (it survives a
container restart, not the pod: cached entries carry TTLs and coordination state is short-lived), and only
the gateway may connect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.credentials import GeneratedPassword
from components.common.endpoints import PlatformEndpoint
from components.common.kube import (
    one_pod_per_node,
    peer,
    pod_monitor,
    scrape_ingress,
    secret_env,
    service_peer,
    spread,
)
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.edge.primary import NAME as PRIMARY_SERVICE
from components.edge.primary import PrimaryProxy, PrimaryProxyArgs
from foundry.catalog import Catalog
from foundry.config import Cache
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import VALKEY_EXPORTER_IMAGE, VALKEY_IMAGE

NAME = "valkey"
PLANE = "edge"
HEADLESS = "valkey-headless"
AUTH_SECRET = "valkey-auth"
VALKEY_PORT = 6379
SENTINEL_PORT = 26379
EXPORTER_PORT = 9121
PRIMARY_SET = "openfoundry"      # the name the Sentinels monitor the primary under
VALKEY_USER = 999                # the image's `valkey` user
CLIENTS = ("gateway",)
DOWN_AFTER_MS = 5000
FAILOVER_TIMEOUT_MS = 60000

# The primary on record: the first Sentinel that knows it (exit 0), else the first pod (exit 1: nobody knows,
# a cold start). valkey-cli reads the password from VALKEYCLI_AUTH, never from its command line.
CURRENT_PRIMARY = r"""set -u
i=0
while [ "$i" -lt "$NODES" ]; do
  answer="$(valkey-cli -h "$STATEFULSET-$i.$HEADLESS" -p "$SENTINEL_PORT" \
            SENTINEL get-master-addr-by-name "$PRIMARY_SET" 2>/dev/null | head -n 1)" || answer=""
  if [ -n "$answer" ]; then echo "$answer"; exit 0; fi
  i=$((i + 1))
done
echo "$STATEFULSET-0.$HEADLESS"
exit 1
"""

# A pod the Sentinels still name as primary has just restarted: it waits for them to promote a replica rather
# than serve (its append-only file survives a container restart, not a new pod).
START_VALKEY = r"""set -eu
self="$(hostname).$HEADLESS"
conf="$DATA_DIR/valkey.conf"
{
  echo "include /etc/valkey/valkey.conf"
  echo "requirepass $VALKEY_PASSWORD"
  echo "masterauth $VALKEY_PASSWORD"
  echo "replica-announce-ip $self"
} > "$conf"
if [ "$NODES" -gt 1 ]; then
  if primary="$(sh /etc/valkey/current-primary.sh)" && [ "$primary" = "$self" ]; then
    sleep $((2 * DOWN_AFTER_MS / 1000))
    primary="$(sh /etc/valkey/current-primary.sh)" || true
  fi
  if [ "$primary" != "$self" ]; then
    echo "replicaof $primary $VALKEY_PORT" >> "$conf"
  fi
fi
exec valkey-server "$conf"
"""

START_SENTINEL = r"""set -eu
self="$(hostname).$HEADLESS"
conf="$SENTINEL_DIR/sentinel.conf"
primary="$(sh /etc/valkey/current-primary.sh)" || true
cat > "$conf" <<EOF
port $SENTINEL_PORT
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
requirepass $VALKEY_PASSWORD
sentinel sentinel-pass $VALKEY_PASSWORD
sentinel monitor $PRIMARY_SET $primary $VALKEY_PORT $QUORUM
sentinel auth-pass $PRIMARY_SET $VALKEY_PASSWORD
sentinel down-after-milliseconds $PRIMARY_SET $DOWN_AFTER_MS
sentinel failover-timeout $PRIMARY_SET $FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $PRIMARY_SET 1
EOF
exec valkey-sentinel "$conf"
"""

PING = 'valkey-cli -p "$1" PING | grep -q PONG'


def quorum(nodes: int) -> int:
    """Sentinels that must agree the primary is down: a majority."""
    return nodes // 2 + 1


def memory_bytes(memory: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    for suffix, factor in units.items():
        if memory.endswith(suffix):
            return int(float(memory[: -len(suffix)]) * factor)
    return int(float(memory))


def max_memory_bytes(memory: str) -> int:
    """Valkey's own limit: 80 % of the container's, leaving room for replication buffers and forks."""
    return int(memory_bytes(memory) * 0.8)


def server_config(cache: Cache) -> str:
    """valkey.conf without secrets (the start script adds the password)."""
    return "\n".join([
        f"port {VALKEY_PORT}",
        "bind * -::*",
        "dir /data",
        'save ""',
        # an append-only file on the pod's emptyDir: a restarted container comes back with its data
        "appendonly yes",
        "appendfsync everysec",
        f"maxmemory {max_memory_bytes(cache.memory)}",
        # cached entries carry TTLs and are evicted first; coordination keys without one are never evicted
        "maxmemory-policy volatile-lru",
        "replica-read-only yes",
        "",
    ])


def cache_endpoint(cache: Cache) -> PlatformEndpoint:
    """What the gateway gets: REDIS_URL, as go-redis parses it (the gateway reads it as OF_REDIS_URL), with the
    password composed in from the Secret. go-redis' URL names one server: the Valkey Service in development; in prod
    the primary's proxy (components/edge/primary.py), which follows the Sentinels' choice."""
    namespace = namespace_for(PLANE)
    server = PRIMARY_SERVICE if cache.nodes > 1 else NAME
    host = f"{server}.{namespace}.svc"
    return PlatformEndpoint(namespace=namespace, pods=tuple(selector_labels(server).items()), ports=(VALKEY_PORT,), env=(),
                            secret=AUTH_SECRET, secret_env=(("REDIS_PASSWORD", "password"),),
                            composed=(("REDIS_URL", f"redis://:$(REDIS_PASSWORD)@{host}:{VALKEY_PORT}/0"),))


@dataclass(frozen=True)
class GatewayCacheArgs:
    cache: Cache
    site: Site
    catalog: Catalog
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class GatewayCache(pulumi.ComponentResource):
    """The StatefulSet, its Services, configuration and scripts, the password and the NetworkPolicy."""

    def __init__(self, name: str, args: GatewayCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:edge:GatewayCache", name, None, opts)
        self._args = args
        self._namespace = namespace_for(PLANE)
        cache = args.cache
        password = GeneratedPassword(NAME, opts=pulumi.ResourceOptions(parent=self))
        secret = k8s.core.v1.Secret(AUTH_SECRET, metadata=self._metadata(AUTH_SECRET), type="Opaque",
                                    string_data={"password": password.value}, opts=self._child())
        files = {"valkey.conf": server_config(cache), "current-primary.sh": CURRENT_PRIMARY,
                 "start-valkey.sh": START_VALKEY, "start-sentinel.sh": START_SENTINEL}
        config = k8s.core.v1.ConfigMap(NAME, metadata=self._metadata(NAME), data=files, opts=self._child())
        self._services()
        self._stateful_set(files, depends_on=[secret, config])
        if args.site.prod:
            k8s.policy.v1.PodDisruptionBudget(NAME, metadata=self._metadata(NAME), spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME))),
                opts=self._child())
        if self._sentinels:
            PrimaryProxy(PRIMARY_SERVICE, PrimaryProxyArgs(
                namespace=self._namespace, servers=self._pod_names(), valkey_pods=selector_labels(NAME),
                clients=self._clients(), password_secret=AUTH_SECRET, site=args.site, provider=args.provider,
                depends_on=[*args.depends_on, secret]), opts=pulumi.ResourceOptions(parent=self))
        self._network_policy()
        pod_monitor(NAME, self._namespace, common_labels(PLANE), selector_labels(NAME), args.site, self._child())
        self.register_outputs({"url": dict(cache_endpoint(cache).composed)["REDIS_URL"].replace(
            "$(REDIS_PASSWORD)", "<password>")})

    @property
    def _sentinels(self) -> bool:
        return self._args.cache.nodes > 1

    def _services(self) -> None:
        ports = {"valkey": VALKEY_PORT, **({"sentinel": SENTINEL_PORT} if self._sentinels else {})}
        for name, headless in ((NAME, False), (HEADLESS, True)):
            k8s.core.v1.Service(name, metadata=self._metadata(name), spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None" if headless else None,
                # pods resolve each other before they are ready: a Sentinel names the primary by host name
                publish_not_ready_addresses=headless or None,
                selector=selector_labels(NAME),
                ports=[k8s.core.v1.ServicePortArgs(name=n, port=p, target_port=p, protocol="TCP")
                       for n, p in ports.items()]), opts=self._child())

    def _stateful_set(self, files: dict[str, str], depends_on: Sequence[pulumi.Resource]) -> None:
        cache, site = self._args.cache, self._args.site
        labels = {**common_labels(PLANE), **selector_labels(NAME)}
        digest = hashlib.sha256("\0".join(f"{k}\0{v}" for k, v in sorted(files.items())).encode()).hexdigest()
        containers = [self._container("valkey", "start-valkey.sh", VALKEY_PORT, cache.memory, "/data")]
        if self._sentinels:
            containers.append(self._container("sentinel", "start-sentinel.sh", SENTINEL_PORT, "64Mi", "/sentinel"))
        containers.append(self._exporter())
        k8s.apps.v1.StatefulSet(NAME, metadata=self._metadata(NAME), spec=k8s.apps.v1.StatefulSetSpecArgs(
            service_name=HEADLESS,
            replicas=cache.nodes,
            # one at a time: the first pod is the primary and its Sentinel is up before the others ask
            pod_management_policy="OrderedReady",
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations={"openfoundry.io/config-sha256": digest}),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=restricted_pod(VALKEY_USER),
                    affinity=one_pod_per_node(selector_labels(NAME)) if site.prod else None,
                    topology_spread_constraints=[spread(site.zone_label, selector_labels(NAME), hard=site.prod)],
                    containers=containers,
                    volumes=[
                        k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=NAME)),
                        # room for the append-only file and its rewrite beside it
                        k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                            size_limit=str(3 * memory_bytes(cache.memory)))),
                        k8s.core.v1.VolumeArgs(name="sentinel", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                            size_limit="16Mi")),
                    ],
                ),
            ),
        ), opts=self._child(depends_on=depends_on, stateful=True))

    def _container(self, name: str, script: str, port: int, memory: str, work_dir: str) -> k8s.core.v1.ContainerArgs:
        nodes = self._args.cache.nodes
        settings = {"NODES": str(nodes), "STATEFULSET": NAME, "HEADLESS": HEADLESS,
                    "VALKEY_PORT": str(VALKEY_PORT), "SENTINEL_PORT": str(SENTINEL_PORT), "PRIMARY_SET": PRIMARY_SET,
                    "QUORUM": str(quorum(nodes)), "DOWN_AFTER_MS": str(DOWN_AFTER_MS),
                    "FAILOVER_TIMEOUT_MS": str(FAILOVER_TIMEOUT_MS), "DATA_DIR": "/data", "SENTINEL_DIR": "/sentinel"}
        ping = k8s.core.v1.ExecActionArgs(command=["sh", "-c", PING, "ping", str(port)])
        return k8s.core.v1.ContainerArgs(
            name=name, image=VALKEY_IMAGE, image_pull_policy="IfNotPresent",
            command=["sh", f"/etc/valkey/{script}"],
            env=[*(k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in settings.items()),
                 *(secret_env(variable, AUTH_SECRET, "password") for variable in ("VALKEY_PASSWORD", "VALKEYCLI_AUTH"))],
            ports=[k8s.core.v1.ContainerPortArgs(name=name, container_port=port, protocol="TCP")],
            readiness_probe=k8s.core.v1.ProbeArgs(exec_=ping, period_seconds=5, timeout_seconds=2, failure_threshold=3),
            liveness_probe=k8s.core.v1.ProbeArgs(exec_=ping, initial_delay_seconds=15, period_seconds=10,
                                                 timeout_seconds=2, failure_threshold=5),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "100m" if name == "valkey" else "20m", "memory": memory}, limits={"memory": memory}),
            security_context=restricted_container(),
            working_dir=work_dir,
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="config", mount_path="/etc/valkey", read_only=True),
                           k8s.core.v1.VolumeMountArgs(name="data" if name == "valkey" else "sentinel",
                                                       mount_path=work_dir)],
        )

    @staticmethod
    def _exporter() -> k8s.core.v1.ContainerArgs:
        """Valkey's INFO as Prometheus metrics (Valkey exposes none itself)."""
        return k8s.core.v1.ContainerArgs(
            name="exporter", image=VALKEY_EXPORTER_IMAGE, image_pull_policy="IfNotPresent",
            env=[k8s.core.v1.EnvVarArgs(name="REDIS_ADDR", value=f"redis://localhost:{VALKEY_PORT}"),
                 k8s.core.v1.EnvVarArgs(name="REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value=f":{EXPORTER_PORT}"),
                 secret_env("REDIS_PASSWORD", AUTH_SECRET, "password")],
            ports=[k8s.core.v1.ContainerPortArgs(name="metrics", container_port=EXPORTER_PORT, protocol="TCP")],
            readiness_probe=k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port="metrics"),
                                                  period_seconds=10),
            liveness_probe=k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port="metrics"),
                                                 period_seconds=30),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "10m", "memory": "32Mi"},
                                                           limits={"memory": "64Mi"}),
            security_context=restricted_container())

    def _pod_names(self) -> list[str]:
        """Each pod's stable name (HAProxy's resolver applies no search domain: fully qualified)."""
        return [f"{NAME}-{i}.{HEADLESS}.{self._namespace}.svc.cluster.local" for i in range(self._args.cache.nodes)]

    def _clients(self) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
        return [service_peer(self._args.catalog.by_name(c)) for c in CLIENTS]

    def _network_policy(self) -> None:
        """The nodes among themselves; in development the gateway, in prod the primary's proxy instead."""
        nodes = peer(pods=selector_labels(NAME))
        clients = [peer(pods=selector_labels(PRIMARY_SERVICE))] if self._sentinels else self._clients()
        ports = [k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP")
                 for p in (VALKEY_PORT, *([SENTINEL_PORT] if self._sentinels else []))]
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(NAME), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(NAME)),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[nodes], ports=ports),
                     k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=clients, ports=[
                         k8s.networking.v1.NetworkPolicyPortArgs(port=VALKEY_PORT, protocol="TCP")]),
                     scrape_ingress(self._args.site, [EXPORTER_PORT])],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[nodes], ports=ports)],
        ), opts=self._child())

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=common_labels(PLANE))

    def _child(self, depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False) -> pulumi.ResourceOptions:
        # in prod the StatefulSet holds the gateway's live coordination state: deleting it is never a side effect
        keep = self._args.site.keeps(stateful)
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on], protect=keep, retain_on_delete=keep)
