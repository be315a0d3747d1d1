"""The repository's stacks on the rehearsal cluster (`make up STACK=<stack> TARGET=local`): each stack's own config
aimed at the cluster, on a backend that lives and dies with it (`.cluster/`)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.cluster.rehearsal import CLAIMED_VOLUMES, NACK_LEFT_OUT, NO_OPERATOR_REASONS
from ops.engine.stacks import REPO, StackError, engine_env, local_backend_url, preflight, pulumi, write_project
from ops.engine.toolchain import ensure
from ops.rehearsal.cluster import DEFAULT, Rehearsal, answering

# An up here mostly waits: on rollouts, which the controllers and kwok move in steps, not on this machine's cores (the
# engine's default is 4 per core). More at once shortens the wait; the steps and their order are the same.
REHEARSAL_PARALLEL = "32"


def local_stack(stack: str, rehearsal: Rehearsal | None = None, source: Path = REPO) -> tuple[Path, dict[str, str]]:
    """The stack's own config aimed at the rehearsal cluster, on a backend that lives and dies with it
    (`.cluster/`): a second `up` sees the first's state, `make cluster-down` forgets both. `source` is the tree whose
    program and stack file run (another release of this repository, for the upgrade rehearsal)."""
    rehearsal = rehearsal or DEFAULT
    project = rehearsal.state / "stacks" / stack
    state = rehearsal.state / "state"
    project.mkdir(parents=True, exist_ok=True)
    state.mkdir(exist_ok=True)
    passphrase_file = rehearsal.state / "passphrase"
    if not passphrase_file.exists():
        passphrase_file.write_text(secrets.token_urlsafe(24))
        passphrase_file.chmod(0o600)
    write_project(stack, project, {"mode": "cluster", "kubeconfig": str(rehearsal.kubeconfig),
                                    "context": rehearsal.context, "local": True}, source=source)
    env = engine_env(local_backend_url(state), passphrase_file.read_text())
    env["PULUMI_PARALLEL"] = REHEARSAL_PARALLEL
    for released in release_dead_locks(state):
        print(f"[stack] released {released}")
    pulumi(["stack", "select", stack, "--create", "--secrets-provider", "passphrase", "--cwd", str(project)], env)
    return project, env


def release_dead_locks(state: Path) -> list[str]:
    """Remove the locks of runs that died on this machine (killed mid-update): the rehearsal backend is this
    machine's alone, so a lock whose process is gone can only be stale. Locks of live processes stay."""
    released = []
    host = socket.gethostname()
    for lock in sorted((state / ".pulumi" / "locks").glob("*/*/*/*.json")):
        owner = json.loads(lock.read_text())
        if owner.get("hostname") != host or _running(int(owner.get("pid", 0))):
            continue
        lock.unlink()
        released.append(f"the lock on stack {lock.parent.name} of a run that no longer runs "
                        f"(pid {owner['pid']}, started {owner.get('timestamp', '?')})")
    return released


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def local_stacks(project: Path, env: Mapping[str, str]) -> list[dict[str, Any]]:
    listing = subprocess.run([str(ensure().pulumi), "stack", "ls", "--json", "--cwd", str(project)],
                             env=dict(env), capture_output=True, text=True, check=True)
    found: list[dict[str, Any]] = json.loads(listing.stdout)
    return found


def on_rehearsal(command: str, stack: str, extra: list[str]) -> int:
    """preview, refresh, destroy or cancel (release a killed run's lock) of a stack on the rehearsal cluster."""
    project, env = local_stack(stack)
    yes = ["--yes"] if command in ("refresh", "destroy", "cancel") else []
    return pulumi([command, *yes, "--stack", stack, "--cwd", str(project), *extra], env, check=False)


def up_local(stack: str, extra: list[str]) -> int:
    preflight(stack, environ={})
    if answering() is None:
        raise StackError("the rehearsal cluster is not running: `make cluster` starts it")
    project, env = local_stack(stack)
    others = [other for other in local_stacks(project, env) if other["name"] != stack and other.get("resourceCount")]
    if others:
        held = ", ".join(f"{o['name']} ({o['resourceCount']} resources)" for o in others)
        raise StackError(f"the rehearsal cluster holds {held}; stacks share object names, so one at a time: "
                         "`make cluster-down` first (or `python -m ops.stack --target local destroy "
                         f"{others[0]['name']}` when nothing in it is protected)")
    print(f"up of {stack} on the rehearsal cluster ({DEFAULT.shown(DEFAULT.kubeconfig)}); "
          "operators external")
    print(f"  left out: {NACK_LEFT_OUT}")
    print(f"  not awaited: StatefulSets with volume claims ({CLAIMED_VOLUMES}); "
          + "; ".join(f"{kind.rsplit(':', 1)[1]} ({why})" for kind, why in NO_OPERATOR_REASONS.items()))
    return pulumi(["up", "--yes", "--skip-preview", "--stack", stack, "--cwd", str(project), *extra], env, check=False)
