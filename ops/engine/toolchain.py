"""The Pulumi toolchain: the user's own `pulumi` when it is new enough, else one built from Go modules, offline,
into a cache outside the repository.

A `pulumi` on PATH at `MIN_PULUMI_VERSION` or newer is used as it is: its own plugins, PULUMI_HOME and plugin
acquisition settings (OPENFOUNDRY_TOOLCHAIN=built ignores it). Otherwise this builds, with the pins in
foundry/versions.py and the module graphs in toolchain/*/go.{mod,sum}:
  bin/pulumi                          the CLI             (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  bin/pulumi-language-python          the language host   (…/sdk/python/cmd/pulumi-language-python/v3)
  bin/pulumi-language-python-exec     the program runner the host starts   } from the sdk/v3 module at the
  bin/pulumi-resource-pulumi-python   the dynamic-provider shim            } Python SDK's release
  pulumi-home/plugins/resource-kubernetes-v<ver>/   the Kubernetes provider, installed with `pulumi plugin install -f`

Policy packs need no shim: the CLI runs a Python pack through the language host. A warm run checks one stamp
file and returns. The built toolchain never downloads a plugin: its environment (`pulumi_env()`) turns automatic
plugin acquisition and update checks off. Stdlib only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from foundry import versions  # noqa: E402

TOOLCHAIN_SRC = REPO / "toolchain"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
CLI_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
K8S_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
SDK_SCRIPTS = {
    "python/cmd/pulumi-language-python-exec": "pulumi-language-python-exec",
    "python/dist/pulumi-resource-pulumi-python": "pulumi-resource-pulumi-python",
}
VERSION_LDFLAG = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
CHOICE_VARIABLE = "OPENFOUNDRY_TOOLCHAIN"   # auto (default): the user's own pulumi if new enough; built: always build


class ToolchainError(RuntimeError):
    """A toolchain step failed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Toolchain:
    """A `pulumi` CLI and where its plugins come from: a built toolchain's own PULUMI_HOME, or the user's setup."""

    pulumi: Path
    root: Path | None = None     # the built toolchain's directory; None: the user's own pulumi

    @property
    def built(self) -> bool:
        return self.root is not None

    @property
    def bin(self) -> Path:
        return self.pulumi.parent

    @property
    def home(self) -> Path | None:
        return self.root / "pulumi-home" if self.root else None

    @property
    def stamp(self) -> Path:
        assert self.root is not None, "only a built toolchain has a stamp"
        return self.root / "complete.json"

    def kubernetes_plugin(self) -> Path:
        assert self.home is not None
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


PINS = ("PULUMI_CLI_VERSION", "PULUMI_SDK_VERSION", "PULUMI_LANGUAGE_PYTHON_PSEUDO", "PULUMI_KUBERNETES_VERSION",
        "PULUMI_KUBERNETES_PROVIDER_PSEUDO")


