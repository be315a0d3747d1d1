"""What `make bench` measures (ops/bench.py prints it): each figure as a function that returns seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from foundry.catalog import load_catalog
from foundry.config import load_stack_config
from ops.engine import stacks, toolchain

REPO = toolchain.REPO
FLOOR = REPO / "ops" / "measure" / "floor"            # N plain ConfigMaps through the same engine
FLOOR_PACK = REPO / "ops" / "measure" / "floor_pack"  # the pack's policies by name, each validating nothing


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bootstrap_seconds(cache: Path, go_cache: Path) -> float:
    env = {**os.environ, "OPENFOUNDRY_CACHE": str(cache), "GOCACHE": str(go_cache), toolchain.CHOICE_VARIABLE: "built"}
    return timed(lambda: subprocess.run([sys.executable, "-m", "ops.toolchain"], cwd=REPO, env=env, check=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def crd_generation_seconds(cache: Path, go_cache: Path) -> float:
    env = {**os.environ, "OPENFOUNDRY_CACHE": str(cache), "GOCACHE": str(go_cache)}
    return timed(lambda: subprocess.run([sys.executable, "-m", "ops.crds"], cwd=REPO, env=env, check=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def mock_evaluation() -> tuple[float, int]:
    from tests.mocks import register_platform

    config = load_stack_config(stacks.read_stack_values("prod"), "prod")
    catalog = load_catalog()
    started = time.perf_counter()
    registered = register_platform(config, catalog)
    return time.perf_counter() - started, len(registered)


def mock_floor_seconds(count: int) -> float:
    """The floor program's resources through the same mocks: the SDK's cost per resource, with nothing of ours."""
    import pulumi

    from ops.measure.floor.configmaps import register_floor
    from tests.mocks import RecordingMocks

    pulumi.runtime.set_mocks(RecordingMocks(), project="floor", stack="floor", preview=False)
    return timed(pulumi.runtime.test(lambda: register_floor(count, "floor")))


def prod_preview_seconds(policy_pack: Path | None = None) -> float:
    policies = ["--policy-pack", str(policy_pack),
                "--policy-pack-config", str(REPO / "policies" / "config" / "prod.json")] if policy_pack else []
    with tempfile.TemporaryDirectory() as out, stacks.scratch_stack("prod", Path(out)) as (scratch, env):
        return timed(lambda: stacks.pulumi(["preview", "--stack", "prod", "--cwd", str(scratch), *policies], _quiet(env)))


def floor_preview_seconds(count: int) -> float:
    tc = toolchain.ensure()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        project = {"name": "floor", "runtime": {"name": "python", "options": {"toolchain": "pip",
                                                                              "virtualenv": str(REPO / ".venv")}},
                   "main": str(FLOOR)}
        (scratch / "Pulumi.yaml").write_text(yaml.safe_dump(project))
        (scratch / "Pulumi.floor.yaml").write_text(yaml.safe_dump({"config": {
            "floor:count": str(count), "floor:renderDirectory": str(scratch / "rendered")}}))
        (scratch / "state").mkdir()
        env = stacks.engine_env(stacks.local_backend_url(scratch / "state"), "floor")
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"
        stacks.pulumi(["stack", "init", "floor", "--cwd", str(scratch)], env)
        assert tc.pulumi.exists()
        return timed(lambda: stacks.pulumi(["preview", "--stack", "floor", "--cwd", str(scratch)], _quiet(env)))


def scaled_program(times: int, into: Path) -> int:
    """A copy of the program whose catalog holds `times` copies of every service (named `<service>-x<k>`, each
    copy with its own database and buckets, called by its own copies of its callers, on no bus: the registries
    grant the originals only). Returns the number of services."""
    for part in ("__main__.py", "components", "foundry", "data"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, into / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, into / part)
    document = yaml.safe_load((REPO / "data" / "services.yaml").read_text())
    originals = list(document["services"])
    names = {s["name"] for s in originals}
    for k in range(2, times + 1):
        for service in originals:
            copy = {**service, "name": f"{service['name']}-x{k}", "buses": [], "nats": {},
                    "callers": [f"{c}-x{k}" if c in names else c for c in service.get("callers", [])],
                    "buckets": [f"{b}-x{k}" for b in service.get("buckets", [])]}
            document["services"].append(copy)
    (into / "data" / "services.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return len(document["services"])


def program_preview_seconds(main: Path) -> float:
    """`pulumi preview` of prod (render mode, a scratch backend) running the program at `main`."""
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        stacks.write_project("prod", scratch, {"mode": "render", "renderDirectory": out})
        project = yaml.safe_load((scratch / "Pulumi.yaml").read_text())
        project["main"] = str(main)
        (scratch / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        (scratch / "state").mkdir()
        env = stacks.engine_env(stacks.local_backend_url(scratch / "state"), "bench")
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"
        stacks.pulumi(["stack", "init", "prod", "--secrets-provider", "passphrase", "--cwd", str(scratch)], env)
        return timed(lambda: stacks.pulumi(["preview", "--stack", "prod", "--cwd", str(scratch)], _quiet(env)))


def dev_up_seconds() -> tuple[float, float]:
    """The first `up` of dev in render mode on a scratch backend, and a second one that changes nothing."""
    with tempfile.TemporaryDirectory() as out, stacks.scratch_stack("dev", Path(out)) as (scratch, env):
        command = ["up", "--yes", "--skip-preview", "--stack", "dev", "--cwd", str(scratch)]
        return timed(lambda: stacks.pulumi(command, _quiet(env))), timed(lambda: stacks.pulumi(command, _quiet(env)))


def cluster_binaries_cold_seconds(cache: Path, go_cache: Path) -> float:
    env = {**os.environ, "OPENFOUNDRY_CACHE": str(cache), "GOCACHE": str(go_cache)}
    code = "from ops.rehearsal import cluster; cluster.binaries()"
    return timed(lambda: subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def rehearsal_seconds(stack_name: str) -> tuple[float, float, float]:
    """A warm start of a rehearsal cluster of its own, the stack's first `up` on it, and a no-op second `up`."""
    from ops.rehearsal import cluster
    from ops.rehearsal.stacks import local_stack

    with tempfile.TemporaryDirectory(prefix="openfoundry-bench-cluster-") as state:
        own = cluster.Rehearsal(name="openfoundry-bench", state=Path(state))
        cluster.binaries()
        try:
            start = timed(lambda: cluster.up(own))
            project, env = local_stack(stack_name, own)
            command = ["up", "--yes", "--skip-preview", "--stack", stack_name, "--cwd", str(project)]
            first = timed(lambda: stacks.pulumi(command, _quiet(env)))
            second = timed(lambda: stacks.pulumi(command, _quiet(env)))
        finally:
            cluster.down(own)
    return start, first, second


def _quiet(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PULUMI_DISABLE_PROGRESS": "true"}


WIDTH = 48


def report(name: str, value: str, goal: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("ok" if met else "over")
    print(f"{name:<{WIDTH}}  {value:>10}  {goal:<14}{verdict}".rstrip(), flush=True)


class silenced:
    """Send the engine's own output to /dev/null while a figure is being measured."""

    def __enter__(self) -> None:
        self._saved = os.dup(1), os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        os.close(self._saved[0])
        os.close(self._saved[1])
