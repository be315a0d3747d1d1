"""The relational state plane's settings: every CloudNativePG cluster's shape, backups and recovery."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, StringConstraints

from foundry.config.base import ConfigProblem, Count, Cron5, Cron6, Days, DnsLabel, Quantity, Resources, Section
from foundry.cron import UntimedSchedule, longest_gap

Timestamp = Annotated[str, StringConstraints(
    pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")]


class RecoverFrom(Section):
    cluster: DnsLabel
    target_time: Timestamp


class Postgres(Section):
    instances: Count
    synchronous_replicas: Annotated[int, Field(ge=0, le=98)]
    backup_retention_days: Annotated[int, Field(ge=1, le=3650)]
    backup_schedule: Cron6 = "0 0 2 * * *"
    storage_size: Quantity = "20Gi"
    pooler_instances: Count = 2
    resources: Resources                      # each instance
    pooler_resources: Resources = Resources(cpu="100m", memory="128Mi")   # each PgBouncer
    parameters: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_.]+$")], str] = Field(default_factory=dict)
    recover_from: RecoverFrom | None = None


class Cassandra(Section):
    """The operational store (OpenFoundry ADR-0020): one datacenter, a rack per zone, every keyspace replicated
    `replicationFactor` times within it (NetworkTopologyStrategy), read and written at LOCAL_QUORUM."""

    nodes: Count
    replication_factor: Annotated[int, Field(ge=1, le=9)]
    resources: Resources                      # each node (the management API's JVM beside Cassandra's)
    heap: Quantity                            # Cassandra's JVM heap (jvmOptions heap_initial_size = heap_max_size)
    storage_size: Quantity = "20Gi"           # each node's data volume
    backup_schedule: Cron5 = "30 2 * * *"     # Medusa's backups (UTC), clear of k8ssandra's purge at 00:00
    backup_retention_days: Days = 14          # Medusa's maxBackupAge, enforced by the nightly purge


class Relational(Section):
    postgres: Postgres
    cassandra: Cassandra


CNPG_PARAMETERS = Path(__file__).resolve().parents[2] / "data" / "upstream" / "cnpg-parameters.yaml"


@cache
def operator_parameters() -> tuple[re.Pattern[str], frozenset[str]]:
    """CloudNativePG's name rule for a parameter, and the parameters it owns (data/upstream/cnpg-parameters.yaml)."""
    data = yaml.safe_load(CNPG_PARAMETERS.read_text())
    return re.compile(data["namePattern"]), frozenset(data["fixed"]) | frozenset(data["blocked"])


def parameter_problems(parameters: dict[str, str], path: str) -> Iterable[ConfigProblem]:
    pattern, owned = operator_parameters()
    for name, value in parameters.items():
        if name in owned:
            yield ConfigProblem(f"{path}.parameters.{name}", repr(value),
                                "a parameter CloudNativePG does not set itself (it owns this one and refuses the Cluster)")
        elif not pattern.match(name):
            yield ConfigProblem(f"{path}.parameters.{name}", repr(value),
                                "a name of at most two dot-separated parts, as CloudNativePG's webhook requires")


def cassandra_problems(cassandra: Cassandra, zones: int, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:relational.cassandra"
    if cassandra.replication_factor > cassandra.nodes:
        yield ConfigProblem(f"{path}.replicationFactor", str(cassandra.replication_factor),
                            f"at most nodes ({cassandra.nodes}): a keyspace cannot hold more replicas than nodes")
    if prod and cassandra.replication_factor < 3:
        yield ConfigProblem(f"{path}.replicationFactor", str(cassandra.replication_factor),
                            "3 or more in prod (LOCAL_QUORUM then survives a node, and with a rack per zone, a zone)")
    if prod and cassandra.nodes % zones:
        yield ConfigProblem(f"{path}.nodes", str(cassandra.nodes),
                            f"a multiple of the zones ({zones}) in prod: a rack per zone, each the same size")


def postgres_problems(pg: Postgres, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:relational.postgres"
    yield from parameter_problems(pg.parameters, path)
    try:
        longest_gap(pg.backup_schedule)
    except UntimedSchedule as why:   # the backup alerts allow the schedule's longest gap
        yield ConfigProblem(f"{path}.backupSchedule", repr(pg.backup_schedule),
                            f"a six-field cron of numbers, *, ranges, steps and lists ({why})")
    if pg.synchronous_replicas >= pg.instances:
        yield ConfigProblem(f"{path}.synchronousReplicas", str(pg.synchronous_replicas),
                            f"less than instances ({pg.instances})")
    if prod and pg.instances < 3:
        yield ConfigProblem(f"{path}.instances", str(pg.instances), "3 or more in prod")
    if prod and pg.synchronous_replicas < 1:
        yield ConfigProblem(f"{path}.synchronousReplicas", str(pg.synchronous_replicas), "1 or more in prod")
