"""The upgrade rehearsal: a stack brought up at an earlier release (its program and its stack file, from git), then
the working tree brought up over it on the same rehearsal cluster and state, as a release reaches production.

What the roll forward did is read from the engine's own event log of that `up`: every replacement and deletion, and
every update of a field its operator cannot apply to what exists (data/immutable-fields.yaml), judged as `make guard`
judges a preview (ops/checks/guard.py): a loss when it touches a stateful or protected resource that
data/accepted-replacements.yaml does not name.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ops.checks.guard import Finding, findings, load_accepted, load_immutable
from ops.engine.stacks import REPO

sys.path.insert(0, str(REPO / "policies"))

from openfoundry_policies.contracts import STATEFUL_KINDS

BASES = REPO / "data" / "upgrade-rehearsal.yaml"


def fixed_base(path: Path = BASES) -> str:
    """The commit the cluster tier rolls forward from."""
    commit: str = yaml.safe_load(path.read_text())["base"]["commit"]
    return commit


def events_in(path: Path) -> list[dict[str, Any]]:
    """The engine's event log (`--event-log`), one JSON event per line; none when the run wrote none."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def step_of(event: Mapping[str, Any]) -> dict[str, Any]:
    """A step of the engine's event log (a resourcePreEvent's metadata) in the shape of a preview's JSON step."""
    meta = event["resourcePreEvent"]["metadata"]
    return {"op": meta.get("op"), "urn": meta.get("urn", ""), "type": meta.get("type"),
            "detailedDiff": meta.get("detailedDiff"), "diffReasons": meta.get("diffs"),
            "replaceReasons": meta.get("keys"),
            "oldState": {"inputs": (meta.get("old") or {}).get("inputs") or {}} if meta.get("old") else None,
            "newState": {"inputs": (meta.get("new") or {}).get("inputs") or {}} if meta.get("new") else None}


def steps_of(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [step_of(e) for e in events if "resourcePreEvent" in e]


def changes(events: Iterable[Mapping[str, Any]], protected: set[str], data: Path = REPO / "data") -> list[Finding]:
    """Every replacement, deletion and frozen update the roll forward did; `refused` ones lost state."""
    return findings({"steps": steps_of(events)}, protected, set(STATEFUL_KINDS),
                    load_immutable(data / "immutable-fields.yaml"), load_accepted(data / "accepted-replacements.yaml"))


def summary(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many resources the roll forward created, updated, replaced and deleted."""
    counted: dict[str, int] = {}
    for step in steps_of(events):
        op = {"create-replacement": "", "delete-replaced": ""}.get(step["op"], step["op"])   # a replace is three steps
        if op and op not in ("same", "read", "refresh"):
            counted[op] = counted.get(op, 0) + 1
    return counted
