"""One namespace per plane, restricted by Pod Security Standards and closed by default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from foundry.labels import common_labels, namespace_for

POD_SECURITY_LEVEL = "restricted"
# The namespaces deny all egress; pods whose software talks to the Kubernetes API (operators' instance managers,
# Strimzi's rack init container) get this rule. The API server's address is the cluster's, so ports only.
API_SERVER_PORTS = (443, 6443)


def api_server_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in API_SERVER_PORTS])


@dataclass(frozen=True)
class PlaneNamespacesArgs:
    planes: Sequence[str]
    provider: k8s.Provider


class PlaneNamespaces(pulumi.ComponentResource):
    """A Namespace per plane, labelled for the restricted Pod Security Standard, with a default-deny
    NetworkPolicy (ingress and egress) and the one exception every pod needs: DNS."""

    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: PlaneNamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:platform:PlaneNamespaces", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespaces = {plane: self._namespace(plane, child) for plane in args.planes}
        for plane, namespace in self.namespaces.items():
            self._default_deny(plane, namespace, child)
            self._allow_dns(plane, namespace, child)
        self.register_outputs({"namespaces": {p: ns.metadata.name for p, ns in self.namespaces.items()}})

    def name_of(self, plane: str) -> pulumi.Output[str]:
        return self.namespaces[plane].metadata.name

    @staticmethod
    def _namespace(plane: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
        labels = {
            **common_labels(plane),
            "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
            "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
            "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
        }
        return k8s.core.v1.Namespace(
            namespace_for(plane),
            metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace_for(plane), labels=labels),
            opts=opts,
        )

    @staticmethod
    def _default_deny(plane: str, namespace: k8s.core.v1.Namespace, opts: pulumi.ResourceOptions) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{plane}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=namespace.metadata.name,
                                                labels=common_labels(plane)),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]),
            opts=opts,
        )

    @staticmethod
    def _allow_dns(plane: str, namespace: k8s.core.v1.Namespace, opts: pulumi.ResourceOptions) -> None:
        dns_ports = [k8s.networking.v1.NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")]
        k8s.networking.v1.NetworkPolicy(
            f"{plane}-allow-dns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-dns", namespace=namespace.metadata.name,
                                                labels=common_labels(plane)),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": "kube-system"}),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                    )],
                    ports=dns_ports,
                )],
            ),
            opts=opts,
        )
