"""The whole program (__main__.py) under mocks: a broken config registers nothing at all."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from foundry import topics
from foundry.catalog import Service
from foundry.defaults import deep_merge
from ops.engine.stacks import read_stack_values
from tests.mocks import RecordingMocks
from tests.unit.test_config import BROKEN

PROGRAM = Path(__file__).resolve().parents[2] / "__main__.py"


def run_program(values: dict[str, Any], stack: str) -> tuple[RecordingMocks, BaseException | None]:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="openfoundry", stack=stack, preview=False)
    pulumi.runtime.set_all_config({f"openfoundry:{k}": v if isinstance(v, str) else json.dumps(v)
                                   for k, v in values.items()})
    failure: BaseException | None = None

    @pulumi.runtime.test
    def program() -> None:
        nonlocal failure
        try:
            runpy.run_path(str(PROGRAM), run_name="__main__")
        except pulumi.RunError as err:
            failure = err

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({})
    return mocks, failure


@pytest.mark.own_platform
def test_the_dev_program_registers_the_platform(deployed: list[Service]) -> None:
    mocks, failure = run_program(read_stack_values("dev"), "dev")
    assert failure is None
    deployments = {r.name for r in mocks.registered if r.type == "kubernetes:apps/v1:Deployment"}
    # every catalog service that runs a binary, Lakekeeper and its authorizer (dev leaves Trino out: the seed's
    # development profile)
    assert deployments == {s.name for s in deployed} | {"lakekeeper", "openfga"}
    stateful = {r.name for r in mocks.registered if r.type == "kubernetes:apps/v1:StatefulSet"}
    assert stateful == {"nats", "valkey", "vespa"}
    kinds = {r.type.rpartition(":")[2] for r in mocks.registered}
    assert {"Kafka", "Cluster", "CephCluster", "Stream", "Ingress"} <= kinds


@pytest.mark.parametrize(("case", "overrides", "expected"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_a_broken_config_registers_no_resource(case: str, overrides: dict[str, Any], expected: str) -> None:
    mocks, failure = run_program(deep_merge(read_stack_values("prod"), overrides), "prod")
    assert isinstance(failure, pulumi.RunError)
    assert "nothing was deployed" in str(failure)
    assert mocks.registered == []


@pytest.mark.parametrize(("breaks", "expected"), [
    (lambda t: t.update(owner="nobody"), "data/topics.yaml: topics[cdc.postgres].owner: found 'nobody'"),
    (lambda t: t.update(replicas=2), "data/topics.yaml: topics[cdc.postgres].replicas: found 2; allowed: 3 or more"),
], ids=["owner outside the catalog", "two replicas in prod"])
def test_a_broken_topic_registry_registers_no_resource(breaks: Any, expected: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(topics.REGISTRY_PATH.read_text())
    breaks(next(t for t in data["topics"] if t["name"] == "cdc.postgres"))
    monkeypatch.setattr(topics, "load_registry", lambda: topics.parse_registry(data))
    errors: list[str] = []
    monkeypatch.setattr(pulumi.log, "error", lambda message, *args, **kwargs: errors.append(message))
    mocks, failure = run_program(read_stack_values("prod"), "prod")
    assert isinstance(failure, pulumi.RunError) and "nothing was deployed" in str(failure)
    assert mocks.registered == []
    assert any(expected in e for e in errors), errors
