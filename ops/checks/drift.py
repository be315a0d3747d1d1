"""What `make drift` (ops/drift.py) reads in `pulumi preview --refresh --json --diff`: every resource whose live object
no longer matches the program, with the fields that differ. A run right after `up` finds none (the cluster tier's
rehearsal proves the server's own defaults are not drift), so each one is a hand edit, an operator's change, or a
merged change not yet applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops.checks.guard import changed_paths, name_of, type_of

UNCHANGED = {"same", "read", "refresh"}


@dataclass(frozen=True)
class Drift:
    type: str
    name: str
    op: str                   # what `up` would do to bring it back: update, replace, create (gone), delete
    fields: tuple[str, ...]

    def line(self) -> str:
        kind = self.type.rsplit(":", 1)[-1]
        what = ", ".join(self.fields) if self.fields else {"create": "the object is gone",
                                                           "delete": "the program no longer has it"}.get(self.op, "")
        return f"{kind} {self.name}: {self.op} ({what})"


def drifts(plan: Mapping[str, Any]) -> list[Drift]:
    found = []
    for step in plan.get("steps") or []:
        op = str(step.get("op"))
        # a default provider takes the stack's config as its inputs and shows as "updated", changing nothing
        if op in UNCHANGED or op == "delete-replaced" or type_of(step).startswith(("pulumi:providers:", "pulumi:pulumi:")):
            continue
        op = "replace" if op == "create-replacement" else op
        found.append(Drift(type_of(step), name_of(step), op, tuple(sorted(set(changed_paths(step))))))
    return sorted(found, key=lambda d: (d.type, d.name))
