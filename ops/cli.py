"""What every command shares: a problem the user can fix (a stack value, the catalog, a missing render, the
toolchain, the rehearsal cluster) is said in one line each, on stderr, and the command exits 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

from foundry.catalog import CatalogError
from foundry.config import ConfigErrors
from ops.engine.stacks import StackError
from ops.engine.toolchain import ToolchainError

USER_ERRORS = (CatalogError, StackError, ToolchainError, TimeoutError)


def run(body: Callable[[], int]) -> int:
    """The command's exit code, or 2 with the problems said, when the body stops on a problem the user can fix."""
    try:
        return body()
    except ConfigErrors as err:
        print(err.report(), file=sys.stderr)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
    return 2
