"""`make boot STACK=<stack> OPENFOUNDRY_SRC=<checkout>` (python -m ops.boot <stack> <checkout>): the pinned
OpenFoundry binaries built from the checkout, each started with exactly the environment, Secrets and mounts its
rendered Deployment gets, against real local servers, and a verdict per binary (ops/boot/verdicts.py).

    python -m ops.boot prod ~/src/OpenFoundry                        # rendered/prod
    python -m ops.boot prod ~/src/OpenFoundry --rendered /tmp/old/rendered/prod --report reports/boot/old.json

Prints a markdown table and a summary, writes reports/boot/<stack>.json; exits 0 when every started binary is
healthy and none degraded, 1 otherwise, 2 when it cannot run (no render, no checkout, not root).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from foundry.catalog import load_catalog
from foundry.upstream import load_contracts
from ops import cli
from ops.boot.build import build, read_checkout
from ops.boot.checks import Offered, binary_notes
from ops.boot.jetstream import Holdings, holdings
from ops.boot.plan import Target, build_specs, catalog_entries, image_of, targets
from ops.boot.pods import pod_run
from ops.boot.rendered import Rendered, load_rendered
from ops.boot.report import Result, exit_code, markdown_table, summary, write_json
from ops.boot.sandbox import Network
from ops.boot.servers import Dialed, StandIns, add_operator_objects, stand_ins
from ops.boot.verdicts import Verdict, classify, degradation_texts
from ops.boot.watch import Running, seen, start, watch
from ops.engine.stacks import RENDERED
from ops.engine.toolchain import REPO, ToolchainError, log

REPORTS = REPO / "reports" / "boot"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.boot", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("source", type=Path, help="an OpenFoundry git checkout (the pinned commit)")
    parser.add_argument("--rendered", type=Path, help="a render tree other than rendered/<stack>")
    parser.add_argument("--report", type=Path, help="the JSON report's path (default reports/boot/<stack>.json)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to watch the binaries (default 60)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds to keep watching once every binary is decided (default 15)")
    args = parser.parse_args(argv)
    return cli.run(lambda: boot(args))


def boot(args: argparse.Namespace) -> int:
    began = time.monotonic()
    if os.geteuid() != 0:
        raise ToolchainError("make boot runs as root (network namespaces, a bridge, other users' processes)")
    directory = args.rendered or RENDERED / args.stack
    rendered = load_rendered(directory)
    checkout = read_checkout(args.source)
    contracts = load_contracts()
    planned = targets(rendered, contracts, catalog_entries(load_catalog()))
    built_at = time.monotonic()
    built = build(checkout.root, build_specs(planned))
    timings = {"build": time.monotonic() - built_at}
    results, notes, offered = run_pods(planned, rendered, built, checkout.root, args, timings)
    results += [not_started(t) for t in planned if not t.starts]
    timings["total"] = time.monotonic() - began
    return output(args, directory, checkout.commit, results, timings, notes, offered)


def run_pods(planned: Sequence[Target], rendered: Rendered, built: dict[str, Path], source: Path,
             args: argparse.Namespace, timings: dict[str, float]) -> tuple[list[Result], list[str], StandIns]:
    """Every target that starts, in its sandbox, against the stand-in servers, watched: its result."""
    with tempfile.TemporaryDirectory(prefix="openfoundry-boot-certs-") as certs, Network() as network:
        issued = add_operator_objects(rendered, Path(certs))
        runnable = [t for t in planned if t.starts]
        running = [prepare(t, pod, rendered, network, built, source) for t, pod in zip(runnable, pod_names(runnable),
                                                                                       strict=True)]
        dialed = [Dialed(r.run, t.binary) for r, t in zip(running, runnable, strict=True) if t.binary]
        with stand_ins(rendered, network, dialed, issued) as offered:
            timings["servers"] = offered.seconds
            startable = [r for r in running if not r.run.problem]
            for index, r in enumerate(startable):
                start(r, offered.hosts_for(index))
            log(f"started {len(startable)} binaries", "boot")
            timings["watch"] = watch(startable, args.timeout, args.settle)
            seen_by = Offered(offered.kafka is not None, held_streams(offered),
                              offered.kafka.group_states() if offered.kafka else None)
            results = [result_of(t, r, seen_by) for t, r in zip(runnable, running, strict=True)]
    return results, issued.notes + offered.notes, offered


def pod_names(planned: Sequence[Target]) -> list[str]:
    """A pod name per target, unique across namespaces (a sandbox's hostname and name)."""
    names: list[str] = []
    for target in planned:
        name = f"{target.deployment}-boot"
        names.append(name if name not in names else f"{name}-{target.namespace.rsplit('-', 1)[-1]}")
    return names


def prepare(planned: Target, pod: str, rendered: Rendered, network: Network, built: dict[str, Path],
            source: Path) -> Running:
    """The target's sandbox and resolved pod; a missing image file is a problem of the checkout, said as such."""
    assert planned.binary is not None
    box = network.sandbox(pod)
    image = image_of(planned.binary, built, source)
    run = pod_run(planned.workload, planned.container, rendered, image, pod, box.address)
    missing = [str(path) for path in image.files.values() if not path.exists()]
    if missing and not run.problem:
        run = dataclasses.replace(run, problem=f"image files missing from the checkout: {', '.join(missing)}")
    health = planned.binary.health
    return Running(run, box, run.ports.get(health.port), health.path)


def held_streams(offered: StandIns) -> Holdings | None:
    """What the NATS servers hold once the binaries ran; None when there are none or they do not answer."""
    if not offered.nats.addresses or offered.nats.problem:
        return None
    try:
        return holdings(list(offered.nats.addresses.values()))
    except OSError as error:
        offered.notes.append(f"NATS monitoring endpoint did not answer: {error}")
        return None


def result_of(planned: Target, running: Running, offered: Offered) -> Result:
    assert planned.binary is not None
    if running.run.problem:
        verdict = Verdict("exits", running.run.problem)
    else:
        verdict = classify(seen(running), degradation_texts(planned.binary))
    lines = running.process.log_lines() if running.process else []
    notes = [*running.run.notes, *binary_notes(planned.binary, running.run, offered, lines)]
    return Result(planned.binary.name, planned.deployment, planned.namespace, verdict.verdict, verdict.evidence,
                  tuple(notes), verdict.degradations, running.probe, running.exit_code, tuple(lines[-30:]))


def not_started(planned: Target) -> Result:
    if planned.waiting:
        return Result(planned.binary_name, planned.deployment, planned.namespace, "waiting",
                      f"scaled to 0, waiting for {planned.waiting}: not started")
    return Result(planned.binary_name, planned.deployment, planned.namespace, "skipped", planned.skipped)


def output(args: argparse.Namespace, directory: Path, commit: str, results: list[Result], timings: dict[str, float],
           notes: list[str], offered: StandIns) -> int:
    table, line = markdown_table(results), summary(results)
    print(table)
    print()
    print(line)
    for note in notes:
        print(f"note: {note}")
    report = args.report or REPORTS / f"{args.stack}.json"
    write_json(report, {"stack": args.stack, "rendered": str(directory), "openfoundry_commit": commit,
                        "timings_seconds": {k: round(v, 1) for k, v in timings.items()}, "notes": notes,
                        "nack": offered.streams, "nats_servers": offered.nats.addresses}, results)
    print("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f"; report: {report}",
          file=sys.stderr)
    return exit_code(results)
