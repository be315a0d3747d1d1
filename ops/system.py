"""System tools the project takes from Debian's packages, installed on first use (ops/engine/tools.py).

    python -m ops.system graphviz     # `dot`, which the topology diagram needs (make report)
"""

from __future__ import annotations

import sys

from ops.engine.toolchain import ToolchainError
from ops.engine.tools import ensure


def main(argv: list[str] | None = None) -> int:
    packages = sys.argv[1:] if argv is None else argv
    try:
        for package in packages:
            ensure(package)
    except (KeyError, ToolchainError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
