"""System tools the project takes from Debian's packages (the machine's own registry), installed on first use."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from ops.engine.toolchain import ToolchainError, log

# Debian package -> the command it provides
PACKAGES = {"graphviz": "dot", "haproxy": "haproxy", "redis-server": "redis-server"}


def ensure(package: str) -> str:
    """The path of the package's command, installing the package with apt when it is missing (as root)."""
    command = PACKAGES[package]
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise ToolchainError(f"`{command}` is missing: install Debian's {package} (sudo apt-get install {package})")
    started = time.monotonic()
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"apt-get could not install {package}: {result.stderr.strip()[-400:]}")
    log(f"installed Debian's {package} ({time.monotonic() - started:.0f} s)", tag="system")
    found = shutil.which(command)
    if found is None:
        raise ToolchainError(f"Debian's {package} installed no `{command}`")
    return found
