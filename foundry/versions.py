"""Every version pin of the project, in one place.

The toolchain pins must agree with `requirements.txt` and the wrapper modules under `toolchain/`
(tests/unit/test_versions.py checks it). Chart and image pins carry a renovate comment so a bot can bump them.
This module is stdlib-only: the toolchain bootstrap imports it before any virtualenv exists.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Pulumi toolchain (built from Go modules by ops/toolchain.py) ---------------------------------
# The Go module proxy reachable here serves pkg/v3 and the Python language host together only at the
# 3.188 line (language host pseudo-version of 2025-08-06); the Python SDK is pinned to the same release.
PULUMI_VERSION = "3.188.0"
PULUMI_LANGUAGE_PYTHON_MODULE = "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"
PULUMI_LANGUAGE_PYTHON_PSEUDO = "v3.0.0-20250806165243-bee5e4fa4815"
# pulumi-kubernetes v4.25.0 is commit f47bc2d6f199; provider/v4 is untagged, so it is a pseudo-version.
PULUMI_KUBERNETES_VERSION = "4.25.0"
PULUMI_KUBERNETES_PROVIDER_PSEUDO = "v4.0.0-20260115033456-f47bc2d6f199"
PULUMI_POLICY_VERSION = "1.18.0"

# --- Kubernetes target -------------------------------------------------------------------------------
# Rook v1.20 needs Kubernetes >= 1.31; the schemas the manifests are validated against follow it.
KUBERNETES_VERSION = "1.31.0"

# --- Images --------------------------------------------------------------------------------------------
# CloudNativePG's `standard` flavour ships pgvector (SQL name `vector`); `minimal` does not.
# renovate: datasource=docker depName=ghcr.io/cloudnative-pg/postgresql
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-standard-trixie"

# --- Operator charts (official Helm charts; `helm.v4.Chart` renders them inside the provider) -------------
# Each entry: chart name, version, repository (an https Helm repo or an oci:// reference).


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")


CHARTS = {
    # renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
    "cert-manager": ChartPin("cert-manager", "v1.20.2", "https://charts.jetstack.io"),
    # renovate: datasource=helm depName=rook-ceph registryUrl=https://charts.rook.io/release
    "rook-ceph": ChartPin("rook-ceph", "v1.20.6", "https://charts.rook.io/release"),
    # Rook v1.20 moved CSI to this chart; 0.3.1 is the ceph-csi-operator line rook-ceph v1.20 depends on.
    # renovate: datasource=helm depName=ceph-csi-drivers registryUrl=https://ceph.github.io/ceph-csi-operator
    "ceph-csi-drivers": ChartPin("ceph-csi-drivers", "0.3.1", "https://ceph.github.io/ceph-csi-operator"),
    # Strimzi 1.x serves only kafka.strimzi.io/v1 (KRaft + KafkaNodePools).
    # renovate: datasource=docker depName=quay.io/strimzi-helm/strimzi-kafka-operator
    "strimzi": ChartPin("strimzi-kafka-operator", "1.2.0", "oci://quay.io/strimzi-helm/strimzi-kafka-operator"),
    # chart 0.29.0 = operator 1.30.0
    # renovate: datasource=helm depName=cloudnative-pg registryUrl=https://cloudnative-pg.github.io/charts
    "cloudnative-pg": ChartPin("cloudnative-pg", "0.29.0", "https://cloudnative-pg.github.io/charts"),
    # chart 0.7.0 = plugin v0.13.0; in-tree barmanObjectStore is deprecated since CNPG 1.26
    # renovate: datasource=helm depName=plugin-barman-cloud registryUrl=https://cloudnative-pg.github.io/charts
    "plugin-barman-cloud": ChartPin("plugin-barman-cloud", "0.7.0", "https://cloudnative-pg.github.io/charts"),
    # chart 0.34.0 = controller 0.23.0
    # renovate: datasource=helm depName=nack registryUrl=https://nats-io.github.io/k8s/helm/charts/
    "nack": ChartPin("nack", "0.34.0", "https://nats-io.github.io/k8s/helm/charts/"),
    # renovate: datasource=helm depName=flink-kubernetes-operator
    "flink-kubernetes-operator": ChartPin(
        "flink-kubernetes-operator", "1.15.0", "https://downloads.apache.org/flink/flink-kubernetes-operator-1.15.0/"),
}


# --- API modules the operators' CRDs are generated from (ops/crds.py, with controller-gen) ---------------
# Each must be the API of the operator version pinned above; crds/<name>/go.mod requires exactly this.
CONTROLLER_TOOLS_VERSION = "v0.19.0"


@dataclass(frozen=True)
class CrdSource:
    module: str
    version: str
    package: str          # the Go package whose types carry the kubebuilder markers


CRD_SOURCES = {
    # CloudNativePG operator 1.30.0 (chart 0.29.0)
    "cloudnative-pg": CrdSource("github.com/cloudnative-pg/api", "v1.30.0", "github.com/cloudnative-pg/api/pkg/api/v1"),
    # Barman Cloud plugin v0.13.0 (chart 0.7.0)
    "plugin-barman-cloud": CrdSource("github.com/cloudnative-pg/plugin-barman-cloud", "v0.13.0",
                                     "github.com/cloudnative-pg/plugin-barman-cloud/api/v1"),
    # Prometheus Operator v0.93.0 (PodMonitor, ServiceMonitor, PrometheusRule)
    "prometheus-operator": CrdSource("github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring",
                                     "v0.93.0", "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"),
}

# Kinds no published artifact yields a CRD for: they are listed as unchecked, with this reason.
UNCHECKED_KINDS = {
    "objectbucket.io/ObjectBucketClaim": "its CRD is hand-written in Rook's repository; no published module yields it",
    "jetstream.nats.io/Stream": "NACK's CRDs are hand-written upstream; no published module yields them",
    "jetstream.nats.io/Consumer": "NACK's CRDs are hand-written upstream; no published module yields them",
}
