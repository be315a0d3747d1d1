"""OpenFoundry's Go binaries, built from a source checkout exactly as its Dockerfiles build them, into a cache
outside the repository keyed by the checkout's commit, so a second `make boot` starts at once.

The flags are the Dockerfiles' (services/*/Dockerfile, builder stage): CGO off, `-trimpath -buildvcs=false`,
tags `osusergo,netgo,static_build`, ldflags `-s -w -buildid= -extldflags=-static -X main.version=<v>`, and
`-mod=readonly` so the checkout is never written. Several packages go into one `go build -o <dir>/ ...` call:
the linker runs per binary anyway, but the package graph is loaded and type-checked once. Go's own module and
build caches are used as usual, so a new commit recompiles only what changed.

Cache layout: `<cache_dir()>/boot-<commit[:12]>-<flags>/bin/<name>`. A work tree with uncommitted changes is
built into `...-dirty-...` every time (Go's build cache keeps that quick): its commit does not say what is in it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.engine.toolchain import ToolchainError, cache_dir, go_env, log, step

TAG = "boot"
TAGS = "osusergo,netgo,static_build"
LDFLAGS = "-s -w -buildid= -extldflags=-static -X main.version={version}"
ERROR_TAIL = 15     # compiler lines quoted in an error


@dataclass(frozen=True)
class BuildSpec:
    """One binary: its name (the cache's file name, usually the service's) and its Go package, as the source's
    module root sees it (`./services/<name>/cmd/<name>`)."""

    name: str
    package: str

    @classmethod
    def service(cls, name: str) -> BuildSpec:
        """The Dockerfiles' convention: service <name> is built from ./services/<name>/cmd/<name>."""
        return cls(name, f"./services/{name}/cmd/{name}")

    @property
    def output_name(self) -> str:
        """The file `go build -o <dir>/` writes for this package: the last path element, or the one before a
        major-version suffix (`.../v2`)."""
        parts = self.package.rstrip("/").split("/")
        return parts[-2] if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]) else parts[-1]


@dataclass(frozen=True)
class Checkout:
    """What the cache key needs to know about a source checkout."""

    root: Path
    commit: str
    version: str
    dirty: bool


def build(source: Path, binaries: Sequence[BuildSpec]) -> dict[str, Path]:
    """Each binary's path, by name: reused from the cache when the checkout's commit was built before, else built
    (several packages per `go build`). Raises ToolchainError naming the package that failed to build."""
    _check_names(binaries)
    checkout = read_checkout(source)
    env = build_env()
    target = cache_target(checkout, env)
    wanted = {spec.name: target / spec.name for spec in binaries}
    missing = [spec for spec in binaries if checkout.dirty or not wanted[spec.name].is_file()]
    if len(missing) < len(binaries):
        log(f"{_count(len(binaries) - len(missing))} reused from {target} (commit {checkout.commit[:12]})", TAG)
    if checkout.dirty and binaries:
        log(f"{checkout.root} has uncommitted changes: rebuilding (Go's build cache keeps it quick)", TAG)
    if missing:
        target.mkdir(parents=True, exist_ok=True)
        with step(f"building {_count(len(missing))} from {checkout.root} at {checkout.version}", TAG):
            for batch in batches(missing):
                build_batch(checkout, batch, target, env)
    return wanted


def read_checkout(source: Path) -> Checkout:
    """The checkout's commit (the cache key), its `git describe` (the binaries' main.version, as the Dockerfiles'
    documented VERSION build-arg) and whether it has uncommitted changes. Refuses a directory that is not a git
    work tree: without a commit nothing says whether cached binaries still match the source."""
    root = source.resolve()
    if not root.is_dir():
        raise ToolchainError(f"OpenFoundry source {source} is not a directory")
    try:
        commit = _git(root, "rev-parse", "--verify", "HEAD")
    except ToolchainError as err:
        raise ToolchainError(f"OpenFoundry source {root} is not a git work tree (the build cache is keyed by its "
                             f"commit): point it at a `git clone` of OpenFoundry. ({err})") from None
    if not (root / "go.mod").is_file():
        raise ToolchainError(f"OpenFoundry source {root} has no go.mod at its root")
    dirty = bool(_git(root, "status", "--porcelain"))
    return Checkout(root, commit, _git(root, "describe", "--tags", "--always"), dirty)


def build_env() -> dict[str, str]:
    """The toolchain's Go environment (CGO off, local toolchain, no checksum database: go.sum pins every module),
    with the Dockerfiles' `-mod=readonly` and Linux as the target (the binaries run on this machine)."""
    env = go_env()
    env.update({"GOFLAGS": "-mod=readonly -buildvcs=false", "GOOS": "linux"})
    return env


