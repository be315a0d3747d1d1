"""Build the real Pulumi toolchain from Go modules, offline, into a cache outside the repository.

    python3 -m ops.toolchain            # build if needed, print where it is
    python3 -m ops.toolchain --env      # print `export` lines for a shell

What it builds (pins in foundry/versions.py, module graphs in toolchain/*/go.{mod,sum}):
  bin/pulumi                          the CLI            (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  bin/pulumi-language-python          the language host  (…/sdk/python/cmd/pulumi-language-python/v3)
  bin/pulumi-language-python-exec     its exec script, shipped in the sdk/v3 module, beside the host
  bin/pulumi-analyzer-policy-python   the policy-pack shim, shipped in the sdk/v3 module
  bin/pulumi-resource-pulumi-python   the dynamic-provider shim, shipped in the sdk/v3 module
  pulumi-home/plugins/resource-kubernetes-v<ver>/   the Kubernetes provider, installed with `pulumi plugin install -f`

A warm run checks one stamp file and returns. Nothing here or at run time downloads a plugin: the
environment from `pulumi_env()` turns automatic plugin acquisition and update checks off.
Stdlib only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from foundry import versions  # noqa: E402

TOOLCHAIN_SRC = REPO / "toolchain"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
K8S_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
SDK_SCRIPTS = {
    "python/cmd/pulumi-language-python-exec": "pulumi-language-python-exec",
    "python/dist/pulumi-analyzer-policy-python": "pulumi-analyzer-policy-python",
    "python/dist/pulumi-resource-pulumi-python": "pulumi-resource-pulumi-python",
}


class ToolchainError(RuntimeError):
    """A toolchain step failed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Toolchain:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def pulumi(self) -> Path:
        return self.bin / "pulumi"

    @property
    def home(self) -> Path:
        return self.root / "pulumi-home"

    @property
    def stamp(self) -> Path:
        return self.root / "complete.json"

    def kubernetes_plugin(self) -> Path:
        name = f"resource-kubernetes-v{versions.PULUMI_KUBERNETES_VERSION}"
        return self.home / "plugins" / name / "pulumi-resource-kubernetes"

    def is_complete(self) -> bool:
        needed = [self.pulumi, self.bin / "pulumi-language-python", self.kubernetes_plugin()]
        needed += [self.bin / name for name in SDK_SCRIPTS.values()]
        return self.stamp.exists() and all(p.exists() for p in needed)


def cache_dir() -> Path:
    base = os.environ.get("OPENFOUNDRY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "openfoundry"
    )
    return Path(base)


