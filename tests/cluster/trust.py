"""What cert-manager and trust-manager made of the stack on the rehearsal cluster (ops/rehearsal/controllers.py):
the Secrets cert-manager issued for its Certificates, checked against the issuer each names, and the ConfigMaps
trust-manager wrote for its Bundles."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtensionOID
from lightkube import Client

from components.cluster.trust import CA, CA_NAMESPACE
from ops.rehearsal import kube as api

CERT_MANAGER = "cert-manager.io/v1"
TRUST_MANAGER = "trust.cert-manager.io/v1alpha1"
CLUSTER_RESOURCE_NAMESPACE = CA_NAMESPACE   # where a ClusterIssuer's CA Secret lives (cert-manager's namespace)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def certificates(kube: Client) -> list[dict[str, Any]]:
    return api.listed(kube, CERT_MANAGER, "Certificate")


def ready_once_issued(kube: Client, names: set[tuple[str, str]], timeout: float = 90) -> dict[tuple[str, str], dict[str, Any]]:
    """The Certificates named (namespace, name) once every one is Ready, or as they are when the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        found = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in certificates(kube)
                 if (c["metadata"]["namespace"], c["metadata"]["name"]) in names}
        if (all(condition(c, "Ready").get("status") == "True" for c in found.values()) and set(found) == names) \
                or time.monotonic() > deadline:
            return found
        time.sleep(1)


def secret_data(kube: Client, namespace: str, name: str) -> dict[str, bytes]:
    secret = kube.get(api.kind("v1", "Secret"), name, namespace=namespace).to_dict()
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


def secret_annotations(kube: Client, namespace: str, name: str) -> dict[str, str]:
    secret = kube.get(api.kind("v1", "Secret"), name, namespace=namespace).to_dict()
    return dict(secret["metadata"].get("annotations") or {})


@dataclass(frozen=True)
class Issued:
    """A Certificate's Secret, read as its clients read it."""

    chain: list[x509.Certificate]
    ca: x509.Certificate | None

    @classmethod
    def of(cls, kube: Client, certificate: dict[str, Any]) -> Issued:
        data = secret_data(kube, certificate["metadata"]["namespace"], certificate["spec"]["secretName"])
        return cls(x509.load_pem_x509_certificates(data["tls.crt"]),
                   x509.load_pem_x509_certificate(data["ca.crt"]) if data.get("ca.crt") else None)

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    def dns_names(self) -> set[str]:
        try:
            extension = self.leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        except x509.ExtensionNotFound:
            return set()
        return set(extension.value.get_values_for_type(x509.DNSName))

    def is_ca(self) -> bool:
        return bool(self.leaf.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca)


def issuer_of(kube: Client, certificate: dict[str, Any]) -> dict[str, Any]:
    ref = certificate["spec"]["issuerRef"]
    if ref.get("kind") == "ClusterIssuer":
        return dict(kube.get(api.kind(CERT_MANAGER, "ClusterIssuer"), ref["name"]).to_dict())
    return dict(kube.get(api.kind(CERT_MANAGER, "Issuer"), ref["name"],
                         namespace=certificate["metadata"]["namespace"]).to_dict())


def signer(kube: Client, certificate: dict[str, Any]) -> x509.Certificate | None:
    """The certificate that must have signed this one, by its issuer's kind: a CA issuer's certificate (its Secret,
    in the cluster resource namespace for a ClusterIssuer), or None for a self-signed issuer (it signs itself)."""
    return authority(kube, issuer_of(kube, certificate))


def platform_ca(kube: Client) -> x509.Certificate | None:
    return authority(kube, dict(kube.get(api.kind(CERT_MANAGER, "ClusterIssuer"), CA).to_dict()))


