from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from foundry.guard import DEVELOPMENT_PASSPHRASE
from ops.engine import toolchain
from ops.engine.stacks import local_backend_url

pytestmark = pytest.mark.engine
REPO = toolchain.REPO


@pytest.fixture(scope="session")
def tc() -> toolchain.Toolchain:
    """The engine tier tests the toolchain this project builds, even where a user's own pulumi is on PATH."""
    os.environ[toolchain.CHOICE_VARIABLE] = "built"
    return toolchain.ensure()


@pytest.fixture()
def engine_env(tc: toolchain.Toolchain, tmp_path: Path) -> dict[str, str]:
    """The toolchain's environment on a throwaway local backend."""
    backend = tmp_path / "state"
    backend.mkdir()
    env = toolchain.pulumi_env(tc)
    env.update({"PULUMI_BACKEND_URL": local_backend_url(backend), "PULUMI_CONFIG_PASSPHRASE": DEVELOPMENT_PASSPHRASE})
    return env


@functools.cache
def rendered(stack: str) -> Path:
    """A stack rendered once per test session (into rendered/<stack>/, as `make render` does)."""
    from ops.engine import stacks

    assert stacks.render(stack, []) == 0
    return REPO / "rendered" / stack


def run_pulumi(tc: toolchain.Toolchain, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tc.pulumi), *args, "--non-interactive"], cwd=REPO, env=dict(env),
                          capture_output=True, text=True, timeout=900)
