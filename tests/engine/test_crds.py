"""Custom resources against the operators' real CRDs, generated from their published artifacts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ops.checks.crds import CrdRegistry, ensure_crds
from ops.checks.schemas import ValidationReport, validate_document

pytestmark = pytest.mark.engine

CLUSTER: dict[str, Any] = {
    "apiVersion": "postgresql.cnpg.io/v1",
    "kind": "Cluster",
    "metadata": {"name": "pg-probe", "namespace": "openfoundry-compute"},
    "spec": {
        "instances": 3,
        "storage": {"size": "20Gi"},
        "postgresql": {"synchronous": {"method": "any", "number": 1, "dataDurability": "required"}},
        "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                     "parameters": {"barmanObjectName": "pg-probe-backups"}}],
    },
}


@pytest.fixture(scope="module")
def crds() -> CrdRegistry:
    return CrdRegistry.load(ensure_crds())


def check(document: dict[str, Any], crds: CrdRegistry) -> ValidationReport:
    report = ValidationReport()
    validate_document(document, "probe.yaml", report, crds)
    return report


def test_the_generated_crds_cover_the_rendered_operator_kinds(crds: CrdRegistry) -> None:
    for group, kind in [("postgresql.cnpg.io", "Cluster"), ("postgresql.cnpg.io", "ScheduledBackup"),
                        ("postgresql.cnpg.io", "Pooler"), ("postgresql.cnpg.io", "Database"),
                        ("barmancloud.cnpg.io", "ObjectStore"), ("monitoring.coreos.com", "PodMonitor"),
                        ("kafka.strimzi.io", "Kafka"), ("kafka.strimzi.io", "KafkaNodePool"),
                        ("kafka.strimzi.io", "KafkaTopic"), ("kafka.strimzi.io", "KafkaUser"),
                        ("ceph.rook.io", "CephCluster"), ("ceph.rook.io", "CephBlockPool"),
                        ("ceph.rook.io", "CephObjectStore"), ("cert-manager.io", "Certificate"),
                        ("cert-manager.io", "Issuer"), ("flink.apache.org", "FlinkDeployment")]:
        assert crds.knows(group, kind), (group, kind)


def test_a_valid_cluster_passes(crds: CrdRegistry) -> None:
    report = check(CLUSTER, crds)
    assert report.failures == [] and report.checked["postgresql.cnpg.io/v1/Cluster"] == 1


def test_an_unknown_cluster_field_is_reported_with_its_path(crds: CrdRegistry) -> None:
    broken = copy.deepcopy(CLUSTER)
    broken["spec"]["postgresql"]["synchronus"] = broken["spec"]["postgresql"].pop("synchronous")
    (failure,) = check(broken, crds).failures
    assert "at spec.postgresql" in failure and "synchronus" in failure


def test_a_wrong_enum_is_reported(crds: CrdRegistry) -> None:
    broken = copy.deepcopy(CLUSTER)
    broken["spec"]["postgresql"]["synchronous"]["dataDurability"] = "maybe"
    (failure,) = check(broken, crds).failures
    assert "spec.postgresql.synchronous.dataDurability" in failure


def test_a_version_the_crd_does_not_serve_is_reported(crds: CrdRegistry) -> None:
    broken = {**CLUSTER, "apiVersion": "postgresql.cnpg.io/v2"}
    (failure,) = check(broken, crds).failures
    assert "not served" in failure


def test_a_valid_object_store_passes(crds: CrdRegistry) -> None:
    store = {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": "s"},
             "spec": {"configuration": {"destinationPath": "s3://b/", "endpointURL": "http://rgw"},
                      "retentionPolicy": "30d"}}
    assert check(store, crds).failures == []


def test_a_kind_without_a_published_crd_is_unchecked_not_passed(crds: CrdRegistry) -> None:
    stream = {"apiVersion": "jetstream.nats.io/v1beta2", "kind": "Stream", "metadata": {"name": "s"},
              "spec": {"name": "s", "subjects": ["a.>"]}}
    report = check(stream, crds)
    assert "hand-written" in report.unchecked["jetstream.nats.io/v1beta2/Stream"]
    assert sum(report.checked.values()) == 0


def test_a_bucket_claim_is_checked_against_the_library_rook_builds_on(crds: CrdRegistry) -> None:
    claim = {"apiVersion": "objectbucket.io/v1alpha1", "kind": "ObjectBucketClaim", "metadata": {"name": "b"},
             "spec": {"bucketName": "b", "storageClassName": "ceph-bucket"}}
    assert check(claim, crds).failures == []
    claim["spec"]["bucketname"] = "b"
    assert any("bucketname" in failure for failure in check(claim, crds).failures)


KAFKA: dict[str, Any] = {
    "apiVersion": "kafka.strimzi.io/v1",
    "kind": "Kafka",
    "metadata": {"name": "events"},
    "spec": {
        "kafka": {
            "version": "4.1.0",
            "rack": {"type": "topology-label", "topologyKey": "topology.kubernetes.io/zone"},
            "listeners": [{"name": "tls", "port": 9093, "type": "internal", "tls": True,
                           "authentication": {"type": "scram-sha-512"}}],
            "authorization": {"type": "simple"},
            "config": {"min.insync.replicas": 2, "auto.create.topics.enable": False},
        },
        "entityOperator": {"topicOperator": {}, "userOperator": {}},
    },
}


def test_a_valid_strimzi_kafka_passes(crds: CrdRegistry) -> None:
    assert check(KAFKA, crds).failures == []


def test_a_misspelled_kafka_rack_is_reported_with_its_path(crds: CrdRegistry) -> None:
    broken = copy.deepcopy(KAFKA)
    broken["spec"]["kafka"]["rak"] = broken["spec"]["kafka"].pop("rack")
    (failure,) = check(broken, crds).failures
    assert "Kafka events: at spec.kafka" in failure and "'rak'" in failure


def test_strimzi_1_serves_only_v1(crds: CrdRegistry) -> None:
    (failure,) = check({**KAFKA, "apiVersion": "kafka.strimzi.io/v1beta2"}, crds).failures
    assert "not served" in failure


def test_a_kafka_user_acl_with_the_removed_singular_operation_is_reported(crds: CrdRegistry) -> None:
    user = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser", "metadata": {"name": "u"},
            "spec": {"authentication": {"type": "scram-sha-512"},
                     "authorization": {"type": "simple", "acls": [
                         {"resource": {"type": "topic", "name": "dataset.", "patternType": "prefix"},
                          "operation": "Read"}]}}}
    failures = check(user, crds).failures
    assert any("at spec.authorization.acls.0" in f and "'operation' was unexpected" in f for f in failures), failures
    assert any("'operations' is a required property" in f for f in failures), failures


def test_rook_ceph_cluster_fields_are_checked(crds: CrdRegistry) -> None:
    cluster = {"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster", "metadata": {"name": "ceph"},
               "spec": {"cephVersion": {"image": "quay.io/ceph/ceph:v19.2.3"}, "dataDirHostPath": "/var/lib/rook",
                        "mon": {"count": 3, "allowMultiplePerNode": False}}}
    assert check(cluster, crds).failures == []
    cluster["spec"]["mon"]["cuont"] = cluster["spec"]["mon"].pop("count")
    (failure,) = check(cluster, crds).failures
    assert "at spec.mon" in failure and "'cuont'" in failure


def test_a_cert_manager_certificate_is_checked(crds: CrdRegistry) -> None:
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"},
                   "spec": {"secretName": "c-tls", "dnsNames": ["foundry.example.com"],
                            "issuerRef": {"name": "ca", "kind": "Issuer"}}}
    assert check(certificate, crds).failures == []
    del certificate["spec"]["secretName"]
    (failure,) = check(certificate, crds).failures
    assert "secretName" in failure and "required" in failure


def test_a_flink_deployment_is_checked_against_the_shipped_crd(crds: CrdRegistry) -> None:
    deployment = {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "metadata": {"name": "f"},
                  "spec": {"image": "flink:1.20", "flinkVersion": "v1_20", "serviceAccount": "flink",
                           "jobManager": {"resource": {"memory": "2048m", "cpu": 1}},
                           "taskManager": {"resource": {"memory": "2048m", "cpu": 1}},
                           "job": {"jarURI": "local:///opt/flink/usrlib/maintenance.jar", "upgradeMode": "savepoint"}}}
    assert check(deployment, crds).failures == []
    deployment["spec"]["job"]["upgradeMode"] = "sometimes"
    (failure,) = check(deployment, crds).failures
    assert "spec.job.upgradeMode" in failure
