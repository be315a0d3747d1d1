"""The JVMs the engines run on: a `java` of at least the major version an engine needs, from JAVA_HOME, PATH, then
the JDKs installed under /usr/lib/jvm (this machine kind ships OpenJDK 17 and a Temurin 25 there)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ops.engine.toolchain import ToolchainError


def java() -> str:
    """The default `java` (Kafka 4 and Flink need 17 or newer)."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not Path(found).exists():
        raise ToolchainError("no `java` (Kafka 4 needs Java 17 or newer): install Debian's openjdk-17-jre-headless")
    return found


def java_at_least(major: int, who: str) -> Path:
    """A `java` of at least this major version, for `who` (named in the error when there is none)."""
    return _find(lambda found: found >= major, f"{who} needs Java {major}+")


def java_of(major: int, who: str) -> Path:
    """A `java` of exactly this major version (an engine that refuses newer JVMs)."""
    return _find(lambda found: found == major, f"{who} needs Java {major}")


def _find(fits: Callable[[int], bool], need: str) -> Path:
    homes = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    homes += sorted(Path("/usr/lib/jvm").glob("*"))
    for home in homes:
        if (home / "bin" / "java").exists() and fits(java_major(home) or 0):
            return home / "bin" / "java"
    raise ToolchainError(f"{need}; none found in JAVA_HOME, PATH or /usr/lib/jvm (this machine kind ships OpenJDK 17 "
                         f"and a Temurin JDK there)")


def java_major(home: Path) -> int | None:
    release = home / "release"
    match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(), re.MULTILINE) if release.exists() else None
    return int(match.group(1)) if match else None
