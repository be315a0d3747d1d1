"""`make flows STACK=<stack>`: every flow the platform needs and every flow it must refuse, evaluated against the
stack's rendered NetworkPolicies (and the ones Strimzi writes) by cyclonus' policy matcher (ops/checks/netpol.py).

    python -m ops.flows prod          # render first (make flows does), then evaluate
    python -m ops.flows prod --all    # print every flow, not only the matrix and the failures

Prints the matrix (per kind of flow: required allowed, required denied, forbidden denied, forbidden allowed), then
every required flow denied and every forbidden flow allowed with both ends and the port; writes the whole list to
reports/<stack>/flows.json. Exits 1 when a required flow is denied or a forbidden one allowed.
"""

from __future__ import annotations

import argparse
import sys

from ops import cli
from ops.checks.netpol import check, matrix, report
from ops.engine.stacks import REPO, rendered_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a stack's required and forbidden flows.")
    parser.add_argument("stack")
    parser.add_argument("--all", action="store_true", help="print every flow")
    args = parser.parse_args(argv)

    def body() -> int:
        verdicts = check(*rendered_stack(args.stack, "flows"))
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

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
