"""The real Pulumi CLI against a stack (`python -m ops.stack`): `up`, `preview` and an offline `render`, and the
stack files, backends and scratch projects they run on.

Every command validates the stack file first with the program's own config model, so a bad config stops
here with one line per problem, before the engine starts. Rendered manifests hold plaintext secrets: they are
written with umask 077 and the tree is gitignored.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from foundry.catalog import load_catalog
from foundry.config import NAMESPACE, StackConfig, load_stack_config
from foundry.consistency import check_config_against_catalog
from foundry.guard import DEVELOPMENT_PASSPHRASE, refuse_development_passphrase
from foundry.streams import load_streams
from foundry.topics import load_registry
from ops.engine import toolchain

REPO = toolchain.REPO
LOCAL_BACKEND = REPO / ".state"
RENDERED = REPO / "rendered"
SECRET_FILE_KEYS = ("secretsprovider", "encryptionsalt", "encryptedkey")


class StackError(RuntimeError):
    pass


def stack_file(stack: str) -> Path:
    path = REPO / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in REPO.glob("Pulumi.*.yaml"))
        raise StackError(f"no stack file {path.name}; stacks here: {', '.join(known)}")
    return path


def read_stack_values(stack: str) -> dict[str, Any]:
    """The `openfoundry:` values of a stack file, as the program will see them."""
    document = yaml.safe_load(stack_file(stack).read_text()) or {}
    values: dict[str, Any] = {}
    for key, value in (document.get("config") or {}).items():
        namespace, _, name = str(key).partition(":")
        if namespace == NAMESPACE:
            values[name] = value
    return values


def preflight(stack: str, environ: Mapping[str, str] | None = None) -> None:
    """Validate the stack file with the program's model before the engine runs."""
    config = load_stack_config(read_stack_values(stack), stack)
    check_config_against_catalog(config, load_catalog(), load_registry(), load_streams())
    refuse_development_passphrase(config, dict(os.environ if environ is None else environ))


def backend_for(stack: str) -> tuple[str, str]:
    """(backend URL, passphrase) for a real run: dev lives in the checkout, other stacks bring their own."""
    if stack == "dev":
        LOCAL_BACKEND.mkdir(exist_ok=True)
        return (os.environ.get("PULUMI_BACKEND_URL", local_backend_url(LOCAL_BACKEND)),
                os.environ.get("PULUMI_CONFIG_PASSPHRASE", DEVELOPMENT_PASSPHRASE))
    url = os.environ.get("PULUMI_BACKEND_URL")
    if not url:
        raise StackError(f"stack {stack} needs its team backend: set PULUMI_BACKEND_URL (for example "
                         "s3://openfoundry-state?endpoint=https://rgw.example.com&use_path_style=true&region=us-east-1) "
                         "and its secrets provider credentials; see docs/state-and-secrets.md")
    return url, os.environ.get("PULUMI_CONFIG_PASSPHRASE", "")


def pulumi(args: list[str], env: Mapping[str, str], check: bool = True, quiet_plaintext_warnings: bool = False) -> int:
    tc = toolchain.ensure()
    command = [str(tc.pulumi), *args, "--non-interactive"]
    old_umask = os.umask(0o077)
    try:
        if quiet_plaintext_warnings:
            code = _run_without_plaintext_warnings(command, env)
        else:
            code = subprocess.run(command, cwd=REPO, env=dict(env)).returncode
    finally:
        os.umask(old_umask)
    if check and code != 0:
        raise StackError(f"`pulumi {' '.join(args)}` exited {code}")
    return code


PLAINTEXT_WARNING = re.compile(r"warning: rendered (YAML will contain|file .* contains) a secret value in plaintext")


def _run_without_plaintext_warnings(command: list[str], env: Mapping[str, str]) -> int:
    """A render warns twice per Secret that its file holds plaintext; say it once, keep every other line."""
    process = subprocess.Popen(command, cwd=REPO, env=dict(env), stdout=subprocess.PIPE,
                               encoding="utf-8", errors="replace")
    try:
        dropped = _print_without_plaintext_warnings(process.stdout)
    finally:
        if process.poll() is None and sys.exc_info()[0] is not None:
            process.kill()
        code = process.wait()
    if dropped:
        print(f"({dropped} engine warnings that rendered Secrets hold plaintext values left out)")
    return code


def _print_without_plaintext_warnings(lines: Iterable[str] | None) -> int:
    dropped, pending_header, last_blank = 0, "", False
    for line in lines or ():
        if PLAINTEXT_WARNING.search(line):
            dropped += 1
            continue
        if line.startswith("  ") and line.rstrip().endswith("):"):
            pending_header = line  # a resource's diagnostics: shown only if something of it is left
            continue
        if not line.strip():
            if not last_blank:
                print(line, end="")
            pending_header, last_blank = "", True
            continue
        print(pending_header + line, end="", flush=True)
        pending_header, last_blank = "", False
    return dropped