def toolchain_key() -> str:
    """A hash of everything that decides the binaries: pins and wrapper modules."""
    digest = hashlib.sha256()
    for pin in ("PULUMI_VERSION", "PULUMI_LANGUAGE_PYTHON_PSEUDO", "PULUMI_KUBERNETES_VERSION",
                "PULUMI_KUBERNETES_PROVIDER_PSEUDO"):
        digest.update(f"{pin}={getattr(versions, pin)}\n".encode())
    for path in sorted(TOOLCHAIN_SRC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(TOOLCHAIN_SRC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def current() -> Toolchain:
    return Toolchain(cache_dir() / f"toolchain-{versions.PULUMI_VERSION}-{toolchain_key()}")


def log(message: str) -> None:
    print(f"[toolchain] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    log(f"{what} ...")
    started = time.monotonic()
    yield
    log(f"{what}: done in {time.monotonic() - started:.1f}s")


def go_env() -> dict[str, str]:
    go = shutil.which("go")
    if go is None:
        raise ToolchainError("`go` is not on PATH: install Go >= 1.25 (this machine kind ships Go 1.26).")
    env = dict(os.environ)
    # The committed go.sum files pin every module; the checksum database is not reachable here.
    env.update({"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false", "GOSUMDB": "off",
                "GOTOOLCHAIN": "local"})
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"`{' '.join(cmd)}` failed in {cwd}:\n{result.stderr.strip()[-4000:]}")
    return result.stdout


def module_dir(module: str, version: str, wrapper: Path) -> Path:
    out = run(["go", "mod", "download", "-json", f"{module}@{version}"], wrapper, go_env())
    return Path(json.loads(out)["Dir"])


def pulumi_on_path_at_pin() -> Path | None:
    """A `pulumi` already on PATH at the pinned version, with its bundled Python host, is used as it is."""
    found = shutil.which("pulumi")
    if not found:
        return None
    try:
        printed = subprocess.run([found, "version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    bindir = Path(found).resolve().parent
    if printed == f"v{versions.PULUMI_VERSION}" and (bindir / "pulumi-language-python").exists():
        return bindir
    return None


def build_cli(tc: Toolchain, workdir: Path) -> None:
    ambient = pulumi_on_path_at_pin()
    tc.bin.mkdir(parents=True, exist_ok=True)
    if ambient is not None:
        log(f"using pulumi v{versions.PULUMI_VERSION} found on PATH at {ambient}")
        for binary in ("pulumi", "pulumi-language-python"):
            _link(ambient / binary, tc.bin / binary)
        return
    wrapper = _copy_wrapper("pulumi", workdir)
    ldflags = f"-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v{versions.PULUMI_VERSION}"
    with step(f"building pulumi v{versions.PULUMI_VERSION} CLI and Python language host (cold: minutes)"):
        run(["go", "build", "-trimpath", "-tags", "osusergo,grpcnotrace", "-ldflags", ldflags,
             "-o", str(tc.bin) + "/", "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
             versions.PULUMI_LANGUAGE_PYTHON_MODULE], wrapper, go_env())


def install_sdk_scripts(tc: Toolchain, workdir: Path) -> None:
    wrapper = workdir / "pulumi"
    if not wrapper.exists():
        wrapper = _copy_wrapper("pulumi", workdir)
    sdk = module_dir(SDK_MODULE, f"v{versions.PULUMI_VERSION}", wrapper)
    for source, name in SDK_SCRIPTS.items():
        target = tc.bin / name
        shutil.copyfile(sdk / source, target)
        target.chmod(0o755)


def build_kubernetes_provider(tc: Toolchain, workdir: Path) -> Path:
    wrapper = _copy_wrapper("kubernetes", workdir)
    provider = module_dir(K8S_PROVIDER_MODULE, versions.PULUMI_KUBERNETES_PROVIDER_PSEUDO, wrapper)
    cmd_dir = provider / "cmd" / "pulumi-resource-kubernetes"
    # The upstream build generates these two embedded files from committed ones (they are gitignored there).
    schema = json.loads((cmd_dir / "schema.json").read_text())
    schema["version"] = versions.PULUMI_KUBERNETES_VERSION
    (wrapper / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
    shutil.copyfile(cmd_dir / "terraform-mapping.json", wrapper / "terraform-mapping-embed.json")
    binary = workdir / "pulumi-resource-kubernetes"
    ldflags = ("-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version="
               f"{versions.PULUMI_KUBERNETES_VERSION}")
    with step(f"building the kubernetes provider v{versions.PULUMI_KUBERNETES_VERSION} (cold: ~7 min on 2 cores)"):
        run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(binary), "."], wrapper, go_env())
    return binary


def install_plugin(tc: Toolchain, binary: Path) -> None:
    with step("installing the kubernetes plugin into the toolchain's PULUMI_HOME"):
        run([str(tc.pulumi), "plugin", "install", "resource", "kubernetes",
             f"v{versions.PULUMI_KUBERNETES_VERSION}", "-f", str(binary)], REPO, pulumi_env(tc))


def ensure() -> Toolchain:
    tc = current()
    if tc.is_complete():
        return tc
    started = time.monotonic()
    workdir = tc.root / "build"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    build_cli(tc, workdir)
    install_sdk_scripts(tc, workdir)
    install_plugin(tc, build_kubernetes_provider(tc, workdir))
    shutil.rmtree(workdir, ignore_errors=True)
    tc.stamp.write_text(json.dumps({"pulumi": versions.PULUMI_VERSION,
                                    "kubernetes": versions.PULUMI_KUBERNETES_VERSION,
                                    "key": toolchain_key()}))
    log(f"toolchain ready at {tc.root} in {time.monotonic() - started:.1f}s")
    return tc


def pulumi_env(tc: Toolchain, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{tc.bin}{os.pathsep}{env.get('PATH', '')}"
    env.update({
        "PULUMI_HOME": str(tc.home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
    })
    return env


def _copy_wrapper(name: str, workdir: Path) -> Path:
    target = workdir / name
    shutil.copytree(TOOLCHAIN_SRC / name, target, dirs_exist_ok=True)
    return target


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    target.symlink_to(source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="store_true", help="print shell exports for the toolchain")
    args = parser.parse_args(argv)
    try:
        tc = ensure()
    except ToolchainError as err:
        log(f"error: {err}")
        return 1
    if args.env:
        for key in ("PATH", "PULUMI_HOME", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"):
            print(f"export {key}={pulumi_env(tc)[key]!r}")
    else:
        print(tc.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
