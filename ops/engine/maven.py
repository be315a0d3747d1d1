"""Artifacts from Maven Central (the only Java registry this machine reaches), through `mvn` and a throwaway POM:
the engines' jars and the binaries some projects publish as jars, resolved into a cache directory of their own.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ops.engine.toolchain import ToolchainError, log

DEPENDENCY_PLUGIN = "3.8.1"
Artifact = tuple[str, str, str]   # group, artifact, version


def pom_xml(artifacts: Iterable[Artifact], dependency_plugin: str = DEPENDENCY_PLUGIN) -> str:
    """A throwaway POM whose dependencies are `artifacts`, for copy-dependencies."""
    deps = "".join(f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
                   for g, a, v in artifacts)
    plugin = ("<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>"
              f"<version>{dependency_plugin}</version></plugin>")
    return ('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            "<groupId>local.openfoundry</groupId><artifactId>engine-libs</artifactId><version>1</version>"
            f"<packaging>pom</packaging><dependencies>{deps}</dependencies>"
            f"<build><pluginManagement><plugins>{plugin}</plugins></pluginManagement></build></project>")


def copy_dependencies(artifacts: Iterable[Artifact], target: Path, what: str, transitive: bool = True,
                      exclude: Iterable[str] = ()) -> None:
    """Every jar of `artifacts` (and, when `transitive`, their runtime dependencies) into `target`, but for the
    artifact ids in `exclude`."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolchainError(f"`mvn` is not on PATH: install Maven (Debian's maven) to fetch {what}")
    with tempfile.TemporaryDirectory(prefix="maven-") as work:
        (Path(work) / "pom.xml").write_text(pom_xml(artifacts))
        cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "dependency:copy-dependencies", f"-DoutputDirectory={target}",
               "-DincludeScope=runtime", f"-DexcludeTransitive={str(not transitive).lower()}"]
        if exclude:
            cmd.append(f"-DexcludeArtifactIds={','.join(exclude)}")
        result = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if result.returncode != 0:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)   # Maven 3.8 colours even in batch mode
        tail = "\n".join(plain.strip().splitlines()[-25:])
        raise ToolchainError(f"Maven could not resolve {what}:\n{tail}")


MARKER = "complete.json"


def is_marked(home: Path, what: dict[str, Any]) -> bool:
    """Whether <home> holds a whole resolve of `what` (its marker, written last, names it)."""
    try:
        return bool(json.loads((home / MARKER).read_text()) == what)
    except (OSError, ValueError):
        return False


def mark(home: Path, what: dict[str, Any]) -> None:
    (home / MARKER).write_text(json.dumps(what))


def cached_jars(home: Path, artifacts: Sequence[Artifact], what: str, tag: str) -> Path:
    """`artifacts` and their runtime dependencies in <home>/libs, resolved once: a marker naming them says the
    directory is whole (a resolve stopped midway leaves none, and runs again)."""
    target, wanted = home / "libs", {"artifacts": [list(a) for a in artifacts]}
    if is_marked(home, wanted):
        return target
    started = time.monotonic()
    log(f"resolving {what} from Maven Central into {target}", tag)
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="libs-", dir=home) as work:
        staging = Path(work) / "libs"
        copy_dependencies(artifacts, staging, what)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    mark(home, wanted)
    log(f"{len(list(target.glob('*.jar')))} jars in {time.monotonic() - started:.1f}s", tag)
    return target
