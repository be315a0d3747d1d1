"""`make validate STACK=<stack>` (first half): every rendered manifest of a stack against the real schemas, strictly.

    python -m ops.validate prod      # after `make render STACK=prod`

Core kinds against the Kubernetes OpenAPI schemas, custom resources against their operator's real CRD
(ops/checks/schemas.py). Exits 1 when a manifest fails, 2 when nothing is rendered.
"""

from __future__ import annotations

import sys

from ops import cli
from ops.checks.schemas import validate_directory
from ops.engine.stacks import RENDERED, StackError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ops.validate STACK", file=sys.stderr)
        return 2

    def body() -> int:
        directory = RENDERED / args[0]
        if not directory.exists():
            raise StackError(f"{directory.relative_to(RENDERED.parent)}/ does not exist: run `make render STACK={args[0]}`")
        report = validate_directory(directory)
        report.print()
        return 1 if report.failures else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
