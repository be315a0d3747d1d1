"""The upgrade rehearsal's reading of the engine's event log (ops/rehearsal/upgrade.py): a step of `up` judged as
`make guard` judges a preview's."""

from __future__ import annotations

from typing import Any

from ops.rehearsal import upgrade

CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
URN = f"urn:pulumi:prod::openfoundry::openfoundry:relational:Plane${CLUSTER}::pg-lakekeeper"


def event(op: str, urn: str = URN, kind: str = CLUSTER, **meta: Any) -> dict[str, Any]:
    state = {"type": kind, "urn": urn, "inputs": {"metadata": {"name": urn.rsplit("::", 1)[1]}}}
    return {"sequence": 1, "resourcePreEvent": {"metadata": {"op": op, "urn": urn, "type": kind, "old": state,
                                                             "new": state, **meta}}}


def test_a_replaced_protected_cluster_is_lost_state_named_by_its_field() -> None:
    events = [event("create-replacement", keys=["spec"], diffs=["spec"],
                    detailedDiff={"spec.storage.storageClass": {"kind": "update-replace", "inputDiff": True}}),
              event("delete-replaced"), {"sequence": 2, "diagnosticEvent": {"message": "x"}}]
    [found] = upgrade.changes(events, {URN})
    assert (found.op, found.name, found.fields, found.refused) == ("replace", "pg-lakekeeper", ("spec",), True)


def test_a_delete_before_replace_is_named_by_the_step_that_carries_its_reasons() -> None:
    """The engine deletes first and only the create-replacement says why."""
    events = [event("delete-replaced"), event("replace"), event("create-replacement", keys=["spec"])]
    [found] = upgrade.changes(events, set())
    assert (found.op, found.fields, found.stateful, found.refused) == ("replace", ("spec",), True, True)


def test_an_in_place_update_and_a_stateless_replacement_are_not() -> None:
    config = "urn:pulumi:prod::openfoundry::kubernetes:core/v1:ConfigMap::trino-catalog"
    events = [event("update", detailedDiff={"spec.postgresql.parameters.wal_level": {"kind": "update"}}),
              event("replace", urn=config, kind="kubernetes:core/v1:ConfigMap", keys=["data"])]
    found = upgrade.changes(events, {URN})
    assert [(f.op, f.name, f.refused) for f in found] == [("replace", "trino-catalog", False)]
    assert upgrade.summary(events) == {"update": 1, "replace": 1}


def test_the_fixed_base_is_a_full_commit() -> None:
    base = upgrade.fixed_base()
    assert len(base) == 40 and int(base, 16)
