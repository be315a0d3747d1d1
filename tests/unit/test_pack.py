"""The pack as the engine runs it: every case through pulumi-policy's own analyzer servicer, as gRPC requests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policies"))

from openfoundry_policies.pack import KnownProps, policies
from openfoundry_policies.resources import Resource

from tests.unit.policy_branches import BRANCHES
from tests.unit.policy_cases import CASES, EXPECTED_MESSAGE, deployment

SERVICER = _PolicyAnalyzerServicer("openfoundry", "0.0.1", policies(), EnforcementLevel.MANDATORY,
                                   None, None, None, None, None, None, None)


def request(resource: Resource) -> dict[str, Any]:
    properties = struct_pb2.Struct()
    properties.update(dict(resource.props))
    urn = f"urn:pulumi:prod::openfoundry::{resource.type}::{resource.name or 'r'}"
    return {"type": resource.type, "properties": properties, "urn": urn, "name": resource.name or "r",
            "options": proto.AnalyzerResourceOptions(protect=resource.protected)}


def diagnostics(resources: list[Resource]) -> list[str]:
    found = [d for r in resources for d in SERVICER.Analyze(proto.AnalyzeRequest(**request(r)), None).diagnostics]
    stack = proto.AnalyzeStackRequest(resources=[proto.AnalyzerResource(**request(r)) for r in resources])
    found += SERVICER.AnalyzeStack(stack, None).diagnostics
    return [f"{d.policyName}: {d.message}" for d in found]


@pytest.mark.parametrize(("name", "violating", "compliant"), CASES, ids=[c[0] for c in CASES])
def test_the_engine_reports_each_violation_under_its_policy(name: str, violating: list[Resource],
                                                            compliant: list[Resource]) -> None:
    assert any(m.startswith(f"{name}: ") and EXPECTED_MESSAGE[name] in m for m in diagnostics(violating))
    assert [m for m in diagnostics(compliant) if m.startswith(f"{name}: ")] == []


@pytest.mark.parametrize(("name", "violating", "expected"), BRANCHES, ids=[f"{b[0]}:{b[2][:30]}" for b in BRANCHES])
def test_the_engine_reports_each_branch(name: str, violating: list[Resource], expected: str) -> None:
    assert any(m.startswith(f"{name}: ") and expected in m for m in diagnostics(violating))


def test_a_value_unknown_during_preview_reads_as_none_and_every_policy_still_runs() -> None:
    props = {"metadata": {"name": "a", "annotations": {"generated": UNKNOWN_STRING_VALUE}},
             "data": {"password": UNKNOWN_STRING_VALUE}, "items": [{"k": UNKNOWN_STRING_VALUE}, "plain"]}
    view = KnownProps(unknown_checking_proxy(deserialize_properties(props)))
    assert view["metadata"]["annotations"]["generated"] is None and view["data"] == {"password": None}
    assert view["items"][0]["k"] is None and view["items"][1] == "plain"
    assert sorted(view) == ["data", "items", "metadata"] and len(view) == 3 and view.get("spec") is None

    unknown_image = deployment({"image": UNKNOWN_STRING_VALUE})
    found = diagnostics([unknown_image])
    assert not any("can't run policy" in m for m in found), found
    assert any(m.startswith("pinned-image-tags: ") for m in found), found


def test_a_message_quotes_what_the_engine_handed_over_as_plain_values() -> None:
    """The engine hands props over as proxies: a message quoting a selector or an ACL's resource used to print
    `<…KnownProps object at 0x…>` to the auditor."""
    messages = [m for _, violating, *_ in [*CASES, *BRANCHES] for m in diagnostics(violating)]
    assert len(messages) > len(CASES)
    assert [m for m in messages if " object at 0x" in m] == []
    assert any("selects no pod template of the stack ({'app.kubernetes.io/name': 'nobody'})" in m for m in messages)
