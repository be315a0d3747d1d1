"""The platform's internal trust: a CA of its own, issued by cert-manager, and its certificate handed to every
namespace of the platform by trust-manager, so a client anywhere can verify a server the CA signed.

A self-signed ClusterIssuer signs the CA certificate (kept in cert-manager's namespace, trust-manager's trust
namespace); a CA ClusterIssuer signs servers' certificates from it (Kafka's listener); a trust-manager Bundle
copies the CA certificate into a ConfigMap `openfoundry-internal-ca` of each namespace labelled part of the
platform, and follows it when cert-manager renews it. Clients mount that ConfigMap at CA_DIRECTORY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import custom_resource
from foundry.labels import PART_OF

ROOT_ISSUER = "openfoundry-selfsigned-root"
CA = "openfoundry-internal-ca"          # the CA's Certificate and Secret, its ClusterIssuer, the Bundle and its ConfigMaps
CA_NAMESPACE = "cert-manager"           # cert-manager's cluster resource namespace and trust-manager's trust namespace
CA_KEY = "ca.crt"
CA_DIRECTORY = "/etc/openfoundry/ca"
CA_FILE = f"{CA_DIRECTORY}/{CA_KEY}"
CERT_MANAGER_API = "cert-manager.io/v1"
LABELS = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "pulumi"}


def ca_issuer() -> dict[str, str]:
    """The issuerRef of a certificate the platform's clients trust."""
    return {"kind": "ClusterIssuer", "name": CA, "group": "cert-manager.io"}


def ca_volume() -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name="openfoundry-ca", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
        name=CA, items=[k8s.core.v1.KeyToPathArgs(key=CA_KEY, path=CA_KEY)]))


def ca_mount() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name="openfoundry-ca", mount_path=CA_DIRECTORY, read_only=True)


@dataclass(frozen=True)
class PlatformTrustArgs:
    provider: k8s.Provider
    cert_manager_ready: list[pulumi.Resource]


class PlatformTrust(pulumi.ComponentResource):
    """The internal CA (self-signed root, CA certificate, CA ClusterIssuer) and its distribution (a Bundle)."""

    issuer: pulumi.Resource

    def __init__(self, name: str, args: PlatformTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:platform:Trust", name, None, opts)
        self._args = args
        root = self._cluster_resource("ClusterIssuer", ROOT_ISSUER, {"selfSigned": {}})
        certificate = custom_resource(CERT_MANAGER_API, "Certificate", CA, CA_NAMESPACE, LABELS, {
            "isCA": True, "commonName": "OpenFoundry internal CA", "secretName": CA,
            "duration": "87600h", "renewBefore": "720h",
            # the CA keeps its key on renewal: certificates it signed stay valid against the renewed CA certificate
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never"},
            "issuerRef": {"kind": "ClusterIssuer", "name": ROOT_ISSUER, "group": "cert-manager.io"},
        }, self._child(depends_on=[root]))
        self.issuer = self._cluster_resource("ClusterIssuer", CA, {"ca": {"secretName": CA}}, depends_on=[certificate])
        self._cluster_resource("Bundle", CA, {
            "sources": [{"secret": {"name": CA, "key": CA_KEY}}],
            "target": {"configMap": {"key": CA_KEY},
                       "namespaceSelector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}},
        }, api_version="trust.cert-manager.io/v1alpha1", depends_on=[certificate])
        self.register_outputs({"issuer": CA, "bundle": CA})

    def _cluster_resource(self, kind: str, name: str, spec: dict[str, Any], api_version: str = CERT_MANAGER_API,
                          depends_on: list[pulumi.Resource] | None = None) -> pulumi.Resource:
        """A cluster-scoped resource: no namespace."""
        return k8s.apiextensions.CustomResource(
            f"{name}-{kind.lower()}", api_version=api_version, kind=kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=LABELS), spec=spec,
            opts=self._child(depends_on=depends_on or []))

    def _child(self, depends_on: list[pulumi.Resource]) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.cert_manager_ready, *depends_on])
