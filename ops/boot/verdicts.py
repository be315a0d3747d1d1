"""A started binary's verdict, from what was seen of it: its exit, its readiness probe, its log lines against its
contract's `degradations` and the `missing` text of every variable it `degrades` without.

    exits     it stopped (or the kubelet would not start it): the first error-looking line, else the last
    degraded  it runs, healthy or not, and logged a line its contract names as degraded operation
    unready   it runs, but its readiness probe never answered 2xx
    healthy   it runs and its readiness probe answered 2xx
    waiting   its Deployment is scaled to 0 until a store exists (annotation openfoundry.dev/waiting-for)
    skipped   not a binary this command runs (a static image, or an image with no binary)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from foundry.upstream import Binary

VERDICTS = ("exits", "degraded", "unready", "healthy", "waiting", "skipped")
PASSING = ("healthy", "waiting", "skipped")
ERROR_LINE = re.compile(r'"(level|lvl|severity)"\s*:\s*"(error|fatal|panic|critical)"|\b(level|lvl)=(error|fatal|panic)\b'
                        r"|\b(ERROR|FATAL|PANIC|ERR|FTL)\b|^panic:|^fatal error:", re.IGNORECASE)
MESSAGE_KEYS = ("msg", "message", "error", "err")
EVIDENCE_LENGTH = 200
SHOWN = 2                # degradation lines quoted in the table; the report has all
LOGFMT = re.compile(r'(?:^|\s)([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')


@dataclass(frozen=True)
class Seen:
    """What the watch saw of one process: its exit code (None: still running), its last probe and its log."""

    exit_code: int | None
    probe_ok: bool
    probe: str                 # e.g. "GET :8080/healthz -> 200", "GET :8080/healthz: no answer"
    lines: Sequence[str]


@dataclass(frozen=True)
class Verdict:
    verdict: str
    evidence: str
    degradations: tuple[str, ...] = ()


def degradation_texts(binary: Binary) -> dict[str, str]:
    """The contract's degradation lines and the `missing` text of each variable it degrades without, each with the
    variable the platform leaves unset on purpose that it stands for ('' when none)."""
    unset = {u.env for u in binary.platform.leaves_unset}
    missing = {v.missing: v.name for v in binary.env if v.need == "degrades" and v.missing}
    on_purpose = {text: name for text, name in missing.items() if name in unset}
    texts = {text: "" for text in [*binary.degradations, *missing]}
    for text in texts:
        texts[text] = next((name for known, name in on_purpose.items() if text in known or known in text), "")
    return texts


def mentions(line: str, text: str) -> bool:
    """`text` in the line as written (not as the start of a longer word: 'grpc listen' is not 'grpc listening'),
    in the raw line or in its decoded JSON fields."""
    pattern = re.compile((r"(?<!\w)" if text[:1].isalnum() else "") + re.escape(text)
                         + (r"(?!\w)" if text[-1:].isalnum() else ""))
    return bool(pattern.search(line) or pattern.search(_decoded(line)))


def degraded_lines(lines: Sequence[str], texts: Mapping[str, str]) -> list[tuple[str, str]]:
    """The log lines holding one of `texts`, each with the variable left unset on purpose it stands for."""
    found = []
    for line in lines:
        hit = next((text for text in texts if mentions(line, text)), None)
        if hit is not None:
            found.append((line, texts[hit]))
    return found


def error_line(lines: Sequence[str]) -> str:
    """The first line that looks like an error (level error/fatal/panic), else the last, else 'no output'."""
    found = next((line for line in lines if ERROR_LINE.search(line)), None)
    return found if found is not None else (lines[-1] if lines else "no output")


def classify(seen: Seen, texts: Mapping[str, str]) -> Verdict:
    degraded = degraded_lines(seen.lines, texts)
    lines = tuple(line for line, _ in degraded)
    if seen.exit_code is not None:
        return Verdict("exits", f"exit code {seen.exit_code}: {condense(error_line(seen.lines))}", lines)
    if degraded:
        state = "probe 2xx" if seen.probe_ok else seen.probe
        return Verdict("degraded", f"{' / '.join(_degradation(*d) for d in degraded[:SHOWN])}"
                       f"{f' (+{len(degraded) - SHOWN} more)' if len(degraded) > SHOWN else ''} ({state})", lines)
    if seen.probe_ok:
        return Verdict("healthy", seen.probe)
    return Verdict("unready", f"{seen.probe}; last line: {condense(seen.lines[-1]) if seen.lines else 'no output'}")


def _degradation(line: str, unset: str) -> str:
    return condense(line) + (f" [{unset} left unset on purpose]" if unset else "")


def condense(line: str) -> str:
    """A log line short enough for a table cell: a structured line's (JSON or logfmt) level, message and error."""
    record = _record(line)
    if record:
        level = str(record.get("level") or record.get("lvl") or "")
        fields = [f"{k}={record[k]}" if k in ("error", "err") else str(record[k]) for k in MESSAGE_KEYS if record.get(k)]
        line = " ".join(part for part in (level.upper(), *fields) if part)
    line = " ".join(line.split())
    return line if len(line) <= EVIDENCE_LENGTH else line[:EVIDENCE_LENGTH - 1] + "…"


def _record(line: str) -> dict[str, object]:
    """A JSON or logfmt (`key=value key="quoted value"`) line's fields; {} for free text."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict):
        return record
    pairs = LOGFMT.findall(line)
    if not any(key in ("msg", "level") for key, _ in pairs):
        return {}
    return {key: _unquote(value) for key, value in pairs}


def _unquote(value: str) -> str:
    if value.startswith('"'):
        try:
            return str(json.loads(value))
        except ValueError:
            return value.strip('"')
    return value


def _decoded(line: str) -> str:
    return " ".join(str(value) for value in _record(line).values())