# gocloud's fileblob, under Pulumi's file backend, writes each object's `.attrs` sidecar in place (attrs.go
# setAttrs: os.Create, then encode), not through a temporary file as it writes the object: a SIGKILL between the two
# leaves it empty, and every later run fails "failed to load checkpoint: EOF". `metadata=skip` writes none (Pulumi
# reads no attribute of its own).
def local_backend_url(directory: Path) -> str:
    """A file backend whose every write is atomic (the object through a temporary file and a rename)."""
    return f"file://{directory}?metadata=skip"


def local_backend_path(url: str) -> Path:
    return Path(urlsplit(url).path)


def engine_env(backend: str, passphrase: str) -> dict[str, str]:
    env = toolchain.pulumi_env(toolchain.ensure())
    env.update({"PULUMI_BACKEND_URL": backend, "PULUMI_CONFIG_PASSPHRASE": passphrase})
    return env


def select_stack(stack: str, env: Mapping[str, str]) -> None:
    """Select the stack, creating it (passphrase secrets) on first use; an existing stack keeps its provider."""
    pulumi(["stack", "select", stack, "--create", "--secrets-provider", "passphrase"], env)


def up(stack: str, extra: list[str]) -> int:
    preflight(stack)
    env = engine_env(*backend_for(stack))
    select_stack(stack, env)
    code = pulumi(["up", "--yes", "--stack", stack, *extra], env, check=False)
    _protect_rendered(stack)
    return code


def preview(stack: str, extra: list[str]) -> int:
    preflight(stack)
    env = engine_env(*backend_for(stack))
    select_stack(stack, env)
    policies = ["--policy-pack", str(REPO / "policies"),
                "--policy-pack-config", str(REPO / "policies" / "config" / f"{stack}.json")]
    return pulumi(["preview", "--stack", stack, *policies, *extra], env, check=False)


@contextmanager
def scratch_stack(stack: str, render_into: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A throwaway project and file backend seeded with the stack's own config, rendering into `render_into`.

    The scratch project points `main` at this checkout, so the program is the same; only the Kubernetes
    target (render mode) and the state (a temporary backend, random passphrase) differ from real runs.
    """
    with tempfile.TemporaryDirectory(prefix=f"openfoundry-{stack}-") as scratch_dir:
        scratch = Path(scratch_dir)
        _write_scratch_project(stack, scratch, render_into)
        (scratch / "state").mkdir()
        env = engine_env(local_backend_url(scratch / "state"), secrets.token_urlsafe(24))
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"  # a throwaway state needs no per-step checkpoint
        pulumi(["stack", "init", stack, "--secrets-provider", "passphrase", "--cwd", str(scratch)], env)
        yield scratch, env


def render(stack: str, extra: list[str]) -> int:
    """Render into rendered/<stack>/ offline, without touching the stack's real state."""
    preflight(stack, environ={})
    target = RENDERED / stack
    shutil.rmtree(target, ignore_errors=True)
    print(f"render of {stack}: operators taken as installed (install=external): chart repositories are not "
          "reachable offline, so their manifests are not part of the render")
    with scratch_stack(stack, target) as (scratch, env):
        code = pulumi(["up", "--yes", "--skip-preview", "--suppress-outputs", "--stack", stack, "--cwd", str(scratch),
                       *extra], env, check=False, quiet_plaintext_warnings=True)
    _protect_rendered(stack)
    if code == 0:
        count = sum(1 for p in target.rglob("*.yaml"))
        print(f"rendered {count} manifests of stack {stack} into {target.relative_to(REPO)}/ "
              "(they hold plaintext secrets: gitignored, readable by you only); the stack's own state was not touched")
    return code


def rendered_stack(stack: str, make_target: str) -> tuple[StackConfig, Path]:
    """A stack's config and the directory `make render` wrote its manifests to (what flows and reports read)."""
    config = load_stack_config(read_stack_values(stack), stack)
    directory = RENDERED / stack
    if not directory.exists():
        raise StackError(f"nothing rendered for {stack}: run `make {make_target} STACK={stack}`")
    return config, directory


def _write_scratch_project(stack: str, scratch: Path, target: Path) -> None:
    write_project(stack, scratch, {"mode": "render", "renderDirectory": str(target)})


def write_project(stack: str, directory: Path, kubernetes: dict[str, Any], source: Path = REPO) -> None:
    """A project running the program of `source` (this checkout, or another tree of it) on that tree's stack config,
    with another Kubernetes target. The project's own secrets settings (those `stack init` wrote) are kept."""
    project = yaml.safe_load((source / "Pulumi.yaml").read_text())
    project["main"] = str(source)
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    document = yaml.safe_load((source / f"Pulumi.{stack}.yaml").read_text()) or {}
    for key in SECRET_FILE_KEYS:
        document.pop(key, None)
    written = directory / f"Pulumi.{stack}.yaml"
    kept = yaml.safe_load(written.read_text()) or {} if written.exists() else {}
    document.update({key: kept[key] for key in SECRET_FILE_KEYS if key in kept})
    config = document.get("config") or {}
    config[f"{NAMESPACE}:kubernetes"] = kubernetes
    # Chart repositories are unreachable offline: the operators are declared already installed.
    config[f"{NAMESPACE}:operators"] = {"install": "external"}
    document["config"] = config
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def _protect_rendered(stack: str) -> None:
    target = RENDERED / stack
    if not target.exists():
        return
    for path in [target, *target.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
