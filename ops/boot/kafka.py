"""Kafka for the binaries whose contract has `kafka`: not in this boot yet, so each such row says so.

The broker now exists as ops/engine/kafka.py's `Broker` (Kafka's KRaft node from Maven Central, SASL_SSL with
SCRAM-SHA-512 and PLAINTEXT listeners, SCRAM users, ACLs, topics). Plugging it in is this module alone: make
`kafka_broker` enter a `Broker` listening on the bridge's host address at the ports of the rendered Kafka's
listeners, with the rendered KafkaUsers' SCRAM passwords (their Secrets), a server certificate from the platform
CA that the trust bundle holds, the rendered KafkaTopics and ACLs, and return the bootstrap Service's names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from ops.boot.rendered import Rendered
from ops.boot.sandbox import Network

NO_BROKER = "Kafka: no broker in this boot"


@dataclass(frozen=True)
class KafkaBroker:
    """A running broker: the names pods dial it by (bootstrap Service forms) -> the address it listens on."""

    hosts: dict[str, str] = field(default_factory=dict)


def kafka_broker(rendered: Rendered, network: Network) -> contextlib.AbstractContextManager[KafkaBroker | None]:
    """A context manager yielding the broker for the render's Kafka, or None while there is none to run."""
    return _none()


@contextlib.contextmanager
def _none() -> Iterator[KafkaBroker | None]:
    yield None
