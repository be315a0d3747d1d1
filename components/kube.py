"""Small builders every component shares: NetworkPolicy peers, custom resources, PodMonitor specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from foundry.catalog import Service
from foundry.labels import namespace_for, selector_labels


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


def custom_resource(api_version: str, kind: str, name: str, namespace: str, labels: Mapping[str, str],
                    spec: Mapping[str, Any], opts: pulumi.ResourceOptions,
                    resource_name: str | None = None) -> k8s.apiextensions.CustomResource:
    """An operator's resource; its Pulumi name is `<name>-<kind>` unless told otherwise."""
    return k8s.apiextensions.CustomResource(
        resource_name or f"{name}-{kind.lower()}", api_version=api_version, kind=kind,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=dict(spec), opts=opts)


def pod_monitor_spec(pods: Mapping[str, str], port: str = "metrics", path: str | None = None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"port": port, **({"path": path} if path else {})}
    return {"selector": {"matchLabels": dict(pods)}, "podMetricsEndpoints": [endpoint]}
