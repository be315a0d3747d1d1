"""`make drift STACK=<stack> [TARGET=local]`: the resources of a running stack whose live objects no longer match the
program, each with the fields that differ; exit 1 when there is one.

It is the engine's own comparison: `pulumi preview --refresh --json --diff` on the stack's backend reads every live
object and previews the program over what it found, changing neither the cluster nor the state.
`make drift STACK=<stack> RESTORE=1` brings the objects back: `up --refresh`, forcing the program's apply over the
hand edits' field ownership (docs/operations.md). The list is written to reports/<stack>/drift.md; a scheduled workflow
runs it for prod (.github/workflows/drift.yml).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops import cli
from ops.checks.drift import Drift, drifts
from ops.engine.releases import preview_plan
from ops.engine.stacks import REPO, backend_for, engine_env, preflight, pulumi, select_stack
from ops.rehearsal.stacks import local_stack

REPORTS = REPO / "reports"


# A hand edit (kubectl edit, scale, patch) makes its client the owner of the fields it changed, and server-side
# apply then refuses the program's values for them ("Apply failed with 1 conflict: conflict with ... .spec.replicas",
# the cluster tier met it). A preview's dry-run apply is refused the same way, and the engine then stops previewing
# the resources it has not reached: the reading would miss drift. Both the reading and the restore force the
# program's apply: the provider's own switch (pulumi-kubernetes provider/v4 pkg/await/await.go:904-911). In the
# reading it is a dry run and writes nothing; no other run sets it, so no ordinary `up` overrides a controller.
FORCE_ENV = {"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}


def stack_of(stack: str, local: bool) -> tuple[Path, dict[str, str]]:
    preflight(stack, environ={} if local else None)
    if local:
        return local_stack(stack)
    env = engine_env(*backend_for(stack))
    select_stack(stack, env)
    return REPO, env


def restore(stack: str, local: bool) -> int:
    """`up --refresh`, taking back every field a hand edit took: the live objects become the program's again."""
    project, env = stack_of(stack, local)
    return pulumi(["up", "--refresh", "--yes", "--skip-preview", "--stack", stack, "--cwd", str(project)],
                  {**env, **FORCE_ENV}, check=False)


def plan_of(stack: str, local: bool) -> dict:
    """The engine's preview of the program over the live objects."""
    project, env = stack_of(stack, local)
    return read_plan(stack, project, env)


def read_plan(stack: str, project: Path, env: dict[str, str]) -> dict:
    return preview_plan(project, stack, {**env, **FORCE_ENV}, f"the refresh of {stack}", "--refresh")


def report(stack: str, found: list[Drift]) -> str:
    head = f"# make drift: {stack}\n\n{len(found)} resource(s) differ from the program.\n"
    if not found:
        return head
    return head + "\n" + "".join(f"- {d.line()}\n" for d in found) + (
        f"\n`make drift STACK={stack} RESTORE=1` brings them back to the program. If a change was meant, make it in the "
        "code instead (docs/operations.md).\n")


def write(stack: str, text: str) -> Path:
    (REPORTS / stack).mkdir(parents=True, exist_ok=True)
    path = REPORTS / stack / "drift.md"
    path.write_text(text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List what of a running stack differs from the program.")
    parser.add_argument("stack")
    parser.add_argument("--target", choices=["local"], help="the stack on the rehearsal cluster (make cluster)")
    parser.add_argument("--restore", action="store_true", help="bring the live objects back to the program")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.restore:
            return restore(args.stack, args.target == "local")
        found = drifts(plan_of(args.stack, args.target == "local"))
        text = report(args.stack, found)
        write(args.stack, text)
        print(text, end="")
        return 1 if found else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
