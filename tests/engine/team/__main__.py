"""The smallest stack that shows a team backend's locking and round trips (tests/engine/test_team_backend.py).

A Kubernetes provider rendering to a directory, a Secret holding the stack's secret config, and two batches of
ConfigMaps. The second batch waits at a gate (a file the test creates), so a run can be held mid-update, its lock
taken and its first steps checkpointed, for as long as a test needs: another `up` refused, a kill.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
gate = Path(config.require("gate"))
provider = k8s.Provider("render", render_yaml_to_directory=config.require("renderDirectory"))
owned = pulumi.ResourceOptions(provider=provider)


async def opened() -> str:
    while not gate.exists():
        await asyncio.sleep(0.1)
    return "open"


first = [k8s.core.v1.ConfigMap(f"first-{i}", data={"index": str(i)}, opts=owned) for i in range(8)]
k8s.core.v1.Secret("token", string_data={"token": config.require_secret("token")}, opts=owned)
held = pulumi.Output.all(*(c.metadata for c in first)).apply(lambda _: opened())
second = [k8s.core.v1.ConfigMap(f"second-{i}", data={"index": str(i), "gate": held}, opts=owned) for i in range(8)]
pulumi.export("configmaps", len(first) + len(second))
