"""promtool, Prometheus's own rule checker and rule unit-test runner, built from the Prometheus Go module (the Go
module proxy serves it) into <cache>/promtool-<module version>. Cold: about 4 minutes on 2 cores (it compiles
every service-discovery SDK Prometheus links); warm: a file check.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from foundry.versions import PROMETHEUS_MODULE_VERSION
from ops.engine.toolchain import ToolchainError, cache_dir, go_env, log

PACKAGE = "github.com/prometheus/prometheus/cmd/promtool"


def promtool() -> Path:
    binary = cache_dir() / f"promtool-{PROMETHEUS_MODULE_VERSION}"
    if binary.exists():
        return binary
    started = time.monotonic()
    log(f"building promtool {PROMETHEUS_MODULE_VERSION} from its Go module (cold: ~4 min on 2 cores)", "promtool")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="promtool-", dir=binary.parent) as work:
        result = subprocess.run(["go", "install", f"{PACKAGE}@{PROMETHEUS_MODULE_VERSION}"], cwd=work,
                                env={**go_env(), "GOBIN": work}, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise ToolchainError(f"promtool {PROMETHEUS_MODULE_VERSION} did not build:\n{result.stderr[-3000:]}")
        (Path(work) / "promtool").rename(binary)
    log(f"promtool built in {time.monotonic() - started:.0f}s", "promtool")
    return binary
