"""The boot's output: a markdown table per binary and Deployment, a summary line, and the JSON report with
everything behind them (timings, servers, notes, each binary's probe, degradations and last log lines)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ops.boot.verdicts import PASSING, VERDICTS

LOG_TAIL = 30


@dataclass(frozen=True)
class Result:
    binary: str
    deployment: str
    namespace: str
    verdict: str
    evidence: str
    notes: tuple[str, ...] = ()
    degradations: tuple[str, ...] = ()
    probe: str = ""
    exit_code: int | None = None
    log_tail: tuple[str, ...] = ()

    @property
    def cell(self) -> str:
        """The table's evidence: the verdict's, then the notes."""
        return "; ".join([self.evidence, *self.notes]).replace("|", "\\|").replace("\n", " ")


def ordered(results: Sequence[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (r.binary, r.namespace, r.deployment))


def markdown_table(results: Sequence[Result]) -> str:
    rows = [f"| {r.binary} | {r.deployment} | {r.verdict} | {r.cell} |" for r in ordered(results)]
    return "\n".join(["| binary | deployment | verdict | evidence |", "| --- | --- | --- | --- |", *rows])


def summary(results: Sequence[Result]) -> str:
    counts = Counter(r.verdict for r in results)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    return f"{len(results)} deployed binaries: {', '.join(parts) or 'none'}"


def exit_code(results: Sequence[Result]) -> int:
    """0 when every binary that starts is healthy and none is degraded; 1 otherwise."""
    return 0 if all(r.verdict in PASSING for r in results) else 1


def write_json(path: Path, header: Mapping[str, Any], results: Sequence[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {**header, "summary": summary(results), "results": [asdict(r) for r in ordered(results)]}
    path.write_text(json.dumps(body, indent=2) + "\n")
