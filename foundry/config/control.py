"""The control plane's settings: the NATS JetStream cluster of the control bus."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field

from foundry.config.base import ConfigProblem, Count, Quantity, Section, odd_quorum


class Nats(Section):
    servers: Count
    stream_replicas: Annotated[int, Field(ge=1, le=5)]
    storage_size: Quantity = "20Gi"


class Control(Section):
    nats: Nats


def nats_problems(n: Nats) -> Iterable[ConfigProblem]:
    yield from odd_quorum("openfoundry:control.nats.servers", n.servers, "the JetStream RAFT quorum")
    if n.stream_replicas > n.servers:
        yield ConfigProblem("openfoundry:control.nats.streamReplicas", str(n.stream_replicas),
                            f"at most control.nats.servers ({n.servers})")