def authority(kube: Client, issuer: dict[str, Any]) -> x509.Certificate | None:
    if "selfSigned" in issuer["spec"]:
        return None
    namespace = CLUSTER_RESOURCE_NAMESPACE if issuer["kind"] == "ClusterIssuer" else issuer["metadata"]["namespace"]
    return x509.load_pem_x509_certificate(secret_data(kube, namespace, issuer["spec"]["ca"]["secretName"])["tls.crt"])


def verifies(issued: Issued, by: x509.Certificate | None) -> bool:
    """The leaf is signed by `by` (by itself when None), which is the Secret's own ca.crt, and is valid now."""
    authority = by or issued.leaf
    try:
        issued.leaf.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        return False
    now = time.time()
    return (issued.ca == authority and issued.leaf.not_valid_before_utc.timestamp() <= now
            < issued.leaf.not_valid_after_utc.timestamp())


def requests_of(kube: Client, certificate: dict[str, Any]) -> list[dict[str, Any]]:
    """The CertificateRequests cert-manager made for this Certificate (owned by it)."""
    uid = certificate["metadata"]["uid"]
    return [r for r in api.listed(kube, CERT_MANAGER, "CertificateRequest", certificate["metadata"]["namespace"])
            if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])]


def refusal(kube: Client, namespace: str, name: str) -> str:
    """The messages of the Ready conditions of the Certificate's requests: cert-manager's reason for not issuing."""
    (certificate,) = [c for c in api.listed(kube, CERT_MANAGER, "Certificate", namespace) if c["metadata"]["name"] == name]
    return " ".join(condition(r, "Ready").get("message", "") for r in requests_of(kube, certificate))


def written_by_cert_manager_for(kube: Client, certificate: dict[str, Any]) -> bool:
    """The Secret carries the annotations cert-manager's issuing controller writes for this Certificate and its
    issuer, and every request cert-manager made for it was approved. A Secret outlives its Certificate (the chart's
    default: no owner reference), so a Certificate declared again (prod after dev's destroy, the same CA) takes
    over the Secret it finds valid, without a request of its own (cert-manager's trigger policies)."""
    metadata, ref = certificate["metadata"], certificate["spec"]["issuerRef"]
    annotations = secret_annotations(kube, metadata["namespace"], certificate["spec"]["secretName"])
    return (annotations.get("cert-manager.io/certificate-name") == metadata["name"]
            and annotations.get("cert-manager.io/issuer-name") == ref["name"]
            and annotations.get("cert-manager.io/issuer-kind") == ref.get("kind", "Issuer")
            and all(condition(r, "Approved").get("status") == "True" for r in requests_of(kube, certificate)))


def synced(kube: Client, name: str) -> bool:
    """trust-manager's Synced condition on the Bundle's current generation."""
    bundle = kube.get(api.kind(TRUST_MANAGER, "Bundle"), name).to_dict()
    synced_condition = condition(bundle, "Synced")
    return bool(synced_condition.get("status") == "True"
                and synced_condition.get("observedGeneration") == bundle["metadata"]["generation"])


def selected_namespaces(kube: Client, bundle: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(the namespaces the Bundle's target selector selects, the others)."""
    wanted = bundle["spec"]["target"]["namespaceSelector"]["matchLabels"].items()
    namespaces = api.listed(kube, "v1", "Namespace")
    chosen = {n["metadata"]["name"] for n in namespaces if wanted <= (n["metadata"].get("labels") or {}).items()}
    return chosen, {n["metadata"]["name"] for n in namespaces} - chosen


def bundle_targets(kube: Client, bundle: dict[str, Any]) -> dict[str, list[x509.Certificate]]:
    """namespace: the certificates under the Bundle's target key, for every ConfigMap of the Bundle's name."""
    name, key = bundle["metadata"]["name"], bundle["spec"]["target"]["configMap"]["key"]
    return {c["metadata"]["namespace"]: pem_certificates((c.get("data") or {}).get(key, "").encode())
            for c in api.listed(kube, "v1", "ConfigMap") if c["metadata"]["name"] == name}


def pem_certificates(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:   # no certificate at all
        return []
