"""Performance figures, printed (never asserted): `make bench`.

  toolchain bootstrap   cold (empty toolchain cache and Go build cache; Go module cache as found) and warm
  mock evaluation       the prod program under Pulumi mocks (no engine), beside the same number of plain ConfigMaps
                        under the same mocks (the SDK's own floor)
  prod preview          `pulumi preview` of prod in render mode, beside a floor program registering the same
                        number of plain ConfigMaps through the same engine, and their ratio
  4x catalog            prod's preview with every service copied three more times, against the real catalog's
  policy pack           the prod preview again with policies/ (one run), and the difference; beside it a pack of
                        the same policies each validating nothing (ops/floor_pack: what pulumi-policy itself costs)
  CRD generation        every operator's CRDs from their published artifacts, cold and warm
  validation            strict schema validation of every rendered prod manifest (warm)
  dev up                a first `pulumi up` of dev (render mode) and a no-op second one, and their ratio
  rehearsal cluster     its binaries cold (empty cache), a warm start; dev's first `up` on it and a no-op second
                        `up` (the goal's figure: render mode writes files, so there a first `up` is no more work than
                        a no-op one), then the same for prod

Where the issues set a goal, the figure is printed next to it with `ok` or `over`.
"""

from __future__ import annotations

import argparse
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
from ops import stack, toolchain
from ops.validate import validate_directory

REPO = toolchain.REPO


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

    config = load_stack_config(stack.read_stack_values("prod"), "prod")
    catalog = load_catalog()
    started = time.perf_counter()
    registered = register_platform(config, catalog)
    return time.perf_counter() - started, len(registered)


def mock_floor_seconds(count: int) -> float:
    """The floor program's resources through the same mocks: the SDK's cost per resource, with nothing of ours."""
    import pulumi

    from ops.floor.configmaps import register_floor
    from tests.mocks import RecordingMocks

    pulumi.runtime.set_mocks(RecordingMocks(), project="floor", stack="floor", preview=False)
    return timed(pulumi.runtime.test(lambda: register_floor(count, "floor")))


def prod_preview_seconds(policy_pack: Path | None = None) -> float:
    policies = ["--policy-pack", str(policy_pack),
                "--policy-pack-config", str(REPO / "policies" / "config" / "prod.json")] if policy_pack else []
    with tempfile.TemporaryDirectory() as out, stack.scratch_stack("prod", Path(out)) as (scratch, env):
        return timed(lambda: stack.pulumi(["preview", "--stack", "prod", "--cwd", str(scratch), *policies], _quiet(env)))


