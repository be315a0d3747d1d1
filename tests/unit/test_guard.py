"""`make guard`'s reading of a preview (ops/checks/guard.py), on plans shaped as `pulumi preview --json --diff` gives
them: the engine tier runs it on real ones (tests/engine/test_guard.py)."""

from __future__ import annotations

from typing import Any

from ops.checks.guard import findings, load_accepted, load_immutable

STACK = "urn:pulumi:prod::openfoundry::openfoundry:platform:Plane$"
PG = "kubernetes:postgresql.cnpg.io/v1:Cluster"
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL = {PG, TOPIC}


def step(op: str, kind: str, name: str, **extra: Any) -> dict[str, Any]:
    state = {"type": kind, "inputs": {"metadata": {"name": name}}}
    return {"op": op, "urn": f"{STACK}{kind}::{name}-resource", "oldState": state, "newState": state, **extra}


def test_replacements_deletions_and_frozen_updates_of_state_are_refused_with_their_field() -> None:
    plan = {"steps": [
        step("replace", TOPIC, "a.v1", replaceReasons=["spec.topicName"]),
        step("delete", TOPIC, "b.v1"), step("create", TOPIC, "c.v1"),
        step("update", PG, "pg-x", detailedDiff={"spec.storage.storageClass": {"kind": "update"}}),
        step("update", PG, "pg-y", detailedDiff={"spec.instances": {"kind": "update"}}),
        step("replace", DEPLOYMENT, "web", replaceReasons=["spec.selector"]),
        step("same", PG, "pg-z")]}
    found = {f.name: f for f in findings(plan, set(), STATEFUL, load_immutable())}
    assert set(found) == {"a.v1", "b.v1", "pg-x", "web"}   # a plain update and `same` are nothing to the guard
    assert found["a.v1"].refused and found["a.v1"].fields == ("spec.topicName",)
    assert found["b.v1"].refused and "KafkaTopic c.v1 is created instead" in found["b.v1"].fields[0]
    assert found["pg-x"].refused and found["pg-x"].fields == ("spec.storage.storageClass",)
    assert not found["web"].refused   # stateless and unprotected: listed, allowed


def test_a_protected_resource_is_refused_whatever_its_kind_and_an_accepted_one_passes() -> None:
    plan = {"steps": [step("delete", DEPLOYMENT, "keep"), step("delete", TOPIC, "old.v1")]}
    protected = {f"{STACK}{DEPLOYMENT}::keep-resource"}
    accepted = [{"type": TOPIC, "name": "old.v1", "field": "deleted", "release": "2027.01", "reason": "retired"}]
    found = {f.name: f for f in findings(plan, protected, STATEFUL, {}, accepted)}
    assert found["keep"].refused and found["keep"].protected
    assert not found["old.v1"].refused and found["old.v1"].accepted == "retired (release 2027.01)"


def test_an_acceptance_for_another_field_or_resource_does_not_cover_a_finding() -> None:
    plan = {"steps": [step("replace", TOPIC, "a.v1", replaceReasons=["spec.partitions"])]}
    for entry in ({"type": TOPIC, "name": "a.v1", "field": "spec.topicName"},
                  {"type": TOPIC, "name": "b.v1", "field": "spec.partitions"}):
        (finding,) = findings(plan, set(), STATEFUL, {}, [{**entry, "reason": "x", "release": "1"}])
        assert finding.refused


def test_the_repository_accepts_nothing_and_names_a_source_for_every_frozen_field() -> None:
    assert load_accepted() == []
    import yaml

    from ops.checks.guard import IMMUTABLE
    kinds = yaml.safe_load(IMMUTABLE.read_text())["kinds"]
    assert all(entry.get("source") for entries in kinds.values() for entry in entries)


def test_drift_is_every_step_but_unchanged_ones_and_the_providers() -> None:
    from ops.checks.drift import drifts

    plan = {"steps": [
        step("same", PG, "pg-a"),
        step("update", DEPLOYMENT, "web", detailedDiff={"spec.replicas": {"kind": "update"}}),
        step("create", TOPIC, "gone.v1"),
        step("update", "pulumi:providers:kubernetes", "default"),
        step("create-replacement", PG, "pg-b", replaceReasons=["spec.bootstrap"]),
        step("delete-replaced", PG, "pg-b")]}
    found = {d.name: d for d in drifts(plan)}
    assert set(found) == {"web", "gone.v1", "pg-b"}
    assert found["web"].fields == ("spec.replicas",) and "spec.replicas" in found["web"].line()
    assert found["gone.v1"].op == "create" and "the object is gone" in found["gone.v1"].line()
    assert found["pg-b"].op == "replace"
