"""`make validate STACK=<stack>` (second half): would the cluster admit every pod the platform runs, the operators'
pods included, at the Pod Security level of its namespace (ops/checks/admission.py)?

    python -m ops.admission prod      # after a render (make validate runs it)

Exits 1 when a pod would be refused.
"""

from __future__ import annotations

import sys

from ops import cli
from ops.checks.admission import check
from ops.checks.runtime import Runtime
from ops.engine.stacks import rendered_stack


def main(argv: list[str] | None = None) -> int:
    stack = (argv if argv is not None else sys.argv[1:] or ["dev"])[0]

    def body() -> int:
        config, directory = rendered_stack(stack, "validate")
        results = check(Runtime.of(config, directory))
        refused = [a for a in results if not a.allowed]
        by_maker: dict[str, int] = {}
        for admission in results:
            by_maker[admission.pod.made_by] = by_maker.get(admission.pod.made_by, 0) + 1
        print(f"pod admission ({stack}): {len(results)} pods through the Pod Security Standards of their namespace "
              f"({', '.join(f'{n} by {maker}' for maker, n in sorted(by_maker.items()))}); {len(refused)} refused")
        for admission in refused:
            print(f"  refused at {admission.level}: {admission.pod.name}: {'; '.join(admission.violations)}")
        return 1 if refused else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
