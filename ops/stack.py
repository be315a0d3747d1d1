"""`make up|render|preview`: the real Pulumi CLI against a stack.

    python -m ops.stack up dev                     # pulumi up of dev on the embedded defaults (local state, render mode)
    python -m ops.stack preview prod --diff        # pulumi preview of a stack on its own backend, with the policy pack
    python -m ops.stack render prod                # that stack's manifests in rendered/prod/, its own state untouched
    python -m ops.stack --target local up prod     # the stack on the rehearsal cluster (make cluster)
    python -m ops.stack --target local destroy dev # preview, refresh, destroy or cancel there

Every command validates the stack file first with the program's own config model, so a bad config stops here with
one line per problem, before the engine starts. Arguments after the stack reach `pulumi`.
"""

from __future__ import annotations

import argparse
import sys

from ops import cli
from ops.engine.stacks import StackError, preview, render, up
from ops.rehearsal.stacks import on_rehearsal, up_local

COMMANDS = {"up": up, "preview": preview, "render": render}
LOCAL_COMMANDS = ("up", "preview", "refresh", "destroy", "cancel")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Pulumi engine against an OpenFoundry stack.")
    parser.add_argument("command", choices=sorted({*COMMANDS, *LOCAL_COMMANDS}))
    parser.add_argument("stack")
    parser.add_argument("--target", choices=["local"], help="up: the rehearsal cluster (make cluster) instead")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="passed on to pulumi")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.target == "local":
            if args.command == "up":
                return up_local(args.stack, args.extra)
            return on_rehearsal(args.command, args.stack, args.extra)
        if args.command not in COMMANDS:
            raise StackError(f"{args.command} runs on the rehearsal cluster only (--target local)")
        return COMMANDS[args.command](args.stack, args.extra)

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
