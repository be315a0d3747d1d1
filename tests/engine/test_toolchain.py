"""The toolchain is the real Pulumi engine at the pinned versions, and never downloads anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundry import versions
from foundry.guard import DEVELOPMENT_PASSPHRASE
from ops.engine import toolchain
from tests.engine.conftest import run_pulumi

pytestmark = pytest.mark.engine


def test_the_cli_is_the_pinned_version(tc: toolchain.Toolchain, engine_env: dict[str, str]) -> None:
    result = run_pulumi(tc, ["version"], engine_env)
    assert result.stdout.strip() == f"v{versions.PULUMI_CLI_VERSION}"


def test_the_kubernetes_plugin_is_installed_at_its_pin(tc: toolchain.Toolchain, engine_env: dict[str, str]) -> None:
    result = run_pulumi(tc, ["plugin", "ls"], engine_env)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["kubernetes", "resource", versions.PULUMI_KUBERNETES_VERSION] in [row[:3] for row in rows]


def test_the_language_host_has_the_sdks_runner_beside_it(tc: toolchain.Toolchain) -> None:
    assert (tc.bin / "pulumi-language-python").exists()
    # the runner belongs to the Python SDK's release: it sizes the SDK's thread pool the way that SDK expects
    runner = (tc.bin / "pulumi-language-python-exec").read_text()
    assert "parallelism = max(parallelism, 1) * 4" in runner


def test_run_time_never_downloads(tc: toolchain.Toolchain) -> None:
    env = toolchain.pulumi_env(tc, base={})
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"


def test_a_warm_bootstrap_does_not_rebuild(tc: toolchain.Toolchain) -> None:
    stamp = tc.stamp.stat().st_mtime
    assert toolchain.ensure().root == tc.root
    assert tc.stamp.stat().st_mtime == stamp


def user_install(tc: toolchain.Toolchain, root: Path) -> dict[str, str]:
    """A user's own Pulumi install: the CLI with its language host beside it, and its own PULUMI_HOME with the
    kubernetes plugin; a `go` that fails is first on PATH, and the project's toolchain cache is empty."""
    bindir, home, fake = root / "pulumi" / "bin", root / "pulumi-home", root / "fake-go"
    bindir.mkdir(parents=True)
    fake.mkdir()
    for name in ("pulumi", "pulumi-language-python", *toolchain.SDK_SCRIPTS.values()):
        (bindir / name).symlink_to(tc.bin / name)
    (fake / "go").write_text(f"#!/bin/sh\necho go was run >> {root / 'go-was-run'}\nexit 1\n")
    (fake / "go").chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key != toolchain.CHOICE_VARIABLE}
    env |= {"PATH": f"{bindir}:{fake}:{os.environ['PATH']}", "PULUMI_HOME": str(home),
           "OPENFOUNDRY_CACHE": str(root / "empty-cache"), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    subprocess.run([str(bindir / "pulumi"), "plugin", "install", "resource", "kubernetes",
                    f"v{versions.PULUMI_KUBERNETES_VERSION}", "-f", str(tc.kubernetes_plugin())],
                   env=env, check=True, capture_output=True)
    return env


def test_make_up_uses_a_current_pulumi_on_path_builds_nothing_and_a_second_up_changes_nothing(
        tc: toolchain.Toolchain, tmp_path: Path) -> None:
    env = user_install(tc, tmp_path)
    (tmp_path / "state").mkdir()
    env.update({"PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": DEVELOPMENT_PASSPHRASE,
                # neither up is about checkpoints: the file backend rewrites the whole state at every step (O(n²))
                "PULUMI_SKIP_CHECKPOINTS": "true"})
    result = subprocess.run(["make", "up"], cwd=toolchain.REPO, env=env, capture_output=True, text=True, timeout=1200)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    chosen = [line for line in output.splitlines() if line.startswith("[toolchain] using")]
    assert chosen == [f"[toolchain] using your pulumi v{versions.PULUMI_CLI_VERSION} at {tmp_path}/pulumi/bin/pulumi "
                      "with its own plugins (nothing is built)"]
    assert not (tmp_path / "go-was-run").exists()
    assert not (tmp_path / "empty-cache").exists()
    again = subprocess.run([sys.executable, "-m", "ops.stack", "up", "dev", "--expect-no-changes"], cwd=toolchain.REPO,
                           env=env, capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]


@pytest.mark.parametrize(("printed", "used"), [("v3.188.0", False), ("v3.271.9", False), ("v3.272.0", True),
                                              ("v4.0.1-dev.0", True), ("not a version", False)])
def test_only_a_new_enough_pulumi_on_path_is_used(tmp_path: Path, printed: str, used: bool) -> None:
    (tmp_path / "pulumi").write_text(f"#!/bin/sh\necho {printed}\n")
    (tmp_path / "pulumi").chmod(0o755)
    assert (toolchain.pulumi_on_path({"PATH": str(tmp_path)}) is not None) is used
    assert toolchain.pulumi_on_path({"PATH": str(tmp_path), toolchain.CHOICE_VARIABLE: "built"}) is None
