"""The README's commands through the real engine: render dev and prod, an idempotent up, bad config."""

from __future__ import annotations

import hashlib
import stat
import textwrap
from pathlib import Path

import pytest

from foundry.binaries import running
from foundry.catalog import load_catalog
from foundry.upstream import load_contracts
from ops import stack as stack_command
from ops.checks.schemas import validate_directory
from ops.engine import stacks, toolchain
from tests.engine.conftest import rendered as render_once
from tests.engine.conftest import run_pulumi

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, render_once(request.param)


def test_render_writes_a_deployment_per_service(rendered: tuple[str, Path]) -> None:
    name, directory = rendered
    manifests = {p.name for p in (directory / "1-manifest").iterdir()}
    for run in running(load_catalog(), load_contracts()):   # every entry that runs a binary
        service = run.service
        assert f"apps_v1-deployment-openfoundry-{service.plane}-{service.name}.yaml" in manifests
        budget = f"policy_v1-poddisruptionbudget-openfoundry-{service.plane}-{service.name}.yaml"
        assert (budget in manifests) == (name == "prod" and not run.waiting)   # nothing to budget at zero


def test_rendered_manifests_are_private(rendered: tuple[str, Path]) -> None:
    _, directory = rendered
    for path in directory.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_rendered_manifests_validate_strictly(rendered: tuple[str, Path]) -> None:
    _, directory = rendered
    report = validate_directory(directory)
    assert report.failures == []
    checked, unchecked = sum(report.checked.values()), sum(report.unchecked_count.values())
    assert checked + unchecked == len(list(directory.rglob("*.yaml")))
    # only custom resources (API groups of operators, never core or *.k8s.io groups) may go unchecked
    groups = {kind.rsplit("/", 2)[0] for kind in report.unchecked}
    assert all("." in g and not g.endswith(".k8s.io") for g in {g.split("/")[0] for g in groups})


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_render_leaves_the_stacks_real_state_alone(tc: toolchain.Toolchain, engine_env: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the stack's real backend holds a dev stack with state and config; a render must neither read nor write it
    assert run_pulumi(tc, ["stack", "init", "dev", "--secrets-provider", "passphrase"], engine_env).returncode == 0
    real = stacks.local_backend_path(engine_env["PULUMI_BACKEND_URL"])
    before = tree_digest(real)
    assert any(name.endswith("dev.json") for name in before), before
    # every object written whole or not at all: no `.attrs` sidecar, which fileblob writes in place (a SIGKILL
    # mid-write would leave it empty, and the stack unloadable)
    assert not [name for name in before if name.endswith(".attrs")], before
    for key in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"):
        monkeypatch.setenv(key, engine_env[key])
    assert stacks.render("dev", []) == 0
    assert tree_digest(real) == before


def test_bad_config_fails_in_the_program_before_any_resource(tc: toolchain.Toolchain, engine_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text(textwrap.dedent("""\
        config:
          openfoundry:environment: dev
          openfoundry:nonsenseKey: 1
          openfoundry:storage:
            ceph:
              monCount: two
        """))
    assert run_pulumi(tc, ["stack", "init", "dev", "--secrets-provider", "passphrase"], engine_env).returncode == 0
    result = run_pulumi(tc, ["up", "--yes", "--skip-preview", "--stack", "dev", "--config-file", str(config)], engine_env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "openfoundry:nonsenseKey: found unknown key nonsenseKey" in output
    assert "openfoundry:storage.ceph.monCount: found 'two'" in output
    assert "Traceback" not in output
    exported = run_pulumi(tc, ["stack", "export", "--stack", "dev"], engine_env)
    assert "kubernetes:" not in exported.stdout


def test_make_level_preflight_stops_before_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert stack_command.main(["render", "no-such-stack"]) == 2
    assert "no stack file Pulumi.no-such-stack.yaml" in capsys.readouterr().err
