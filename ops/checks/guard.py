"""What `make guard` (ops/guard.py) reads in the engine's preview of HEAD over the state BASE produced: every
replacement and deletion, with the field that forces it, and every in-place update of a field that cannot change what
exists (data/immutable-fields.yaml); refused when the resource is stateful or protected, unless
data/accepted-replacements.yaml names it with its reason and release."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ops.engine.toolchain import REPO

IMMUTABLE = REPO / "data" / "immutable-fields.yaml"
ACCEPTED = REPO / "data" / "accepted-replacements.yaml"
REPLACING = {"replace", "create-replacement", "delete-replaced"}
# what holds data or the platform's footing: the policy pack's stateful kinds, and the core kinds that hold them
CORE_STATEFUL = {"kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace",
                 "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"}
INDEX = re.compile(r"\[\d+\]")
NO_REASON = "(the engine gave none)"


@dataclass(frozen=True)
class Finding:
    urn: str
    name: str                  # the object's Kubernetes name (metadata.name), else the URN's last segment
    op: str                    # replace | delete | update
    fields: tuple[str, ...]    # what forces it: property paths, `deleted`, or `renamed to <name>`
    stateful: bool
    protected: bool
    accepted: str = ""         # the accepted entry's reason and release

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].rsplit("$", 1)[-1]

    @property
    def refused(self) -> bool:
        return (self.stateful or self.protected) and not self.accepted

    def line(self) -> str:
        what = "stateful" if self.stateful else "protected" if self.protected else "stateless"
        verdict = "refused" if self.refused else f"accepted: {self.accepted}" if self.accepted else "allowed"
        return f"{self.op} {self.type} {self.name} ({what}) by {', '.join(self.fields)}: {verdict}"


def load_immutable(path: Path = IMMUTABLE) -> dict[str, list[str]]:
    kinds = (yaml.safe_load(path.read_text()) or {}).get("kinds") or {}
    return {kind: [entry["field"] for entry in entries] for kind, entries in kinds.items()}


def load_accepted(path: Path = ACCEPTED) -> list[dict[str, str]]:
    return list((yaml.safe_load(path.read_text()) or {}).get("accepted") or [])


def findings(preview: Mapping[str, Any], protected: set[str], stateful_types: set[str],
             immutable: Mapping[str, list[str]], accepted: Iterable[Mapping[str, str]] = ()) -> list[Finding]:
    steps = list(preview.get("steps") or [])
    created = {(type_of(s), name_of(s)) for s in steps if s.get("op") == "create"}
    found: dict[str, Finding] = {}
    for step in steps:
        urn, op, kind = step.get("urn", ""), step.get("op"), type_of(step)
        fields: tuple[str, ...] = ()
        if op in REPLACING:
            op, fields = "replace", tuple(step.get("replaceReasons") or replacing_paths(step) or step.get("diffReasons")
                                          or [NO_REASON])
        elif op == "delete":
            renamed = sorted(n for t, n in created if t == kind)
            fields = (f"its name: a {kind.rsplit(':', 1)[-1]} {', '.join(renamed)} is created instead",) if renamed \
                else ("deleted: no longer in the program",)
        elif op == "update":
            fields = tuple(frozen_fields(changed_paths(step), immutable.get(kind, [])))
            if not fields:
                continue
        else:
            continue
        stateful = kind in stateful_types or kind in CORE_STATEFUL
        finding = Finding(urn, name_of(step), op, fields, stateful, urn in protected)
        # a replacement is several steps, and only some carry its reasons (a delete-replaced has none)
        if urn not in found or found[urn].fields == (NO_REASON,):
            found[urn] = _accepted(finding, accepted)
    return sorted(found.values(), key=lambda f: (not f.refused, f.urn))


def type_of(step: Mapping[str, Any]) -> str:
    return str(step.get("type") or (step.get("newState") or step.get("oldState") or {}).get("type")
               or step.get("urn", "::::").split("::")[2].rsplit("$", 1)[-1])


def name_of(step: Mapping[str, Any]) -> str:
    state = step.get("oldState") or step.get("newState") or {}
    metadata = (state.get("inputs") or {}).get("metadata") or {}
    return str(metadata.get("name") or str(step.get("urn", "")).rsplit("::", 1)[-1])


def changed_paths(step: Mapping[str, Any]) -> list[str]:
    """The property paths an update changes: the engine's detailed diff (with --diff), else its top-level reasons."""
    detailed = step.get("detailedDiff") or {}
    return [_path(path) for path in detailed] or \
        list(step.get("diffReasons") or [])


def replacing_paths(step: Mapping[str, Any]) -> list[str]:
    """The paths the detailed diff marks as forcing the replacement (`add-replace`, `update-replace`,
    `delete-replace`): a `replaceOnChanges` replacement carries its reason only there."""
    detailed = step.get("detailedDiff") or {}
    return [_path(path) for path, diff in detailed.items()
            if str(diff.get("diffKind") or diff.get("kind") or "").endswith("-replace")]


def _path(path: str) -> str:
    return INDEX.sub("", path).replace("[", ".").replace("]", "")


def frozen_fields(paths: Iterable[str], frozen: Iterable[str]) -> Iterable[str]:
    prefixes = list(frozen)
    for path in sorted(set(paths)):
        if any(path == p or path.startswith(p + ".") for p in prefixes):
            yield path


def _accepted(finding: Finding, accepted: Iterable[Mapping[str, str]]) -> Finding:
    for entry in accepted:
        field = entry.get("field", "")
        if field and entry.get("type") == finding.type and entry.get("name") == finding.name and \
                any(f == field or f.startswith(field) for f in finding.fields):
            return Finding(finding.urn, finding.name, finding.op, finding.fields, finding.stateful, finding.protected,
                           f"{entry.get('reason', '')} (release {entry.get('release', '?')})")
    return finding
