"""Rules that need the stack config together with the service catalog and the topic registry."""

from __future__ import annotations

from collections.abc import Iterable

from foundry.binaries import binary_problems
from foundry.catalog import Catalog
from foundry.config import ConfigErrors, ConfigProblem, StackConfig
from foundry.lakehouse import lakehouse_problems, load_tables
from foundry.outboxes import load_outboxes, outbox_problems
from foundry.slos import load_slos, slo_problems
from foundry.streams import StreamRegistry, stream_problems
from foundry.topics import TopicRegistry, registry_problems
from foundry.upstream import Contracts, load_contracts


def check_config_against_catalog(config: StackConfig, catalog: Catalog, registry: TopicRegistry,
                                 streams: StreamRegistry, contracts: Contracts | None = None) -> None:
    contracts = contracts or load_contracts()
    problems = [*_recovery_problems(config, catalog), *registry_problems(registry, catalog, config),
                *binary_problems(catalog, contracts),
                *stream_problems(streams, catalog, contracts), *slo_problems(load_slos(), {s.name for s in catalog.services}),
                *lakehouse_problems(load_tables(), registry), *outbox_problems(load_outboxes(), catalog, registry)]
    if problems:
        raise ConfigErrors(problems)


def _recovery_problems(config: StackConfig, catalog: Catalog) -> Iterable[ConfigProblem]:
    recover = config.relational.postgres.recover_from
    clusters = sorted(f"pg-{owner}" for owner in catalog.database_owners())
    if recover is not None and recover.cluster not in clusters:
        yield ConfigProblem("openfoundry:relational.postgres.recoverFrom.cluster", repr(recover.cluster),
                            f"one of the platform's Postgres clusters ({', '.join(clusters[:4])}, ...)")
