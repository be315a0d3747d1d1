"""`make cluster` / `make cluster-down`: the rehearsal cluster, a real Kubernetes control plane on this machine built
from Go modules (ops/rehearsal/cluster.py; docs/cluster.md).

    python -m ops.cluster up       # build if needed, start (idempotent), nodes, CRDs, operator namespaces
    python -m ops.cluster down     # stop it and remove its data
    python -m ops.cluster status
"""

from __future__ import annotations

import argparse
import sys

from ops import cli
from ops.rehearsal import kube
from ops.rehearsal.cluster import DEFAULT, answering, down, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The rehearsal cluster (make cluster, make cluster-down).")
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)

    def body() -> int:
        if args.command == "up":
            up()
        elif args.command == "down":
            down()
        else:
            client = answering()
            print(f"cluster {DEFAULT.name}: " + (f"running at {kube.server(client)}" if client else "not running"))
        return 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