def flags_key(root: Path, env: dict[str, str]) -> str:
    """A short hash of what, besides the commit, decides the binaries: Go's version, the target and the flags."""
    go_version = _run(["go", "env", "GOVERSION", "GOARCH"], root, env, "`go env`").split()
    return hashlib.sha256(f"{go_version} {TAGS} {LDFLAGS}".encode()).hexdigest()[:8]


def cache_target(checkout: Checkout, env: dict[str, str]) -> Path:
    """Where this checkout's binaries live: keyed by commit (and dirtiness), Go version, target and flags."""
    dirty = "-dirty" if checkout.dirty else ""
    return cache_dir() / f"boot-{checkout.commit[:12]}{dirty}-{flags_key(checkout.root, env)}" / "bin"


def batches(specs: Sequence[BuildSpec]) -> list[list[BuildSpec]]:
    """Groups in which no two packages write the same file name (one `go build -o <dir>/` call each)."""
    groups: list[list[BuildSpec]] = []
    for spec in specs:
        group = next((g for g in groups if all(s.output_name != spec.output_name for s in g)), None)
        if group is None:
            groups.append([spec])
        else:
            group.append(spec)
    return groups


def build_batch(checkout: Checkout, batch: Sequence[BuildSpec], target: Path, env: dict[str, str]) -> None:
    """One `go build` into a staging directory beside the cache, then each binary moved into place (a rename, so
    a binary in the cache is always complete). On failure, find the package to blame."""
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=target.parent) as staging:
        result = _go_build(checkout, [spec.package for spec in batch], Path(staging), env)
        if result.returncode != 0:
            raise blame(checkout, batch, result, Path(staging), env)
        for spec in batch:
            built = Path(staging) / spec.output_name
            if not built.is_file():
                raise ToolchainError(f"go build of {spec.package} wrote no {spec.output_name}: is it a main package?")
            os.replace(built, target / spec.name)
            log(f"built {spec.name} ({(target / spec.name).stat().st_size >> 20} MiB)", TAG)


def blame(checkout: Checkout, batch: Sequence[BuildSpec], result: subprocess.CompletedProcess[str], staging: Path,
          env: dict[str, str]) -> ToolchainError:
    """The error for a failed batch, naming the first package that does not build on its own (Go's build cache
    makes the ones that do nearly free to rebuild)."""
    if len(batch) > 1:
        for spec in batch:
            alone = _go_build(checkout, [spec.package], staging, env)
            if alone.returncode != 0:
                return build_error(spec, alone.stderr)
    return build_error(batch[0], result.stderr, also=[spec.package for spec in batch[1:]])


def build_error(spec: BuildSpec, stderr: str, also: Sequence[str] = ()) -> ToolchainError:
    lines = [line for line in stderr.splitlines() if line.strip()][-ERROR_TAIL:]
    others = f" (built together with {', '.join(also)})" if also else ""
    return ToolchainError(f"go build of {spec.package} ({spec.name}) failed{others}; the compiler's last lines:\n"
                          + "\n".join(f"  {line}" for line in lines))


def _go_build(checkout: Checkout, packages: Sequence[str], out: Path, env: dict[str, str]
              ) -> subprocess.CompletedProcess[str]:
    cmd = ["go", "build", "-trimpath", "-buildvcs=false", "-tags", TAGS,
           "-ldflags", LDFLAGS.format(version=checkout.version), "-o", f"{out}/", *packages]
    return subprocess.run(cmd, cwd=checkout.root, env=env, capture_output=True, text=True)


def _check_names(binaries: Sequence[BuildSpec]) -> None:
    names = [spec.name for spec in binaries]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ToolchainError(f"two binaries share the name {', '.join(duplicated)}")
    bad = [name for name in names if not name or "/" in name or name.startswith(".")]
    if bad:
        raise ToolchainError(f"binary names must be plain file names: {bad}")


def _count(number: int) -> str:
    return f"{number} binar{'y' if number == 1 else 'ies'}"


def _git(root: Path, *args: str) -> str:
    if shutil.which("git") is None:
        raise ToolchainError("`git` is not on PATH (it reads the OpenFoundry checkout's commit)")
    return _run(["git", "-C", str(root), *args], root, None, f"`git {' '.join(args)}`").strip()


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None, what: str) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolchainError(f"{what} failed in {cwd}: {last}")
    return result.stdout
