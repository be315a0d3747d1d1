"""The operators' real CRDs, generated with their ordinary tools from published artifacts (ops/checks/crds.py).

    python3 -m ops.crds        # generate (cached), print where
"""

from __future__ import annotations

import sys

from ops.checks.crds import ensure_crds
from ops.engine.toolchain import ToolchainError, log


def main() -> int:
    try:
        print(ensure_crds())
    except ToolchainError as err:
        log(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
