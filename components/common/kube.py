"""Small builders every component shares: NetworkPolicy peers, custom resources, PodMonitor specs, environment
variables from Secrets and ConfigMaps, spreading and anti-affinity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.site import Site
from foundry.catalog import Service
from foundry.labels import namespace_for, selector_labels

# a workload's Secrets that another team creates (the wiring policy then does not look for them in the stack)
EXTERNAL_SECRETS = "policy.openfoundry.dev/external-secrets"


@dataclass(frozen=True)
class Pods:
    """Another component's pods as a component that admits them (or hands them a Secret) names them: the namespace
    they run in and the labels that select them."""

    namespace: str
    labels: Mapping[str, str]

    def peer(self) -> k8s.networking.v1.NetworkPolicyPeerArgs:
        return peer(self.namespace, self.labels)


def peer(namespace: str | None = None, pods: Mapping[str, str] | None = None) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Pods by labels, in one namespace by name; either part may be left out."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": namespace})
        if namespace else None,
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pods)) if pods else None,
    )


def service_peer(service: Service) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """A catalog service's pods, in its plane's namespace."""
    return peer(namespace_for(service.plane), selector_labels(service.name))


def custom_resource(api_version: str, kind: str, name: str, namespace: pulumi.Input[str], labels: Mapping[str, str],
                    spec: Mapping[str, Any], opts: pulumi.ResourceOptions, resource_name: str | None = None,
                    annotations: Mapping[str, str] | None = None) -> k8s.apiextensions.CustomResource:
    """An operator's resource; its Pulumi name is `<name>-<kind>` unless told otherwise."""
    return k8s.apiextensions.CustomResource(
        resource_name or f"{name}-{kind.lower()}", api_version=api_version, kind=kind,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels),
                                            annotations=dict(annotations) if annotations else None),
        spec=dict(spec), opts=opts)


def pod_monitor_spec(pods: Mapping[str, str], port: str = "metrics", path: str | None = None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"port": port, **({"path": path} if path else {})}
    return {"selector": {"matchLabels": dict(pods)}, "podMetricsEndpoints": [endpoint]}


def pod_monitor(name: str, namespace: pulumi.Input[str], labels: Mapping[str, str], pods: Mapping[str, str], site: Site,
                opts: pulumi.ResourceOptions, port: str = "metrics", path: str | None = None,
                resource_name: str | None = None) -> k8s.apiextensions.CustomResource:
    """A PodMonitor the cluster's Prometheus selects (its selector labels), scraping `port` of the `pods`."""
    return custom_resource("monitoring.coreos.com/v1", "PodMonitor", name, namespace, {**labels, **site.scrape_labels},
                           pod_monitor_spec(pods, port, path), opts, resource_name=resource_name)


def scrape_ingress(site: Site, ports: Sequence[int]) -> k8s.networking.v1.NetworkPolicyIngressRuleArgs:
    """Prometheus, from its namespace, to the metrics ports."""
    return k8s.networking.v1.NetworkPolicyIngressRuleArgs(
        from_=[peer(site.monitoring.namespace)],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in ports])


def secret_env(variable: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
    """An environment variable read from one key of a Secret in the pod's namespace (required: the pod waits for it)."""
    return k8s.core.v1.EnvVarArgs(name=variable, value_from=k8s.core.v1.EnvVarSourceArgs(
        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)))


def config_map_env(variable: str, config_map: str, key: str) -> k8s.core.v1.EnvVarArgs:
    """An environment variable read from one key of a ConfigMap in the pod's namespace."""
    return k8s.core.v1.EnvVarArgs(name=variable, value_from=k8s.core.v1.EnvVarSourceArgs(
        config_map_key_ref=k8s.core.v1.ConfigMapKeySelectorArgs(name=config_map, key=key)))


ROLLOUT_REVISION = "pod-template-hash"   # the label a Deployment's ReplicaSet gives its pods


def spread_spec(topology_key: str, pods: Mapping[str, str], hard: bool) -> dict[str, Any]:
    """Pods spread evenly over `topology_key`; `hard` refuses to schedule rather than skew. A hard spread honours node
    taints: nodes cordoned after a zone is lost (or tainted out-of-service) stop counting as a domain, so the lost
    pods' replacements can be placed in the zones left instead of waiting for an empty zone to catch up
    (docs/reports.md). This is the rule as a custom resource's pod template spells it; `spread` is the same rule typed."""
    spec: dict[str, Any] = {"maxSkew": 1, "topologyKey": topology_key,
                            "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
                            "labelSelector": {"matchLabels": dict(pods)}}
    if hard:
        spec["nodeTaintsPolicy"] = "Honor"
    return spec


def spread(topology_key: str, pods: Mapping[str, str], hard: bool,
           per_revision: bool = False) -> k8s.core.v1.TopologySpreadConstraintArgs:
    """`spread_spec` as the typed argument of a pod spec the program builds. `per_revision` (a Deployment's pods)
    counts only the pods of the incoming pod's ReplicaSet: during a rolling update the scheduler would otherwise count
    the old pods about to go, and the new set could end skewed (two of three Trino workers in one zone after an
    upgrade; the cluster tier's upgrade rehearsal met it). `matchLabelKeys` is beta and on by default since
    Kubernetes 1.27 (MatchLabelKeysInPodTopologySpread)."""
    rule = spread_spec(topology_key, pods, hard)
    return k8s.core.v1.TopologySpreadConstraintArgs(
        max_skew=rule["maxSkew"], topology_key=rule["topologyKey"], when_unsatisfiable=rule["whenUnsatisfiable"],
        node_taints_policy=rule.get("nodeTaintsPolicy"),
        match_label_keys=[ROLLOUT_REVISION] if per_revision else None,
        label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=rule["labelSelector"]["matchLabels"]))


def one_pod_per_node(pods: Mapping[str, str]) -> k8s.core.v1.AffinityArgs:
    """Never two of these pods on one node."""
    return k8s.core.v1.AffinityArgs(pod_anti_affinity=k8s.core.v1.PodAntiAffinityArgs(
        required_during_scheduling_ignored_during_execution=[k8s.core.v1.PodAffinityTermArgs(
            topology_key="kubernetes.io/hostname",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pods)))]))
