"""The ingestion plane's settings: the Kafka cluster of the data bus."""

from __future__ import annotations

from collections.abc import Iterable

from foundry.config.base import ConfigProblem, Count, Quantity, Resources, Section, odd_quorum


class Kafka(Section):
    controllers: Count
    brokers: Count
    replication_factor: Count
    min_insync_replicas: Count
    storage_size: Quantity = "100Gi"
    broker_resources: Resources
    controller_resources: Resources


class OutboxRelay(Section):
    """The Kafka Connect workers that relay the services' transactional outboxes (ADR-0022) to the data bus."""

    replicas: Count
    resources: Resources


class Ingestion(Section):
    kafka: Kafka
    outbox_relay: OutboxRelay


def relay_problems(relay: OutboxRelay, prod: bool) -> Iterable[ConfigProblem]:
    if prod and relay.replicas < 2:
        yield ConfigProblem("openfoundry:ingestion.outboxRelay.replicas", str(relay.replicas),
                            "2 or more in prod (one worker's loss would stop every outbox until it is back)")


def kafka_problems(k: Kafka, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:ingestion.kafka"
    yield from odd_quorum(f"{path}.controllers", k.controllers, "the KRaft controller quorum")
    if k.replication_factor > k.brokers:
        yield ConfigProblem(f"{path}.replicationFactor", str(k.replication_factor), f"at most brokers ({k.brokers})")
    isr_too_high = k.min_insync_replicas >= k.replication_factor if k.replication_factor > 1 else k.min_insync_replicas > 1
    if isr_too_high:
        yield ConfigProblem(f"{path}.minInsyncReplicas", str(k.min_insync_replicas),
                            f"less than replicationFactor ({k.replication_factor})")
    if prod and k.replication_factor < 3:
        yield ConfigProblem(f"{path}.replicationFactor", str(k.replication_factor), "3 or more in prod")
    if prod and k.min_insync_replicas < 2:
        yield ConfigProblem(f"{path}.minInsyncReplicas", str(k.min_insync_replicas),
                            "2 or more in prod (with one in-sync replica an acknowledged write lives on one broker)")
