"""`make audit STACK=<stack>`: the policy audit of a stack, the real `pulumi preview --policy-pack policies/` written
up for an auditor (ops/checks/audit.py).

    python -m ops.audit prod       # reports/prod/policy.json, policy.sarif, summary.md

Exit status: 1 when a mandatory policy is violated, 2 when the audit could not run (then no report is written,
so nothing downstream mistakes a failed preview for a clean one).
"""

from __future__ import annotations

import sys

from ops import cli
from ops.checks.audit import audit, policy_config


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not policy_config(args[0]).exists():
        print("usage: python -m ops.audit STACK   (a stack with policies/config/STACK.json)", file=sys.stderr)
        return 2
    return cli.run(lambda: audit(args[0]))


if __name__ == "__main__":
    sys.exit(main())
