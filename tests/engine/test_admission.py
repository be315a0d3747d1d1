"""Every pod the platform runs, the operators' included, passes the Pod Security level of its namespace, as the API
server's admission library decides; and the three operator settings the production review found missing would each
have been refused."""

from __future__ import annotations

import dataclasses

import pytest

from foundry.config import load_stack_config
from ops.checks import admission
from ops.checks.runtime import Runtime, operator_settings
from ops.engine.stacks import read_stack_values
from tests.engine.conftest import rendered

# ops.runtime (imported above) puts policies/ on the path, where the operand models live
from openfoundry_policies.operands import OperatorSettings, nack_pod, strimzi_pods  # isort: skip

pytestmark = pytest.mark.engine


def runtime_of(stack: str) -> Runtime:
    return Runtime.of(load_stack_config(read_stack_values(stack), stack), rendered(stack))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_pod_is_admitted(stack: str) -> None:
    results = admission.check(runtime_of(stack))
    makers = {a.pod.made_by for a in results}
    assert {"the program", "CloudNativePG", "Strimzi", "NACK", "Rook"} <= makers
    assert [f"{a.pod.name}: {a.violations}" for a in results if not a.allowed] == []
    levels = {a.pod.namespace: a.level for a in results}
    assert levels["openfoundry-ingestion"] == "restricted" and levels["rook-ceph"] == "privileged"


def test_strimzis_default_provider_makes_pods_a_restricted_namespace_refuses() -> None:
    runtime = runtime_of("prod")
    kafka = next(r for r in runtime.resources if r.kind == "Kafka")
    pools = [r for r in runtime.resources if r.kind == "KafkaNodePool"]
    baseline = dataclasses.replace(operator_settings(), strimzi_pod_security="baseline")
    results = admission.admit(strimzi_pods(kafka, pools, baseline), {"openfoundry-ingestion": "restricted"})
    assert results and not any(a.allowed for a in results)
    assert any("allowPrivilegeEscalation != false" in v for a in results for v in a.violations)
    fixed = admission.admit(strimzi_pods(kafka, pools, operator_settings()), {"openfoundry-ingestion": "restricted"})
    assert all(a.allowed for a in fixed)


def test_nacks_chart_defaults_make_a_pod_a_restricted_namespace_refuses() -> None:
    defaults = OperatorSettings()   # the chart's empty security contexts, an image without a USER
    (refused,) = admission.admit([nack_pod(defaults)], {"openfoundry-control": "restricted"})
    assert not refused.allowed and any("runAsNonRoot" in v for v in refused.violations)
    (admitted,) = admission.admit([nack_pod(operator_settings())], {"openfoundry-control": "restricted"})
    assert admitted.allowed, admitted.violations


def test_a_flink_main_container_without_its_security_context_is_refused() -> None:
    runtime = runtime_of("prod")
    (jobmanager,) = [p for p in runtime.pods if p.name.endswith("iceberg-maintenance: jobmanager")]
    spec = dict(jobmanager.spec)
    spec["containers"] = [{k: v for k, v in c.items() if k != "securityContext"} for c in spec["containers"]]
    (refused,) = admission.admit([dataclasses.replace(jobmanager, spec=spec)], {"openfoundry-storage": "restricted"})
    assert not refused.allowed and any("capabilities" in v for v in refused.violations)
