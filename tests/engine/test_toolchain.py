"""The toolchain is the real Pulumi engine at the pinned versions, and never downloads anything."""

from __future__ import annotations

import pytest

from foundry import versions
from ops import toolchain
from tests.engine.conftest import run_pulumi

pytestmark = pytest.mark.engine


def test_the_cli_is_the_pinned_version(tc: toolchain.Toolchain, engine_env: dict[str, str]) -> None:
    result = run_pulumi(tc, ["version"], engine_env)
    assert result.stdout.strip() == f"v{versions.PULUMI_VERSION}"


def test_the_kubernetes_plugin_is_installed_at_its_pin(tc: toolchain.Toolchain, engine_env: dict[str, str]) -> None:
    result = run_pulumi(tc, ["plugin", "ls"], engine_env)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["kubernetes", "resource", versions.PULUMI_KUBERNETES_VERSION] in [row[:3] for row in rows]


def test_the_language_host_has_its_exec_script_beside_it(tc: toolchain.Toolchain) -> None:
    assert (tc.bin / "pulumi-language-python").exists()
    assert (tc.bin / "pulumi-language-python-exec").exists()


def test_run_time_never_downloads(tc: toolchain.Toolchain) -> None:
    env = toolchain.pulumi_env(tc, base={})
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"


def test_a_warm_bootstrap_does_not_rebuild(tc: toolchain.Toolchain) -> None:
    stamp = tc.stamp.stat().st_mtime
    assert toolchain.ensure().root == tc.root
    assert tc.stamp.stat().st_mtime == stamp
