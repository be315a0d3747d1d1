"""The compute plane's settings: the sizing of its analytical pools and Trino."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from foundry.config.base import ConfigProblem, Count, HttpsUrl, Quantity, Section
from foundry.config.platform import Workloads

if TYPE_CHECKING:
    from foundry.config.stack import StackConfig


class Trino(Section):
    """Trino, the Iceberg analytics backend behind sql-bi-gateway-service (ADR-0029); left out of development."""

    enabled: bool
    workers: Count = 2
    coordinator_cpu: Quantity = "2"
    coordinator_memory: Quantity = "8Gi"
    worker_cpu: Quantity = "4"
    worker_memory: Quantity = "16Gi"
    # the OAuth2 token endpoint Trino gets its catalog token from, when Lakekeeper requires OIDC
    catalog_token_uri: HttpsUrl | None = None
    # the client scope Trino asks for (one the identity provider defines; Lakekeeper's examples use `lakekeeper`)
    catalog_scope: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$")] = "lakekeeper"
    # Trino's identity in Lakekeeper: `oidc~` and the `sub` of the tokens its client gets (Lakekeeper names OIDC
    # users so; an issuer may give a client a generated subject, so it is stated, not guessed); granted `select`
    catalog_principal: Annotated[str, StringConstraints(pattern=r"^oidc~[^\s~]{1,127}$")] | None = None


class Compute(Section):
    # Analytical pools (DataFusion, Flight SQL) need more than the platform-wide workload sizing.
    workloads: Workloads | None = None
    trino: Trino = Trino(enabled=False)


def trino_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    trino = cfg.compute.trino
    if not trino.enabled:
        return
    path = "openfoundry:compute.trino"
    if cfg.storage.lakehouse.openid_provider_uri is None:
        yield ConfigProblem("openfoundry:storage.lakehouse.openidProviderUri", "nothing",
                            "an OIDC issuer's URL while compute.trino is enabled (Lakekeeper authenticates every "
                            "caller; Trino's is its OAuth2 client at that issuer)")
    if cfg.storage.lakehouse.openid_provider_uri and trino.catalog_token_uri is None:
        yield ConfigProblem(f"{path}.catalogTokenUri", "nothing",
                            "the OAuth2 token endpoint of storage.lakehouse.openidProviderUri's issuer "
                            "(Lakekeeper requires OIDC, so Trino needs a token)")
    if cfg.storage.lakehouse.openid_provider_uri and trino.catalog_principal is None:
        yield ConfigProblem(f"{path}.catalogPrincipal", "nothing",
                            "oidc~<the sub of Trino's client tokens> (the warehouse grants it read access; "
                            "without it Lakekeeper refuses Trino)")
    if cfg.is_prod and trino.workers < 2:
        yield ConfigProblem(f"{path}.workers", str(trino.workers), "2 or more in prod (a PodDisruptionBudget needs a spare)")
