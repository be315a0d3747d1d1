"""A team backend: the stack's state in an S3 bucket (moto's S3 server on 127.0.0.1), with its lock, compressed and
checkpointed at every step as docs/state-and-secrets.md sets it up.

Two people running `up` on one stack at once: one proceeds, the other is refused by the lock with Pulumi's own
message, and the state is complete afterwards. A run killed mid-update leaves its lock behind: the next `up` says
so, and `pulumi cancel` clears it. Locking and round trips are the backend's, whatever the program: the stack is the
smallest that shows them (team/__main__.py), held mid-update at a gate so that nothing depends on timing.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.engine import s3 as s3_endpoint
from ops.engine import toolchain
from tests.processes import kill_tree

pytestmark = pytest.mark.engine
BUCKET = "openfoundry-state"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "openfoundry", "AWS_SECRET_ACCESS_KEY": "openfoundry-secret",
               "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 server (its standalone mode, as a separate process) with an empty bucket."""
    with s3_endpoint.serving(BUCKET, keys=False) as store:
        yield store.endpoint


PROGRAM = Path(__file__).parent / "team"


@pytest.fixture()
def team(s3: str, tc: toolchain.Toolchain, tmp_path: Path) -> dict[str, str | Path]:
    """A stack of the small program beside this file on the S3 backend, with passphrase secrets and a secret value."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(yaml.safe_dump({
        "name": "openfoundry-team-backend", "main": str(PROGRAM),
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": str(toolchain.REPO / ".venv")}}}))
    env = toolchain.pulumi_env(tc)
    env.update(CREDENTIALS)
    # every step checkpoints the whole state to the bucket, compressed as docs/state-and-secrets.md advises
    env.update({"PULUMI_BACKEND_URL": f"s3://{BUCKET}?endpoint={s3}&use_path_style=true&region=us-east-1",
                "PULUMI_CONFIG_PASSPHRASE": "a team's passphrase", "PULUMI_SKIP_CHECKPOINTS": "false",
                "PULUMI_DIY_BACKEND_ZSTD": "true"})
    name = f"team-{time.monotonic_ns()}"
    gate, rendered = tmp_path / "gate", tmp_path / "rendered"
    assert pulumi(tc, env, project, "stack", "init", name, "--secrets-provider", "passphrase").returncode == 0
    for key, value in (("gate", str(gate)), ("renderDirectory", str(rendered))):
        assert pulumi(tc, env, project, "config", "set", key, value, "--stack", name).returncode == 0
    assert pulumi(tc, env, project, "config", "set", "--secret", "token", "a generated token",
                  "--stack", name).returncode == 0
    return {"env": env, "project": project, "stack": name, "gate": gate, "rendered": rendered}


def pulumi(tc: toolchain.Toolchain, env: dict[str, str], project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tc.pulumi), *args, "--cwd", str(project), "--non-interactive"], env=env,
                          capture_output=True, text=True, timeout=900)


def start_up(tc: toolchain.Toolchain, team: dict[str, str | Path]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(tc.pulumi), "up", "--yes", "--skip-preview", "--stack", str(team["stack"]),
                             "--cwd", str(team["project"]), "--non-interactive"], env=dict(team["env"]),  # type: ignore[arg-type]
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def held_at_the_gate(s3: str, team: dict[str, str | Path]) -> None:
    """The run holds the lock, and its first batch is made and checkpointed: it is mid-update, waiting at the gate."""
    wait_for(lambda: locked(s3))
    rendered = Path(team["rendered"])
    wait_for(lambda: len(list(rendered.rglob("*configmap*first-*.yaml"))) == 8)
    wait_for(lambda: checkpointed(s3, str(team["stack"])) >= 8)


def keys(s3: str, prefix: str) -> list[str]:
    return [o["Key"] for o in s3_client(s3).list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def s3_client(s3: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")


def checkpointed(s3: str, name: str) -> int:
    """How many ConfigMaps the stack's state in the bucket holds (its zstd-compressed checkpoint)."""
    import zstandard

    found = [k for k in keys(s3, ".pulumi/stacks/") if k.endswith(f"/{name}.json.zst")]
    if not found:
        return 0
    body = s3_client(s3).get_object(Bucket=BUCKET, Key=found[0])["Body"].read()
    state = json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(body))
    return sum(r["type"] == "kubernetes:core/v1:ConfigMap" for r in state["checkpoint"].get("latest", {}).get("resources") or [])


def locked(s3: str) -> bool:
    return bool(keys(s3, ".pulumi/locks/"))


def wait_for(condition: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_two_concurrent_ups_one_proceeds_the_other_is_refused_by_the_lock(
        s3: str, tc: toolchain.Toolchain, team: dict[str, str | Path]) -> None:
    env, project, name = dict(team["env"]), Path(team["project"]), str(team["stack"])  # type: ignore[arg-type]
    first = start_up(tc, team)
    held_at_the_gate(s3, team)
    second = pulumi(tc, env, project, "up", "--yes", "--skip-preview", "--stack", name)
    Path(team["gate"]).touch()
    output, _ = first.communicate(timeout=900)
    assert first.returncode == 0, output[-3000:]
    assert second.returncode != 0
    assert "the stack is currently locked by 1 lock(s)" in second.stdout + second.stderr
    assert "pulumi cancel" in second.stdout + second.stderr
    assert not locked(s3)
    # the state is complete: it round-trips through export and import, and a second up changes nothing
    exported = pulumi(tc, env, project, "stack", "export", "--stack", name)
    assert exported.returncode == 0
    resources = json.loads(exported.stdout)["deployment"]["resources"]
    assert sum(r["type"] == "kubernetes:core/v1:ConfigMap" for r in resources) == 16
    assert "a generated token" not in exported.stdout   # the secret stays encrypted in the state
    states = keys(s3, ".pulumi/stacks/")
    assert any(k.endswith(f"/{name}.json.zst") for k in states) and not any(k.endswith(f"/{name}.json")
                                                                           for k in states), states
    (project / "state.json").write_text(exported.stdout)
    assert pulumi(tc, env, project, "stack", "import", "--stack", name, "--file", str(project / "state.json")).returncode == 0
    again = pulumi(tc, env, project, "up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", name)
    assert again.returncode == 0, again.stdout[-3000:]


def test_a_killed_run_leaves_a_lock_that_is_reported_and_cleared_by_cancel(
        s3: str, tc: toolchain.Toolchain, team: dict[str, str | Path]) -> None:
    env, project, name = dict(team["env"]), Path(team["project"]), str(team["stack"])  # type: ignore[arg-type]
    killed = start_up(tc, team)
    held_at_the_gate(s3, team)
    kill_tree(killed.pid)   # the CLI, and the language host and provider it started in process groups of their own
    killed.wait()
    assert locked(s3)
    refused = pulumi(tc, env, project, "up", "--yes", "--skip-preview", "--stack", name)
    assert refused.returncode != 0 and "the stack is currently locked" in refused.stdout + refused.stderr
    cancel = pulumi(tc, env, project, "cancel", "--yes", "--stack", name)
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert not locked(s3)
    Path(team["gate"]).touch()
    resumed = pulumi(tc, env, project, "up", "--yes", "--skip-preview", "--stack", name)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    again = pulumi(tc, env, project, "up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", name)
    assert again.returncode == 0, again.stdout[-3000:]
    assert checkpointed(s3, name) == 16
