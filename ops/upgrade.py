"""`make upgrade STACK=<stack> [FROM=<git ref>]`: the upgrade rehearsal on the rehearsal cluster (ops/rehearsal/
upgrade.py). STACK is brought up at FROM (default: the base data/upgrade-rehearsal.yaml names), then at the working
tree over it, then once more.

It exits 1 when an `up` fails, when the roll forward replaced or deleted a stateful or protected resource (or
changed a field its operator cannot apply) that data/accepted-replacements.yaml does not name, when the API server
refused a pod, or when the second `up` of the working tree changed anything. The list is written to
reports/<stack>/upgrade.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ops import cli
from ops.engine.releases import base_tree, protected_urns
from ops.engine.stacks import REPO, StackError, preflight, pulumi
from ops.rehearsal import kube
from ops.rehearsal.cluster import answering
from ops.rehearsal.stacks import local_stack, local_stacks
from ops.rehearsal.upgrade import changes, events_in, fixed_base, summary

REPORTS = REPO / "reports"
EVENT_LOG_ENV = {"PULUMI_DEBUG_COMMANDS": "true"}   # the engine offers --event-log with its debug commands


def up(stack: str, project: Path, env: dict[str, str], *extra: str) -> int:
    return pulumi(["up", "--yes", "--skip-preview", "--stack", stack, "--cwd", str(project), *extra],
                  {**env, **EVENT_LOG_ENV}, check=False)


def rehearse(stack: str, ref: str, scratch: Path) -> list[str]:
    """The rehearsal's verdicts, one line per problem; empty when the release rolls forward cleanly."""
    client = answering()
    if client is None:
        raise StackError("the rehearsal cluster is not running: `make cluster` starts it")
    base = base_tree(ref, scratch / "base")
    if not (base / f"Pulumi.{stack}.yaml").exists():
        raise StackError(f"{ref} has no stack file Pulumi.{stack}.yaml")
    project, env = local_stack(stack, source=base)
    held = [s["name"] for s in local_stacks(project, env) if s.get("resourceCount")]
    if held:
        raise StackError(f"the rehearsal cluster holds {', '.join(held)} already; the rehearsal starts from an empty "
                         "one: `make cluster-down` first")
    print(f"[upgrade] up of {stack} at {ref} on the rehearsal cluster")
    if up(stack, project, env) != 0:
        return [f"the up of {stack} at {ref} failed: there is nothing to roll forward"]
    protected = protected_urns(project, stack, env)
    project, env = local_stack(stack)
    print(f"[upgrade] up of {stack} at the working tree over it ({len(protected)} resources protected)")
    log = scratch / "events.json"
    problems = [] if up(stack, project, env, "--event-log", str(log)) == 0 else ["the up of the working tree failed"]
    events = events_in(log)
    print("[upgrade] it " + ", ".join(f"{op}d {n}"
                                       for op, n in sorted(summary(events).items())))
    found = changes(events, protected)
    for finding in found:
        print(f"  {finding.line()}")
    problems += [f"lost state: {f.line()}" for f in found if f.refused]
    problems += [f"pod refused: {line}" for line in kube.refused_pods(client)]
    if up(stack, project, env, "--expect-no-changes") != 0:
        problems.append("the second up of the working tree changed something (or failed)")
    return problems


def report(stack: str, ref: str, problems: list[str]) -> str:
    head = f"# make upgrade: {stack} from {ref}\n\n"
    if not problems:
        return head + ("The release rolls forward: no stateful or protected resource lost, every pod admitted, "
                       "and a second up changes nothing.\n")
    return head + "".join(f"- {p}\n" for p in problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Roll a stack forward from an earlier release on the rehearsal cluster.")
    parser.add_argument("stack")
    parser.add_argument("--from", dest="ref", help="a git ref (default: data/upgrade-rehearsal.yaml's base)")
    args = parser.parse_args(argv)

    def body() -> int:
        preflight(args.stack, environ={})
        ref = args.ref or fixed_base()
        with tempfile.TemporaryDirectory(prefix=f"openfoundry-upgrade-{args.stack}-") as scratch:
            problems = rehearse(args.stack, ref, Path(scratch))
        text = report(args.stack, ref, problems)
        (REPORTS / args.stack).mkdir(parents=True, exist_ok=True)
        (REPORTS / args.stack / "upgrade.md").write_text(text)
        print(text, end="")
        return 1 if problems else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
