"""The operators every plane's custom resources need, from their official Helm charts at pinned versions.

`install: managed` renders each chart with `helm.v4.Chart` (inside the Kubernetes provider, like
`helm template`: no Helm release, every child visible to policies). `install: external` declares them
already installed (a platform team's own GitOps, or an offline render where no chart repository is
reachable): nothing is registered, and the program says so in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.storage.ceph import OBC_ADDITIONAL_CONFIG_FIELDS
from foundry.config import Operators as OperatorSettings
from foundry.labels import namespace_for
from foundry.versions import CHARTS, ChartPin


@dataclass(frozen=True)
class OperatorSpec:
    key: str                   # entry in foundry.versions.CHARTS
    namespace: str
    pod_security: str          # what the operator's own pods need (Rook's CSI and OSD pods are privileged)
    needs: tuple[str, ...] = ()
    plane: str | None = None   # installed into a plane's namespace (which the plane namespaces create)


# A restricted namespace admits only pods that run as non-root with seccomp RuntimeDefault, no privilege escalation
# and no capabilities: how each chart is told to make such pods.
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                  "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
NACK_POD_LABELS = {"app": "nack"}   # the chart's legacy labels: `app: <release>`


def operator_specs() -> tuple[OperatorSpec, ...]:
    """In install order; `needs` are the operators whose CRDs or webhooks a chart relies on."""
    return (
        OperatorSpec("cert-manager", "cert-manager", "restricted"),
        # trust-manager reads its sources from cert-manager's namespace (its trust namespace) and writes bundles
        OperatorSpec("trust-manager", "cert-manager", "restricted", needs=("cert-manager",)),
        OperatorSpec("rook-ceph", "rook-ceph", "privileged"),
        OperatorSpec("ceph-csi-drivers", "rook-ceph", "privileged", needs=("rook-ceph",)),
        OperatorSpec("strimzi", "strimzi", "restricted"),
        OperatorSpec("cloudnative-pg", "cnpg-system", "restricted"),
        # The Barman Cloud plugin must live in the CNPG operator's namespace and needs cert-manager.
        OperatorSpec("plugin-barman-cloud", "cnpg-system", "restricted", needs=("cloudnative-pg", "cert-manager")),
        # namespaced beside NATS: its Role reads the Secrets of the control namespace only, where its Account is
        OperatorSpec("nack", namespace_for("control"), "restricted", plane="control"),
        OperatorSpec("flink-kubernetes-operator", "flink-system", "baseline", needs=("cert-manager",)),
        # its webhooks' certificates come from cert-manager (templates/issuer.yaml, webhook-serving-cert.yaml)
        OperatorSpec("k8ssandra-operator", "k8ssandra-operator", "restricted", needs=("cert-manager",)),
    )


def chart_values(key: str) -> dict[str, Any]:
    """The values each chart is installed with (documented chart parameters only); for `install: external`, the
    values the platform team installs the same charts with (docs/operators.md)."""
    operator_namespace = "rook-ceph"
    values: dict[str, dict[str, Any]] = {
        "cert-manager": {"crds": {"enabled": True}},
        "trust-manager": {"crds": {"enabled": True}},
        # Rook accepts only maxObjects and maxSize in a claim's additionalConfig unless told more:
        # the warehouse claim grants Trino's RGW user by bucketPolicy (components/storage/ceph.py)
        "rook-ceph": {"crds": {"enabled": True}, "obcAllowAdditionalConfigFields": OBC_ADDITIONAL_CONFIG_FIELDS},
        # Rook's own values for this chart: driver names must match Rook's provisioner names.
        "ceph-csi-drivers": {
            "operatorConfig": {
                "namespace": operator_namespace,
                "driverSpecDefaults": {
                    "imageSet": {"name": "rook-csi-operator-image-set-configmap"},
                    "nodePlugin": {"priorityClassName": "system-node-critical"},
                    "controllerPlugin": {"priorityClassName": "system-cluster-critical"},
                },
            },
            "drivers": {
                "rbd": {"enabled": True, "name": f"{operator_namespace}.rbd.csi.ceph.com"},
                "cephfs": {"enabled": True, "name": f"{operator_namespace}.cephfs.csi.ceph.com"},
                "nfs": {"enabled": False},
                "nvmeof": {"enabled": False},
            },
        },
        "strimzi": {
            "watchNamespaces": [namespace_for("ingestion")],
            "extraEnvs": [
                # Strimzi's default (Baseline) provider sets no container securityContext: the restricted Pod
                # Security level of the ingestion namespace would refuse every broker, controller and operand pod
                # (strimzi 1.2.0 ClusterOperatorConfig, RestrictedPodSecurityProvider)
                {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"},
                # the NetworkPolicies Strimzi generates admit its cluster operator from this namespace only
                {"name": "STRIMZI_OPERATOR_NAMESPACE_LABELS", "value": "kubernetes.io/metadata.name=strimzi"},
            ],
        },
        "cloudnative-pg": {"crds": {"create": True}},
        "plugin-barman-cloud": {},
        "nack": {
            # the control loop applies an Account's credentials to its Streams and Consumers; the legacy mode with
            # a server URL dials NATS anonymously (nack main.go, natsConfigFromOpts)
            "jetstream": {"controlLoop": True, "nats": {"url": f"nats://nats.{namespace_for('control')}.svc:4222"}},
            "namespaced": True,
            # the chart's defaults are empty and the image has no USER: root, refused by a restricted namespace
            "securityContext": RESTRICTED_POD,
            "containerSecurityContext": RESTRICTED_CONTAINER,
        },
        "flink-kubernetes-operator": {"watchNamespaces": [namespace_for("storage")]},
        # k8ssandra-operator (and the cass-operator it bundles) watching the storage plane, where the operational
        # store is; the CRD upgrader is a pre-upgrade hook that fetches the chart from helm.k8ssandra.io
        # (templates/crd/batch_job.yaml), and the subchart refuses to render where Helm's capabilities do not list
        # cert-manager (cass-operator templates/deployment.yaml:1-7); their pods get no seccomp profile by default
        "k8ssandra-operator": {
            # and its own: with Medusa it looks up its purge CronJobs there, and a cache without that namespace
            # fails every reconcile before a datacenter is made (medusa_reconciler.go; k8ssandra-operator#1507)
            "global": {"clusterScoped": True, "watchNamespaces": [namespace_for("storage"), "k8ssandra-operator"]},
            "disableCrdUpgraderJob": True,
            "podSecurityContext": RESTRICTED_POD, "securityContext": RESTRICTED_CONTAINER,
            "cass-operator": {"disableCertManagerCheck": True,
                              "podSecurityContext": RESTRICTED_POD, "securityContext": RESTRICTED_CONTAINER},
        },
    }
    return values[key]


@dataclass(frozen=True)
class OperatorsArgs:
    operators: OperatorSettings
    provider: k8s.Provider
    plane_namespaces: Mapping[str, k8s.core.v1.Namespace] = field(default_factory=dict)   # by plane


class Operators(pulumi.ComponentResource):
    """cert-manager, Rook Ceph (+ ceph-csi-drivers), Strimzi, CloudNativePG (+ Barman Cloud plugin), NACK, the
    Flink Kubernetes Operator and k8ssandra-operator."""

    charts: dict[str, k8s.helm.v4.Chart]

    def __init__(self, name: str, args: OperatorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:platform:Operators", name, None, opts)
        self.install = args.operators.install
        self.charts = {}
        if self.install == "external":
            pulumi.log.info("operators: install=external: cert-manager, trust-manager, Rook Ceph, ceph-csi-drivers, "
                            "Strimzi, CloudNativePG, Barman Cloud, NACK, Flink and k8ssandra-operator are expected to be "
                            "installed already, with the values of docs/operators.md", resource=self)
        else:
            namespaces = self._namespaces(args.provider)
            for spec in operator_specs():
                namespace = args.plane_namespaces[spec.plane] if spec.plane else namespaces[spec.namespace]
                self.charts[spec.key] = self._chart(spec, namespace, args.provider)
        self.register_outputs({"install": self.install, "charts": sorted(self.charts)})

    def ready(self, *keys: str) -> list[pulumi.Resource]:
        """What a custom resource must depend on: the charts that install its CRDs (none when external)."""
        return [self.charts[key] for key in keys if key in self.charts]

    def _namespaces(self, provider: k8s.Provider) -> dict[str, k8s.core.v1.Namespace]:
        return {
            name: k8s.core.v1.Namespace(name, metadata=k8s.meta.v1.ObjectMetaArgs(**metadata),
                                        opts=pulumi.ResourceOptions(parent=self, provider=provider))
            for name, metadata in operator_namespaces().items()
        }

    def _chart(self, spec: OperatorSpec, namespace: k8s.core.v1.Namespace, provider: k8s.Provider) -> k8s.helm.v4.Chart:
        pin: ChartPin = CHARTS[spec.key]
        return k8s.helm.v4.Chart(
            spec.key,
            chart=pin.repository if pin.is_oci else pin.chart,
            version=pin.version,
            repository_opts=None if pin.is_oci else k8s.helm.v4.RepositoryOptsArgs(repo=pin.repository),
            namespace=namespace.metadata.name,
            values=chart_values(spec.key),
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider,
                depends_on=[namespace, *(self.charts[need] for need in spec.needs)],
            ),
        )


_LEVELS = ("restricted", "baseline", "privileged")


def operator_namespaces() -> dict[str, dict[str, Any]]:
    """The namespaces the charts go into (those not a plane's), each at the Pod Security level its most
    demanding operator needs: name -> metadata."""
    levels: dict[str, str] = {}
    for spec in (s for s in operator_specs() if s.plane is None):
        levels[spec.namespace] = _most_permissive(levels.get(spec.namespace), spec.pod_security)
    return {name: {
        "name": name,
        "labels": {"app.kubernetes.io/part-of": "openfoundry", "app.kubernetes.io/managed-by": "pulumi",
                   "pod-security.kubernetes.io/enforce": level},
        # the charts' own traffic (webhooks, API server, metrics) is theirs to declare
        "annotations": {"policy.openfoundry.dev/exempt": "network-policy-per-namespace",
                        "policy.openfoundry.dev/exempt-reason": "operator namespace: the chart's traffic is not modelled here"},
    } for name, level in levels.items()}


def _most_permissive(current: str | None, wanted: str) -> str:
    return wanted if current is None else max(current, wanted, key=_LEVELS.index)
