"""Strict schema validation catches what the API server would silently prune."""

from __future__ import annotations

import copy
from typing import Any

from ops.checks.schemas import ValidationReport, validate_document

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "probe", "namespace": "openfoundry-compute"},
    "spec": {
        "selector": {"matchLabels": {"app": "probe"}},
        "template": {
            "metadata": {"labels": {"app": "probe"}},
            "spec": {"containers": [{"name": "probe", "image": "ghcr.io/openfoundry/probe:0.1.0"}]},
        },
    },
}


def test_a_valid_deployment_passes() -> None:
    report = ValidationReport()
    validate_document(DEPLOYMENT, "probe.yaml", report)
    assert report.failures == [] and report.checked["apps/v1/Deployment"] == 1


def test_an_unknown_container_field_is_reported_with_its_path() -> None:
    broken = copy.deepcopy(DEPLOYMENT)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    report = ValidationReport()
    validate_document(broken, "probe.yaml", report)
    assert len(report.failures) == 1
    assert "spec.template.spec.containers.0" in report.failures[0]
    assert "imagePulPolicy" in report.failures[0]


def test_a_custom_resource_is_listed_unchecked_not_passed() -> None:
    report = ValidationReport()
    validate_document({"apiVersion": "kafka.strimzi.io/v1", "kind": "Kafka", "metadata": {"name": "events"}}, "k.yaml",
                      report)
    assert "kafka.strimzi.io/v1/Kafka" in report.unchecked
    assert sum(report.checked.values()) == 0
