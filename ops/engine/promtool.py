"""Prometheus's own commands, built from the Prometheus Go module (the Go module proxy serves it) into
<cache>/<command>-<module version>:

- promtool, the rule checker and rule unit-test runner (the engine tier);
- prometheus, the server, which loads the configuration and rule files the Prometheus Operator generates on the
  rehearsal cluster (the cluster tier).

Cold: about 4 minutes each on 2 cores (each compiles every service-discovery SDK Prometheus links); warm: a file
check.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from foundry.versions import PROMETHEUS_MODULE_VERSION
from ops.engine.toolchain import ToolchainError, cache_dir, go_env, log

MODULE = "github.com/prometheus/prometheus"


def promtool() -> Path:
    return _built("promtool")


def prometheus() -> Path:
    return _built("prometheus")


def _built(command: str) -> Path:
    binary = cache_dir() / f"{command}-{PROMETHEUS_MODULE_VERSION}"
    if binary.exists():
        return binary
    started = time.monotonic()
    log(f"building {command} {PROMETHEUS_MODULE_VERSION} from its Go module (cold: ~4 min on 2 cores)", command)
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{command}-", dir=binary.parent) as work:
        result = subprocess.run(["go", "install", f"{MODULE}/cmd/{command}@{PROMETHEUS_MODULE_VERSION}"], cwd=work,
                                env={**go_env(), "GOBIN": work}, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise ToolchainError(f"{command} {PROMETHEUS_MODULE_VERSION} did not build:\n{result.stderr[-3000:]}")
        (Path(work) / command).rename(binary)
    log(f"{command} built in {time.monotonic() - started:.0f}s", command)
    return binary
