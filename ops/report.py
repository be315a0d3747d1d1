"""`make report STACK=<stack>`: what a reviewer reads before approving a change, computed from the stack's rendered
manifests and its config, written to reports/<stack>/ (ops/reports/):

- topology.svg / .png (and .dot): planes, services, stores, buses and the edge, joined by the flows `make flows`
  checks (ops/reports/topology.py);
- capacity.md / .json: CPU and memory requests and limits per plane and in total (the operators' pods included),
  storage claimed raw and usable, against the nodes `topology.node` declares (ops/reports/capacity.py);
- zone-loss.md / .json: whether each replicated or quorum system survives the loss of any one zone
  (ops/reports/zoneloss.py).

    python -m ops.report prod              # after a render (make report does both)
    python -m ops.report prod --summary    # the pull request's summary of the written reports

Exits 2, writing nothing, when the stack does not fit its nodes (one line per problem, with its config path); 1
when a system of a multi-zone stack does not survive a zone's loss and data/zone-loss-accepted.yaml gives no
reason; 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from ops import cli
from ops.engine.stacks import REPO, rendered_stack
from ops.reports.units import human_bytes
from ops.reports.writeup import summary, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a stack's topology, capacity and zone-loss reports.")
    parser.add_argument("stack")
    parser.add_argument("--summary", action="store_true", help="print the pull request's summary of written reports")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.stack), end="")
        return 0

    def body() -> int:
        config, directory = rendered_stack(args.stack, "report")
        target = REPO / "reports" / args.stack
        capacity, found = write(args.stack, config, directory, target)
        if capacity.problems:
            print(f"the stack does not fit its nodes ({len(capacity.problems)} problem(s)); no report written:",
                  file=sys.stderr)
            for problem in capacity.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 2
        total = capacity.totals()
        zoned = len(config.topology.zones) > 1
        failing = [v for v in found if not v.survives]
        unaccepted = [v for v in failing if not v.accepted] if zoned else []
        survival = (f"{len(found) - len(failing)}/{len(found)} systems survive a zone's loss "
                    f"({len(failing) - len(unaccepted)} accepted)" if zoned else "one zone: its loss is the stack's")
        print(f"{args.stack}: {total['pods']} pods request {total['cpu']:.1f} cores and {human_bytes(total['memory'])} "
              f"on {capacity.nodes.count} node(s); {survival}; reports in {target.relative_to(REPO)}/")
        for verdict in unaccepted:
            print(f"does not survive a zone's loss: {verdict.system}: {verdict.reason}", file=sys.stderr)
        return 1 if unaccepted else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
