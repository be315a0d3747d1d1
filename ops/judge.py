"""`make validate STACK=<stack>` (last part): what the stack generates, loaded by the engine that reads it.

    python -m ops.judge prod      # after `make render STACK=prod`

- every CloudNativePG Cluster's `postgresql.parameters`: PostgreSQL of the clusters' release takes each one, and a
  server starts with them (ops/engine/postgres.py).

One line per problem, naming the Cluster and the parameter. Exits 1 on a problem, 2 when nothing is rendered.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ops import cli
from ops.engine import postgres
from ops.engine.stacks import RENDERED, StackError

CLUSTERS = "postgresql.cnpg.io_v1-cluster-*.yaml"


def cluster_parameters(directory: Path) -> dict[str, dict[str, str]]:
    """Each rendered CloudNativePG Cluster's parameters, by `namespace/name`."""
    found = {}
    for path in sorted((directory / "1-manifest").glob(CLUSTERS)):
        cluster = yaml.safe_load(path.read_text())
        name = f"{cluster['metadata'].get('namespace', '')}/{cluster['metadata']['name']}"
        found[name] = {str(k): str(v) for k, v in
                       ((cluster["spec"].get("postgresql") or {}).get("parameters") or {}).items()}
    return found


def postgres_problems(directory: Path) -> list[str]:
    """Each distinct parameter set judged once, its problems reported for every Cluster that has it."""
    by_set: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for name, given in cluster_parameters(directory).items():
        by_set.setdefault(tuple(sorted(given.items())), []).append(name)
    problems = []
    with postgres.server() as server:
        for parameters, clusters in by_set.items():
            for problem in postgres.judge(dict(parameters), server):
                problems += [f"Cluster {cluster}: postgresql.parameters.{problem}" for cluster in clusters]
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ops.judge STACK", file=sys.stderr)
        return 2

    def body() -> int:
        directory = RENDERED / args[0]
        if not directory.exists():
            raise StackError(f"{directory.relative_to(RENDERED.parent)}/ does not exist: run `make render STACK={args[0]}`")
        problems = postgres_problems(directory)
        for problem in problems:
            print(problem, file=sys.stderr)
        clusters = len(cluster_parameters(directory))
        print(f"postgres {postgres.POSTGRES_BINARIES_VERSION}: {clusters} clusters' parameters, "
              f"{len(problems)} problems", file=sys.stderr if problems else sys.stdout)
        return 1 if problems else 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
