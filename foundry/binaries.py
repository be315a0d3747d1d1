"""The catalog joined with OpenFoundry's binaries (foundry/upstream.py): which entry runs which binary as its own
pods, and whether the two agree before any resource is registered.

An entry runs a binary when it is that binary's `same` or `renamed` service and the binary is a server (a one-shot
job, such as pipeline-runner, runs per request and is not deployed). A surface `merged` into another binary is
served by the entry that runs that binary; an entry with no live owner runs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from foundry.catalog import Catalog, Service
from foundry.config import ConfigProblem
from foundry.upstream import Binary, Contracts

WAITING = "operational-store"   # the store another issue builds (Cassandra, ADR-0020)


@dataclass(frozen=True)
class Running:
    """A catalog entry and the binary its pods run."""

    service: Service
    binary: Binary

    @property
    def waiting(self) -> bool:
        """It cannot start until a store the platform does not run yet exists."""
        return WAITING in self.binary.platform.waits_for


def running(catalog: Catalog, contracts: Contracts) -> list[Running]:
    """Every entry that runs pods of its own, with its binary's contract, in catalog order."""
    found = []
    for service in catalog.services:
        if service.binary is None or service.binary not in contracts.binaries:
            continue
        binary = contracts.of(service.binary)
        if binary.kind != "job":
            found.append(Running(service, binary))
    return found


def runner_of(catalog: Catalog, contracts: Contracts, binary: str) -> Service | None:
    """The entry whose pods run `binary`, if one does."""
    return next((r.service for r in running(catalog, contracts) if r.binary.name == binary), None)


def binary_problems(catalog: Catalog, contracts: Contracts) -> Iterable[ConfigProblem]:
    """The catalog and the contracts agree: every entry's binary has a contract, its ports are the binary's
    listeners, and every service another one's environment points at runs, and admits that caller."""
    source = "data/services.yaml"
    for service in catalog.services:
        if service.binary is not None and service.binary not in contracts.binaries:
            yield ConfigProblem(f"{source}: {service.name}.upstream", repr(service.binary),
                                "a binary with a contract in data/upstream/binaries/")
    for run in running(catalog, contracts):
        listens = {listener.port for listener in run.binary.listens}
        if listens != set(run.service.ports.all()) and run.binary.kind == "server":
            yield ConfigProblem(f"{source}: {run.service.name}.ports", ", ".join(sorted(run.service.ports.all())),
                                f"the ports {run.binary.name} listens on ({', '.join(sorted(listens))})")
        yield from _call_problems(catalog, contracts, run)


def _call_problems(catalog: Catalog, contracts: Contracts, run: Running) -> Iterable[ConfigProblem]:
    for variable, source in run.binary.platform.sets.items():
        kind, _, target = source.partition(":")
        if kind not in ("url", "address"):
            continue
        binary, _, port = target.partition(":")
        callee = runner_of(catalog, contracts, binary)
        where = f"data/upstream/binaries/{run.binary.name}.yaml: platform.sets.{variable}"
        if callee is None:
            yield ConfigProblem(where, repr(source), "the URL of a binary a catalog entry runs as a server")
        elif port and port not in callee.ports.serving():
            yield ConfigProblem(where, repr(source), f"a port {callee.name} serves ({', '.join(callee.ports.serving())})")
        elif run.service.name not in callee.callers:
            yield ConfigProblem(f"data/services.yaml: {callee.name}.callers", ", ".join(callee.callers) or "none",
                                f"{run.service.name} among them: its {variable} points at {callee.name}")