def toolchain_key() -> str:
    """A hash of everything that decides the binaries: pins and wrapper modules."""
    digest = hashlib.sha256()
    for pin in PINS:
        digest.update(f"{pin}={getattr(versions, pin)}\n".encode())
    for path in sorted(TOOLCHAIN_SRC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(TOOLCHAIN_SRC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def built() -> Toolchain:
    root = cache_dir() / f"toolchain-{versions.PULUMI_CLI_VERSION}-{toolchain_key()}"
    return Toolchain(root / "bin" / "pulumi", root)


def log(message: str, tag: str = "toolchain") -> None:
    print(f"[{tag}] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(what: str, tag: str = "toolchain") -> Iterator[None]:
    log(f"{what} ...", tag)
    started = time.monotonic()
    yield
    log(f"{what}: done in {time.monotonic() - started:.1f}s", tag)


# --- the user's own pulumi ---------------------------------------------------------------------------------


def version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", text.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def pulumi_on_path(environ: Mapping[str, str] | None = None) -> tuple[Path, str] | None:
    """The `pulumi` on PATH and its version, when it is at least MIN_PULUMI_VERSION (and not opted out of)."""
    env = os.environ if environ is None else environ
    if env.get(CHOICE_VARIABLE, "auto") == "built":
        return None
    found = shutil.which("pulumi", path=env.get("PATH"))
    if not found:
        return None
    try:
        printed = subprocess.run([found, "version"], capture_output=True, text=True, timeout=30,
                                 env=dict(env)).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    have, need = version_tuple(printed), version_tuple(versions.MIN_PULUMI_VERSION)
    if have is None or need is None or have < need:
        return None
    return Path(found), printed


# --- building --------------------------------------------------------------------------------------------


def go_env() -> dict[str, str]:
    go = shutil.which("go")
    if go is None:
        raise ToolchainError("`go` is not on PATH: install Go >= 1.26, or put a pulumi "
                             f">= v{versions.MIN_PULUMI_VERSION} on PATH.")
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


def build_cli(tc: Toolchain, workdir: Path) -> None:
    wrapper = _copy_wrapper("pulumi", workdir)
    ldflags = f"-s -w -X {VERSION_LDFLAG}=v{versions.PULUMI_CLI_VERSION}"
    with step(f"building the pulumi v{versions.PULUMI_CLI_VERSION} CLI (cold: ~7 min on 2 cores)"):
        run(["go", "build", "-trimpath", "-tags", "osusergo,grpcnotrace", "-ldflags", ldflags,
             "-o", str(tc.bin) + "/", CLI_PACKAGE], wrapper, go_env())


def build_language_host(tc: Toolchain, workdir: Path) -> None:
    wrapper = _copy_wrapper("language-python", workdir)
    ldflags = f"-s -w -X {VERSION_LDFLAG}=v{versions.PULUMI_LANGUAGE_PYTHON_LINE}"
    with step(f"building the Python language host ({versions.PULUMI_LANGUAGE_PYTHON_LINE} line)"):
        run(["go", "build", "-trimpath", "-tags", "osusergo,grpcnotrace", "-ldflags", ldflags,
             "-o", str(tc.bin) + "/", versions.PULUMI_LANGUAGE_PYTHON_MODULE], wrapper, go_env())


def install_sdk_scripts(tc: Toolchain, workdir: Path) -> None:
    sdk = module_dir(SDK_MODULE, f"v{versions.PULUMI_SDK_VERSION}", workdir / "pulumi")
    for source, name in SDK_SCRIPTS.items():
        target = tc.bin / name
        shutil.copyfile(sdk / source, target)
        target.chmod(0o755)


def build_kubernetes_provider(workdir: Path) -> Path:
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


def build(tc: Toolchain) -> None:
    assert tc.root is not None
    started = time.monotonic()
    workdir = tc.root / "build"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    tc.bin.mkdir(parents=True, exist_ok=True)
    build_cli(tc, workdir)
    build_language_host(tc, workdir)
    install_sdk_scripts(tc, workdir)
    install_plugin(tc, build_kubernetes_provider(workdir))
    shutil.rmtree(workdir, ignore_errors=True)
    tc.stamp.write_text(json.dumps({"pulumi": versions.PULUMI_CLI_VERSION, "sdk": versions.PULUMI_SDK_VERSION,
                                    "kubernetes": versions.PULUMI_KUBERNETES_VERSION, "key": toolchain_key()}))
    log(f"toolchain ready at {tc.root} in {time.monotonic() - started:.1f}s")


def ensure(environ: Mapping[str, str] | None = None, announce: bool = False) -> Toolchain:
    """The user's own pulumi when it is new enough, else the built one (building it if needed); `announce` says
    in one line which."""
    ambient = pulumi_on_path(environ)
    if ambient is not None:
        path, version = ambient
        if announce:
            log(f"using your pulumi {version} at {path} with its own plugins (nothing is built)")
        return Toolchain(path)
    tc = built()
    if not tc.is_complete():
        build(tc)
    if announce:
        log(f"using pulumi v{versions.PULUMI_CLI_VERSION} built from Go modules at {tc.root} "
            f"(no pulumi >= v{versions.MIN_PULUMI_VERSION} on PATH)")
    return tc


def pulumi_env(tc: Toolchain, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to run `tc.pulumi` in: the user's own as it is, or the built toolchain's closed world."""
    env = dict(os.environ if base is None else base)
    env["PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK"] = "true"
    if not tc.built:
        return env
    env["PATH"] = f"{tc.bin}{os.pathsep}{env.get('PATH', '')}"
    env.update({
        "PULUMI_HOME": str(tc.home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    })
    return env


def _copy_wrapper(name: str, workdir: Path) -> Path:
    target = workdir / name
    shutil.copytree(TOOLCHAIN_SRC / name, target, dirs_exist_ok=True)
    return target
