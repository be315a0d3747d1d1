"""`make flows STACK=<stack>`: every flow the platform needs and every flow it must refuse, evaluated against the
stack's rendered NetworkPolicies (and the ones Strimzi writes) by cyclonus' policy matcher.

    python -m ops.flows prod          # render first (make flows does), then evaluate
    python -m ops.flows prod --all    # print every flow, not only the matrix and the failures

Prints the matrix (per kind of flow: required allowed, required denied, forbidden denied, forbidden allowed), then
every required flow denied and every forbidden flow allowed with both ends and the port; writes the whole list to
reports/<stack>/flows.json. Exits 1 when a required flow is denied or a forbidden one allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundry.catalog import CatalogError, load_catalog
from foundry.config import ConfigErrors, StackConfig
from ops import engines
from ops.flowmap import Flow, empty_kinds, flows_of
from ops.runtime import Pod, Runtime
from ops.stack import StackError, rendered_stack
from ops.toolchain import REPO, ToolchainError


@dataclass(frozen=True)
class Verdict:
    flow: Flow
    allowed: bool
    detail: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.allowed == self.flow.required


def _peer(end: Pod | str) -> dict[str, Any]:
    if isinstance(end, Pod):
        return {"namespace": end.namespace, "labels": dict(end.labels)}
    return {"ip": end}


def evaluate(runtime: Runtime, flows: list[Flow]) -> list[Verdict]:
    request = {"policies": runtime.policies,
               "flows": [{"id": str(i), "from": _peer(f.source), "to": _peer(f.destination), "port": f.port,
                          "portName": f.port_name, "protocol": f.protocol} for i, f in enumerate(flows)]}
    results = engines.call("netpol", request)["results"]
    verdicts = []
    for flow, result in zip(flows, results, strict=True):
        if result.get("error"):
            raise ToolchainError(f"cyclonus could not evaluate {flow.describe()}: {result['error']}")
        verdicts.append(Verdict(flow, bool(result["allowed"]), result))
    return verdicts


def check(config: StackConfig, directory: Path) -> list[Verdict]:
    runtime = Runtime.of(config, directory)
    flows = flows_of(runtime, load_catalog())
    missing = list(empty_kinds(flows))
    if missing:
        raise ToolchainError(f"no flow of kind {', '.join(missing)} was derived: the stack's pods changed shape")
    return evaluate(runtime, flows)


def matrix(verdicts: list[Verdict]) -> list[str]:
    counts: Counter[tuple[str, bool, bool]] = Counter((v.flow.kind, v.flow.required, v.allowed) for v in verdicts)
    kinds = sorted({v.flow.kind for v in verdicts})
    lines = [f"{'flow':<28}{'required':>10}{'req. denied':>13}{'forbidden':>11}{'forb. allowed':>15}"]
    for kind in kinds:
        lines.append(f"{kind:<28}{counts[(kind, True, True)]:>10}{counts[(kind, True, False)]:>13}"
                     f"{counts[(kind, False, False)]:>11}{counts[(kind, False, True)]:>15}")
    return lines


def report(stack: str, verdicts: list[Verdict]) -> Path:
    target = REPO / "reports" / stack
    target.mkdir(parents=True, exist_ok=True)
    path = target / "flows.json"
    path.write_text(json.dumps([{
        "kind": v.flow.kind, "flow": v.flow.describe(), "required": v.flow.required, "allowed": v.allowed,
        "ok": v.ok, "ingress": v.detail.get("ingress"), "egress": v.detail.get("egress")} for v in verdicts],
        indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a stack's required and forbidden flows.")
    parser.add_argument("stack")
    parser.add_argument("--all", action="store_true", help="print every flow")
    args = parser.parse_args(argv)
    try:
        config, directory = rendered_stack(args.stack, "flows")
        verdicts = check(config, directory)
    except ConfigErrors as err:
        print(err.report(), file=sys.stderr)
        return 2
    except (CatalogError, StackError, ToolchainError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(matrix(verdicts)))
    for verdict in verdicts if args.all else [v for v in verdicts if not v.ok]:
        state = ("allowed" if verdict.allowed else "DENIED") if verdict.flow.required else \
            ("denied" if not verdict.allowed else "ALLOWED")
        word = "required" if verdict.flow.required else "forbidden"
        print(f"{word} {state}: [{verdict.flow.kind}] {verdict.flow.describe()}")
    failures = [v for v in verdicts if not v.ok]
    path = report(args.stack, verdicts)
    print(f"{len(verdicts)} flows, {len(failures)} wrong; every flow in {path.relative_to(REPO)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
