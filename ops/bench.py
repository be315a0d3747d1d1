"""`make bench`: the performance figures, printed (never asserted; ops/measure/figures.py measures them).

    python -m ops.bench [--skip-cold] [--skip-cluster]

  toolchain bootstrap   cold (empty toolchain cache and Go build cache; Go module cache as found) and warm
  mock evaluation       the prod program under Pulumi mocks (no engine), beside the same number of plain ConfigMaps
                        under the same mocks (the SDK's own floor)
  prod preview          `pulumi preview` of prod in render mode, beside a floor program registering the same
                        number of plain ConfigMaps through the same engine, and their ratio
  4x catalog            prod's preview with every service copied three more times, against the real catalog's
  policy pack           the prod preview again with policies/ (one run), and the difference; beside it a pack of
                        the same policies each validating nothing (ops/measure/floor_pack: what pulumi-policy itself costs)
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
import sys
import tempfile
from pathlib import Path

from ops.checks.schemas import validate_directory
from ops.engine import stacks, toolchain
from ops.measure.figures import (
    FLOOR_PACK,
    REPO,
    bootstrap_seconds,
    cluster_binaries_cold_seconds,
    crd_generation_seconds,
    dev_up_seconds,
    floor_preview_seconds,
    mock_evaluation,
    mock_floor_seconds,
    prod_preview_seconds,
    program_preview_seconds,
    rehearsal_seconds,
    report,
    scaled_program,
    silenced,
    timed,
)


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
    with silenced():
        prod = prod_preview_seconds()
        floor = floor_preview_seconds(resources)
    report("pulumi preview, prod (render mode)", f"{prod:8.1f} s")
    report(f"pulumi preview, floor ({resources} ConfigMaps)", f"{floor:8.1f} s")
    report("prod / floor", f"{prod / floor:8.2f} x", "<= 1.3 x", prod / floor <= 1.3)
    with tempfile.TemporaryDirectory(prefix="openfoundry-bench-4x-") as scaled_dir, silenced():
        services = scaled_program(4, Path(scaled_dir))
        real = program_preview_seconds(REPO)
        scaled = program_preview_seconds(Path(scaled_dir))
    report(f"pulumi preview, prod with a 4x catalog ({services} services)", f"{scaled:8.1f} s")
    report("4x catalog / real catalog", f"{scaled / real:8.2f} x", "<= 4.2 x", scaled / real <= 4.2)
    with silenced():
        with_pack = prod_preview_seconds(policy_pack=REPO / "policies")
        with_floor_pack = prod_preview_seconds(policy_pack=FLOOR_PACK)
    report("pulumi preview, prod + policy pack (one run)", f"{with_pack:8.1f} s")
    overhead = (with_pack - prod) / prod
    report("policy pack overhead on the prod preview", f"{overhead:8.0%}", "<= 15%", overhead <= 0.15)
    report("  of it, the same policies validating nothing", f"{(with_floor_pack - prod) / prod:8.0%}")
    report("  the checks themselves", f"{(with_pack - with_floor_pack) / prod:8.0%}")
    with silenced():
        first, again = dev_up_seconds()
    report("pulumi up, dev (render mode), first", f"{first:8.1f} s")
    report("  no-op second / first (render mode)", f"{again / first:8.2f} x")
    with silenced():
        stacks.render("prod", [])
    report("strict validation of rendered/prod (warm)",
           f"{timed(lambda: validate_directory(REPO / 'rendered' / 'prod')):8.2f} s")
    if not args.skip_cluster:
        with silenced():
            start, first, second = rehearsal_seconds("dev")
        report("rehearsal cluster, warm start", f"{start:8.1f} s")
        report("pulumi up, dev on the rehearsal cluster, first", f"{first:8.1f} s")
        report("  no-op second up / first", f"{second / first:8.2f} x", "<= 0.15 x", second / first <= 0.15)
        with silenced():
            _, first, second = rehearsal_seconds("prod")
        report("pulumi up, prod on the rehearsal cluster, first", f"{first:8.1f} s")
        report("  no-op second up / first", f"{second / first:8.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
