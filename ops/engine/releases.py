"""A release of this repository, for the commands that compare two (make guard, make upgrade): its tree from git,
and what a stack's state says about it."""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ops.engine import toolchain
from ops.engine.stacks import REPO, StackError


def base_tree(ref: str, into: Path, repo: Path = REPO) -> Path:
    """The repository's tree at `ref`, as files (git archive: no worktree to clean up). A shallow clone (CI's
    default checkout) lacks older commits: it is deepened from its origin once before the ref is refused."""
    archive = _archive(repo, ref)
    if archive.returncode != 0 and _shallow(repo):
        subprocess.run(["git", "-C", str(repo), "fetch", "--quiet", "--unshallow", "origin"], capture_output=True,
                       timeout=300)
        archive = _archive(repo, ref)
    if archive.returncode != 0:
        raise StackError(f"{ref!r} is not a git ref of this repository (a shallow clone whose origin cannot deepen "
                         f"it lacks older commits): {archive.stderr.decode().strip()}")
    into.mkdir(parents=True)
    with tempfile.TemporaryFile() as packed:
        packed.write(archive.stdout)
        packed.seek(0)
        with tarfile.open(fileobj=packed) as tar:
            tar.extractall(into, filter="tar")
    return into


def _archive(repo: Path, ref: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref], capture_output=True)


def _shallow(repo: Path) -> bool:
    answer = subprocess.run(["git", "-C", str(repo), "rev-parse", "--is-shallow-repository"], capture_output=True,
                            text=True)
    return answer.stdout.strip() == "true"


def protected_urns(project: Path, stack: str, env: dict[str, str]) -> set[str]:
    """The URNs the stack's state holds protected."""
    exported = capture(["stack", "export", "--stack", stack, "--cwd", str(project)], env)
    return {r["urn"] for r in json.loads(exported)["deployment"].get("resources") or [] if r.get("protect")}


def capture(args: list[str], env: dict[str, str], allow_failure: bool = False) -> str:
    """The output of a pulumi command, which is raised on when it fails (unless allowed)."""
    tc = toolchain.ensure()
    result = subprocess.run([str(tc.pulumi), *args, "--non-interactive"], cwd=REPO, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0 and not allow_failure:
        raise StackError(f"`pulumi {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()[-1500:]}")
    return result.stdout


def preview_plan(project: Path, stack: str, env: dict[str, str], what: str, *extra: str) -> dict[str, Any]:
    """The engine's preview as JSON (`--json --diff`, plus `extra`), as the guard and drift read it; raised on, with
    `what` named, when it gives no plan or its diagnostics hold an error."""
    result = subprocess.run([str(toolchain.ensure().pulumi), "preview", "--json", "--diff", *extra, "--stack", stack,
                             "--cwd", str(project), "--non-interactive"], cwd=REPO, env=env, capture_output=True,
                            text=True)
    try:
        plan: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise StackError(f"{what} gave no plan:\n{(result.stderr or result.stdout).strip()[-2000:]}") from None
    errors = [d.get("message", "").strip() for d in plan.get("diagnostics") or [] if d.get("severity") == "error"]
    if errors:
        raise StackError(f"{what} failed:\n" + "\n".join(errors[:10]))
    return plan
