"""Validate every rendered manifest of a stack against the real Kubernetes schemas, strictly.

    python -m ops.validate prod      # after `make render STACK=prod`

Core kinds are checked with kubernetes-validate (the upstream OpenAPI schemas, shipped offline) at the
Kubernetes version the stacks target, with unknown fields as errors. A kind with no schema there (a custom
resource) is listed as unchecked with the reason, never counted as passed.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from foundry.versions import KUBERNETES_VERSION
from ops.toolchain import REPO


@dataclass
class ValidationReport:
    checked: Counter[str] = field(default_factory=Counter)
    unchecked: dict[str, str] = field(default_factory=dict)
    unchecked_count: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def print(self, out: Any = sys.stdout) -> None:
        print(f"schemas: Kubernetes {KUBERNETES_VERSION} (strict: unknown fields are errors)", file=out)
        for kind, count in sorted(self.checked.items()):
            print(f"  checked   {count:4d}  {kind}", file=out)
        for kind, why in sorted(self.unchecked.items()):
            print(f"  unchecked {self.unchecked_count[kind]:4d}  {kind}: {why}", file=out)
        for failure in self.failures:
            print(f"  FAILED    {failure}", file=out)
        total = sum(self.checked.values())
        print(f"{total} manifests checked, {len(self.failures)} failed, {len(self.unchecked)} kinds unchecked", file=out)


def manifests(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.yaml"))


def validate_document(document: dict[str, Any], source: str, report: ValidationReport) -> None:
    kind = f"{document.get('apiVersion')}/{document.get('kind')}"
    name = (document.get("metadata") or {}).get("name", "?")
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        report.unchecked[kind] = "no schema in the Kubernetes API: a custom resource, not checked here"
        report.unchecked_count[kind] += 1
        return
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(p) for p in err.path) or "(root)"
        report.failures.append(f"{source}: {kind} {name}: at {path}: {err.message}")
    report.checked[kind] += 1


def validate_directory(directory: Path) -> ValidationReport:
    report = ValidationReport()
    for path in manifests(directory):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                validate_document(document, str(path.relative_to(directory)), report)
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ops.validate STACK", file=sys.stderr)
        return 2
    directory = REPO / "rendered" / args[0]
    if not directory.exists():
        where = directory.relative_to(REPO)
        print(f"error: {where}/ does not exist: run `make render STACK={args[0]}`", file=sys.stderr)
        return 2
    report = validate_directory(directory)
    report.print()
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
