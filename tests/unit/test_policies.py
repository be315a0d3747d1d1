"""The policy pack's checks, fast: every policy on a violating and a compliant resource, and the stacks pass."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.mocks import Registered

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
sys.path.insert(0, str(POLICIES_DIR))

from openfoundry_policies.catalog import POLICIES, PolicySpec, violations  # noqa: E402
from openfoundry_policies.resources import Resource  # noqa: E402

from tests.unit.policy_branches import BRANCHES, EDGES, RESTRICTED_CONTAINER, flink  # noqa: E402
from tests.unit.policy_cases import CASES, EXPECTED_MESSAGE, deployment  # noqa: E402

SPECS = {spec.name: spec for spec in POLICIES}


def as_resources(registered: list[Registered]) -> list[Resource]:
    return [Resource(r.type, r.inputs, r.name, r.protected) for r in registered]


def levels(stack: str) -> dict[str, str]:
    config = json.loads((POLICIES_DIR / "config" / f"{stack}.json").read_text())
    default = config.get("all", "mandatory")
    return {name: config.get(name, {}).get("enforcementLevel", default) if isinstance(config.get(name), dict)
            else config.get(name, default) for name in SPECS}


def messages(spec: PolicySpec, resources: list[Resource]) -> list[str]:
    return [message for _, message in violations(spec, resources)]


def test_the_pack_has_forty_or_more_named_policies_each_with_its_source() -> None:
    assert len(POLICIES) >= 40 and len(SPECS) == len(POLICIES)
    assert all(spec.source and spec.description and (spec.resource_check or spec.stack_check) for spec in POLICIES)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_passes_every_policy_it_enforces(stack: str, request: pytest.FixtureRequest) -> None:
    resources = as_resources(request.getfixturevalue(f"{stack}_resources"))
    enforced = {name for name, level in levels(stack).items() if level == "mandatory"}
    failures = {name: messages(SPECS[name], resources)[:3] for name in enforced}
    assert {name: found for name, found in failures.items() if found} == {}


def test_prod_enforces_every_policy(request: pytest.FixtureRequest) -> None:
    assert set(levels("prod").values()) == {"mandatory"}


# What a single development node cannot hold: replica counts and quorums, erasure coding, HA, deletion protection.
DEV_RELAXATIONS = {"postgres-synchronous-replicas", "lakekeeper-production-ready", "vespa-config-server-quorum",
                   "kafka-durability", "kafka-topic-replicas", "jetstream-replicas", "ceph-erasure-coding-layout",
                   "ceph-mon-quorum", "ceph-replicated-pools", "stateful-resources-protected", "cassandra-zone-racks"}


def test_dev_relaxes_only_what_one_node_cannot_hold() -> None:
    relaxed = {name for name, level in levels("dev").items() if level != "mandatory"}
    assert relaxed == DEV_RELAXATIONS


def test_dev_breaks_only_its_relaxations_and_needs_each_of_them(dev_resources: list[Registered]) -> None:
    resources = as_resources(dev_resources)
    violated = {spec.name for spec in POLICIES if messages(spec, resources)}
    assert violated == DEV_RELAXATIONS


def test_every_policy_has_a_case() -> None:
    assert {name for name, _, _ in CASES} == set(SPECS) == set(EXPECTED_MESSAGE)


@pytest.mark.parametrize(("name", "violating", "compliant"), CASES, ids=[c[0] for c in CASES])
def test_a_policy_flags_its_violation_and_passes_the_compliant_case(name: str, violating: list[Resource],
                                                                    compliant: list[Resource]) -> None:
    found = messages(SPECS[name], violating)
    assert any(EXPECTED_MESSAGE[name] in m for m in found), found
    assert messages(SPECS[name], compliant) == []


@pytest.mark.parametrize(("name", "violating", "expected"), BRANCHES,
                         ids=[f"{b[0]}:{b[2][:30]}" for b in BRANCHES])
def test_each_branch_of_a_policy_fires_on_its_own_breakage(name: str, violating: list[Resource], expected: str) -> None:
    found = messages(SPECS[name], violating)
    assert any(expected in m for m in found), found


def test_a_flink_deployment_with_a_restricted_main_container_passes_the_hygiene_policies() -> None:
    compliant = [flink(RESTRICTED_CONTAINER)]
    hygiene = [spec for spec in POLICIES if spec.group == "hygiene" and spec.resource_check is not None]
    assert len(hygiene) >= 15
    assert {spec.name: messages(spec, compliant) for spec in hygiene if messages(spec, compliant)} == {}


def exempted(resource: Resource, policies: str) -> Resource:
    """The resource with the pack's exemption annotation naming `policies` (a comma-separated list)."""
    return Resource(resource.type, {**resource.props, "metadata": {
        **resource.metadata, "annotations": {"policy.openfoundry.dev/exempt": policies}}})


def test_an_exemption_annotation_names_the_policy_it_lifts() -> None:
    writable = deployment({"securityContext": {**deployment().props["spec"]["template"]["spec"]["containers"][0][
        "securityContext"], "readOnlyRootFilesystem": False}})
    exempt = exempted(writable, "read-only-root-filesystem")
    assert messages(SPECS["read-only-root-filesystem"], [writable])
    assert messages(SPECS["read-only-root-filesystem"], [exempt]) == []
    assert messages(SPECS["run-as-non-root"], [exempt]) == []


def test_an_exemption_annotation_may_name_several_policies() -> None:
    loose = deployment({"securityContext": {"readOnlyRootFilesystem": False, "runAsNonRoot": False,
                                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                            "seccompProfile": {"type": "RuntimeDefault"}}})
    exempt = exempted(loose, "read-only-root-filesystem, run-as-non-root")
    assert messages(SPECS["read-only-root-filesystem"], [loose]) and messages(SPECS["run-as-non-root"], [loose])
    assert messages(SPECS["read-only-root-filesystem"], [exempt]) == []
    assert messages(SPECS["run-as-non-root"], [exempt]) == []


@pytest.mark.parametrize(("name", "compliant"), EDGES, ids=[e[0] for e in EDGES])
def test_a_policy_lets_pass_what_only_looks_like_its_violation(name: str, compliant: list[Resource]) -> None:
    assert compliant and messages(SPECS[name], compliant) == []
