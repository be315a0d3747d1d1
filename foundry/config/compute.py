"""The compute plane's settings: the sizing of its analytical pools and Trino."""

from __future__ import annotations

from collections.abc import Iterable

from foundry.config.base import CatalogClient, ConfigProblem, Count, Quantity, Section, catalog_client_problems
from foundry.config.platform import Workloads


class Trino(CatalogClient):
    """Trino, the Iceberg analytics backend behind sql-bi-gateway-service (ADR-0029); left out of development."""

    enabled: bool
    workers: Count = 2
    coordinator_cpu: Quantity = "2"
    coordinator_memory: Quantity = "8Gi"
    worker_cpu: Quantity = "4"
    worker_memory: Quantity = "16Gi"


class Compute(Section):
    # Analytical pools (DataFusion, Flight SQL) need more than the platform-wide workload sizing.
    workloads: Workloads | None = None
    trino: Trino = Trino(enabled=False)


def trino_problems(trino: Trino, openid_provider_uri: str | None, prod: bool) -> Iterable[ConfigProblem]:
    if not trino.enabled:
        return
    path = "openfoundry:compute.trino"
    yield from catalog_client_problems(path, trino, openid_provider_uri, "Trino")
    if prod and trino.workers < 2:
        yield ConfigProblem(f"{path}.workers", str(trino.workers), "2 or more in prod (a PodDisruptionBudget needs a spare)")
