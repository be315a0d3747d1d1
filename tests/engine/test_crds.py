"""Custom resources against the operators' real CRDs, generated from their published API modules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ops.crds import CrdRegistry, ensure_crds
from ops.validate import ValidationReport, validate_document

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
                        ("barmancloud.cnpg.io", "ObjectStore"), ("monitoring.coreos.com", "PodMonitor")]:
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
    claim = {"apiVersion": "objectbucket.io/v1alpha1", "kind": "ObjectBucketClaim", "metadata": {"name": "b"},
             "spec": {"bucketName": "b", "storageClassName": "ceph-bucket"}}
    report = check(claim, crds)
    assert "hand-written" in report.unchecked["objectbucket.io/v1alpha1/ObjectBucketClaim"]
    assert sum(report.checked.values()) == 0
