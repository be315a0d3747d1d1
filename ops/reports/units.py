"""Kubernetes and Flink quantities as the reports count them: cores and bytes, and bytes shown to people."""

from __future__ import annotations

import re
from typing import Any

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def cores(value: Any) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def size_bytes(value: Any) -> float:
    match = re.fullmatch(r"([0-9.]+)([KMGTP]i|[kMGTP])?", str(value))
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    unit = match.group(2) or ""
    return float(match.group(1)) * _BINARY.get(unit, _DECIMAL.get(unit, 1))


def flink_bytes(value: Any) -> float:
    """Flink's memory sizes: `2048m` is 2048 mebibytes there, not millibytes."""
    match = re.fullmatch(r"([0-9.]+)\s*([kmgt])?b?", str(value).lower())
    if match is None:
        raise ValueError(f"not a Flink memory size: {value!r}")
    return float(match.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2) or ""]


def human_bytes(value: float) -> str:
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}B"
