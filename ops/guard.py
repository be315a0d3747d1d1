"""`make guard STACK=<stack> BASE=<git ref>`: what merging this change would replace or delete, refused before the
merge when it touches state.

The engine compares the two as it would in production: the program of BASE (its tree from git, its stack file) is
brought up in render mode on a throwaway backend, its protection lifted there (a protected resource would stop the
preview at the first refusal, and the guard wants them all), then the working tree's program is previewed over that
state. Every replacement and deletion is listed with the field that forces it, and every update of a field its
operator cannot apply to what exists (data/immutable-fields.yaml). The command exits 1 when one touches a stateful or
protected resource that data/accepted-replacements.yaml does not name; the list is also written to
reports/<stack>/guard.md (the pull request's comment).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ops import cli
from ops.checks.guard import Finding, findings, load_accepted, load_immutable
from ops.engine import toolchain
from ops.engine.releases import base_tree, preview_plan, protected_urns
from ops.engine.stacks import (
    REPO,
    StackError,
    engine_env,
    local_backend_url,
    preflight,
    pulumi,
    write_project,
)

sys.path.insert(0, str(REPO / "policies"))

from openfoundry_policies.contracts import STATEFUL_KINDS

REPORTS = REPO / "reports"


@contextmanager
def engine(stack: str, work: Path, base: Path, render: dict[str, str]) -> Iterator[tuple[Path, dict[str, str]]]:
    """A throwaway project running BASE's program, on a throwaway file backend with a random passphrase."""
    project = work / "project"
    project.mkdir()
    (work / "state").mkdir()
    env = engine_env(local_backend_url(work / "state"), secrets.token_urlsafe(24))
    env["PULUMI_SKIP_CHECKPOINTS"] = "true"
    write_project(stack, project, render, source=base)
    pulumi(["stack", "init", stack, "--secrets-provider", "passphrase", "--cwd", str(project)], env)
    yield project, env


@contextmanager
def over_base(stack: str, base_ref: str) -> Iterator[Callable[[Path], list[Finding]]]:
    """BASE's program brought up on a throwaway state; yields what previewing a tree (the working tree, or another
    copy of the repository) over it finds. Each preview leaves the state as BASE made it."""
    with tempfile.TemporaryDirectory(prefix=f"openfoundry-guard-{stack}-") as scratch:
        work = Path(scratch)
        base = base_tree(base_ref, work / "base")
        if not (base / f"Pulumi.{stack}.yaml").exists():
            raise StackError(f"BASE {base_ref} has no stack file Pulumi.{stack}.yaml")
        render = {"mode": "render", "renderDirectory": str(work / "rendered")}
        with engine(stack, work, base, render) as (project, env):
            toolchain.log(f"up of {stack} at {base_ref} (render mode, throwaway state)", "guard")
            if pulumi(["up", "--yes", "--skip-preview", "--suppress-outputs", "--stack", stack, "--cwd", str(project)],
                      env, check=False, quiet_plaintext_warnings=True) != 0:
                raise StackError(f"the program at {base_ref} did not come up: the guard has nothing to compare with")
            protected = protected_urns(project, stack, env)
            pulumi(["state", "unprotect", "--all", "--yes", "--stack", stack, "--cwd", str(project)], env)

            def preview(head: Path) -> list[Finding]:
                write_project(stack, project, render, source=head)
                toolchain.log(f"preview of {head} over it ({len(protected)} resources protected at {base_ref})", "guard")
                plan = preview_plan(project, stack, env, "the preview of the working tree")
                data = head / "data"   # the change's own data: a pull request accepts its replacement beside it
                return findings(plan, protected, set(STATEFUL_KINDS), load_immutable(data / "immutable-fields.yaml"),
                                load_accepted(data / "accepted-replacements.yaml"))

            yield preview


def report(stack: str, base_ref: str, found: list[Finding]) -> str:
    refused = [f for f in found if f.refused]
    head = (f"# make guard: {stack} against {base_ref}\n\n"
            f"{len(found)} replacement(s), deletion(s) or frozen update(s); {len(refused)} refused.\n")
    if not found:
        return head + "\nNothing is replaced or deleted.\n"
    return head + "\n" + "".join(f"- {f.line()}\n" for f in found) + (
        "\nA refused change loses what the resource holds. Keep the resource (an alias for a rename, a new resource "
        "beside the old for an immutable field), or, when the loss is intended, name it in "
        "data/accepted-replacements.yaml with the reason and the release (docs/operations.md).\n" if refused else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refuse a change that replaces or deletes a stack's state.")
    parser.add_argument("stack")
    parser.add_argument("base", help="the git ref the change is compared with (the base branch)")
    args = parser.parse_args(argv)

    def body() -> int:
        preflight(args.stack, environ={})
        with over_base(args.stack, args.base) as preview:
            found = preview(REPO)
        text = report(args.stack, args.base, found)
        (REPORTS / args.stack).mkdir(parents=True, exist_ok=True)
        (REPORTS / args.stack / "guard.md").write_text(text)
        print(text, end="")
        return 1 if any(f.refused for f in found) else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
