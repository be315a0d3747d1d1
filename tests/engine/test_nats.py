"""The generated nats.conf, checked by the real NATS server (`nats-server -t`), built from its Go module."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.control.nats import password_variable, server_config, user_permissions
from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import durable_consumers, load_streams
from ops.toolchain import cache_dir, go_env

pytestmark = pytest.mark.engine

WRAPPER = Path(__file__).resolve().parent / "nats-server"


@pytest.fixture(scope="module")
def nats_server() -> Path:
    binary = cache_dir() / "nats-server-v2.12.1"
    if not binary.exists():
        subprocess.run(["go", "build", "-o", str(binary), "github.com/nats-io/nats-server/v2"], cwd=WRAPPER,
                       env=go_env(), check=True, capture_output=True, timeout=900)
    return binary


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_server_accepts_the_generated_config(stack: str, nats_server: Path, catalog: Catalog, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    config: StackConfig = request.getfixturevalue(f"{stack}_config")
    consumers = durable_consumers(load_streams(), catalog)
    users = {s.name: user_permissions(s, consumers) for s in catalog.services if s.uses_nats}
    conf = tmp_path / "nats.conf"
    conf.write_text(server_config(config.control.nats, users).replace("store_dir: /data", f"store_dir: {tmp_path / 'data'}"))
    env = {"SERVER_NAME": "nats-0", **{password_variable(u): "x" * 24 for u in ["sys", "nack", *users]}}
    result = subprocess.run([str(nats_server), "-c", str(conf), "-t"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    missing = {**env}
    missing.pop(password_variable("auth-service"))
    broken = subprocess.run([str(nats_server), "-c", str(conf), "-t"], env=missing, capture_output=True, text=True,
                            timeout=60)
    assert broken.returncode != 0  # an unresolved password variable is refused, not taken literally
