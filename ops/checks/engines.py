"""The checking engines this project borrows instead of re-implementing their semantics, built from Go modules.

    engines/netpol/        NetworkPolicy verdicts for explicit flows: cyclonus' policy matcher
    engines/podsecurity/   Pod Security Standards verdicts for pod specs: the API server's admission library
    engines/rclone/        rclone's own command line (the off-site copy's tool), S3 and sync only
    engines/prometheus-operator/   the Prometheus Operator's own command (cmd/operator, built as a dependency)
    engines/cert-manager/  cert-manager's controllers from its root module, wired as its controller-binary wires them
    engines/trust-manager/ trust-manager's own command (cmd/trust-manager, built as a dependency)

Each is a committed wrapper module (go.mod, go.sum) with a small `main` package, or a tools file naming the command of
a module it requires; netpol and podsecurity read one JSON request and write one JSON response. Binaries are built
into the project's cache (`~/.cache/openfoundry/engines/`), keyed by a hash of the wrapper module, so a warm run
starts at once and a cold one prints each build with its time.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from ops.engine.toolchain import REPO, ToolchainError, cache_dir, go_env, log, run, step

ENGINES_SRC = REPO / "engines"


def _key(source: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def binary(name: str, package: str = ".") -> Path:
    """The engine's binary, built first if this version of its wrapper module has not been built yet; `package`: a
    main package of a module the wrapper requires, in place of the wrapper's own."""
    source = ENGINES_SRC / name
    if not (source / "go.mod").exists():
        raise ToolchainError(f"no engine {name!r}: expected a wrapper module in {source}")
    target = cache_dir() / "engines" / f"{name}-{_key(source)}" / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with step(f"building the {name} engine from its Go modules (cold: a few minutes)"):
            run(["go", "build", "-trimpath", "-o", str(target), package], source, go_env())
    return target


def required_version(name: str, module: str) -> str:
    """The version of `module` the engine's wrapper module requires (its go.mod is the pin)."""
    for line in (ENGINES_SRC / name / "go.mod").read_text().splitlines():
        words = line.replace("require ", "").split()
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise ToolchainError(f"engines/{name}/go.mod requires no {module}")


def call(name: str, request: dict[str, Any]) -> dict[str, Any]:
    """Send one JSON request to an engine and return its JSON response; an engine's refusal raises."""
    result = subprocess.run([str(binary(name))], input=json.dumps(request), capture_output=True, text=True)
    if result.returncode != 0:
        log(f"{name} engine: {result.stderr.strip()}")
        raise ToolchainError(f"the {name} engine refused the request: {result.stderr.strip()}")
    response: dict[str, Any] = json.loads(result.stdout)
    return response
