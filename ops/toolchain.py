"""`make toolchain`: the Pulumi toolchain, the user's own `pulumi` when it is new enough, else one built from Go
modules, offline, into a cache outside the repository (ops/engine/toolchain.py; docs/toolchain.md).

    python3 -m ops.toolchain            # choose (building if needed), say which in one line, print where it is
    python3 -m ops.toolchain --env      # print `export` lines for a shell

Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import sys

from ops.engine.toolchain import ToolchainError, ensure, log, pulumi_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--env", action="store_true", help="print shell exports for the toolchain")
    args = parser.parse_args(argv)
    try:
        tc = ensure(announce=True)
    except ToolchainError as err:
        log(f"error: {err}")
        return 1
    if args.env:
        for key in ("PATH", "PULUMI_HOME", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"):
            if key in pulumi_env(tc):
                print(f"export {key}={pulumi_env(tc)[key]!r}")
    else:
        print(tc.root or tc.bin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