def floor_preview_seconds(count: int) -> float:
    tc = toolchain.ensure()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        project = {"name": "floor", "runtime": {"name": "python", "options": {"toolchain": "pip",
                                                                              "virtualenv": str(REPO / ".venv")}},
                   "main": str(REPO / "ops" / "floor")}
        (scratch / "Pulumi.yaml").write_text(yaml.safe_dump(project))
        (scratch / "Pulumi.floor.yaml").write_text(yaml.safe_dump({"config": {
            "floor:count": str(count), "floor:renderDirectory": str(scratch / "rendered")}}))
        (scratch / "state").mkdir()
        env = stack.engine_env(f"file://{scratch / 'state'}", "floor")
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"
        stack.pulumi(["stack", "init", "floor", "--cwd", str(scratch)], env)
        assert tc.pulumi.exists()
        return timed(lambda: stack.pulumi(["preview", "--stack", "floor", "--cwd", str(scratch)], _quiet(env)))


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
        stack.write_project("prod", scratch, {"mode": "render", "renderDirectory": out})
        project = yaml.safe_load((scratch / "Pulumi.yaml").read_text())
        project["main"] = str(main)
        (scratch / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        (scratch / "state").mkdir()
        env = stack.engine_env(f"file://{scratch / 'state'}", "bench")
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"
        stack.pulumi(["stack", "init", "prod", "--secrets-provider", "passphrase", "--cwd", str(scratch)], env)
        return timed(lambda: stack.pulumi(["preview", "--stack", "prod", "--cwd", str(scratch)], _quiet(env)))


def dev_up_seconds() -> tuple[float, float]:
    """The first `up` of dev in render mode on a scratch backend, and a second one that changes nothing."""
    with tempfile.TemporaryDirectory() as out, stack.scratch_stack("dev", Path(out)) as (scratch, env):
        command = ["up", "--yes", "--skip-preview", "--stack", "dev", "--cwd", str(scratch)]
        return timed(lambda: stack.pulumi(command, _quiet(env))), timed(lambda: stack.pulumi(command, _quiet(env)))


def cluster_binaries_cold_seconds(cache: Path, go_cache: Path) -> float:
    env = {**os.environ, "OPENFOUNDRY_CACHE": str(cache), "GOCACHE": str(go_cache)}
    code = "from ops import cluster; cluster.binaries()"
    return timed(lambda: subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def rehearsal_seconds(stack_name: str) -> tuple[float, float, float]:
    """A warm start of a rehearsal cluster of its own, the stack's first `up` on it, and a no-op second `up`."""
    from ops import cluster

    with tempfile.TemporaryDirectory(prefix="openfoundry-bench-cluster-") as state:
        own = cluster.Rehearsal(name="openfoundry-bench", state=Path(state))
        cluster.binaries()
        try:
            start = timed(lambda: cluster.up(own))
            project, env = stack.local_stack(stack_name, own)
            command = ["up", "--yes", "--skip-preview", "--stack", stack_name, "--cwd", str(project)]
            first = timed(lambda: stack.pulumi(command, _quiet(env)))
            second = timed(lambda: stack.pulumi(command, _quiet(env)))
        finally:
            cluster.down(own)
    return start, first, second


def _quiet(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PULUMI_DISABLE_PROGRESS": "true"}


WIDTH = 48


def report(name: str, value: str, goal: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("ok" if met else "over")
    print(f"{name:<{WIDTH}}  {value:>10}  {goal:<14}{verdict}".rstrip(), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="leave out the cold builds (minutes)")
    parser.add_argument("--skip-cluster", action="store_true", help="leave out the rehearsal cluster (minutes)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="openfoundry-bench-") as tmp:
        cache, go_cache = Path(tmp) / "cache", Path(tmp) / "gocache"
        if not args.skip_cold:
            report("toolchain bootstrap, cold (empty Go build cache)", f"{bootstrap_seconds(cache, go_cache):8.1f} s")
            report("toolchain bootstrap, warm", f"{bootstrap_seconds(cache, go_cache):8.2f} s")
            report("CRD generation, cold (empty Go build cache)", f"{crd_generation_seconds(cache, go_cache / 'crds'):8.1f} s")
            report("CRD generation, warm", f"{crd_generation_seconds(cache, go_cache / 'crds'):8.2f} s")
            report("rehearsal cluster binaries, cold (empty caches)",
                   f"{cluster_binaries_cold_seconds(cache, go_cache / 'cluster'):8.1f} s")
    toolchain.ensure()
    mock_seconds, resources = mock_evaluation()
    report(f"mock evaluation of prod ({resources} resources)", f"{mock_seconds:8.2f} s", "<= 2.0 s", mock_seconds <= 2.0)
    mock_floor = mock_floor_seconds(resources)
    report(f"mock evaluation, floor ({resources} ConfigMaps)", f"{mock_floor:8.2f} s")
    report("  prod / floor under mocks", f"{mock_seconds / mock_floor:8.2f} x")
    with _silenced():
        prod = prod_preview_seconds()
        floor = floor_preview_seconds(resources)
    report("pulumi preview, prod (render mode)", f"{prod:8.1f} s")
    report(f"pulumi preview, floor ({resources} ConfigMaps)", f"{floor:8.1f} s")
    report("prod / floor", f"{prod / floor:8.2f} x", "<= 1.3 x", prod / floor <= 1.3)
    with tempfile.TemporaryDirectory(prefix="openfoundry-bench-4x-") as scaled_dir, _silenced():
        services = scaled_program(4, Path(scaled_dir))
        real = program_preview_seconds(REPO)
        scaled = program_preview_seconds(Path(scaled_dir))
    report(f"pulumi preview, prod with a 4x catalog ({services} services)", f"{scaled:8.1f} s")
    report("4x catalog / real catalog", f"{scaled / real:8.2f} x", "<= 4.2 x", scaled / real <= 4.2)
    with _silenced():
        with_pack = prod_preview_seconds(policy_pack=REPO / "policies")
        with_floor_pack = prod_preview_seconds(policy_pack=REPO / "ops" / "floor_pack")
    report("pulumi preview, prod + policy pack (one run)", f"{with_pack:8.1f} s")
    overhead = (with_pack - prod) / prod
    report("policy pack overhead on the prod preview", f"{overhead:8.0%}", "<= 15%", overhead <= 0.15)
    report("  of it, the same policies validating nothing", f"{(with_floor_pack - prod) / prod:8.0%}")
    report("  the checks themselves", f"{(with_pack - with_floor_pack) / prod:8.0%}")
    with _silenced():
        first, again = dev_up_seconds()
    report("pulumi up, dev (render mode), first", f"{first:8.1f} s")
    report("  no-op second / first (render mode)", f"{again / first:8.2f} x")
    with _silenced():
        stack.render("prod", [])
    report("strict validation of rendered/prod (warm)",
           f"{timed(lambda: validate_directory(REPO / 'rendered' / 'prod')):8.2f} s")
    if not args.skip_cluster:
        with _silenced():
            start, first, second = rehearsal_seconds("dev")
        report("rehearsal cluster, warm start", f"{start:8.1f} s")
        report("pulumi up, dev on the rehearsal cluster, first", f"{first:8.1f} s")
        report("  no-op second up / first", f"{second / first:8.2f} x", "<= 0.15 x", second / first <= 0.15)
        with _silenced():
            _, first, second = rehearsal_seconds("prod")
        report("pulumi up, prod on the rehearsal cluster, first", f"{first:8.1f} s")
        report("  no-op second up / first", f"{second / first:8.2f} x")
    return 0


class _silenced:
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


if __name__ == "__main__":
    sys.exit(main())
