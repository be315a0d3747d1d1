"""The compute plane's platform parts (ADR-0009, ADR-0014, ADR-0029): Trino, and the Flight SQL gateway's routes.

sql-bi-gateway-service is the single edge SQL surface: it classifies each statement and sends it to one of its
backends. Which backends exist, and where, is platform knowledge, so the platform hands it the route table as
its environment (SQL_BACKENDS, then SQL_BACKEND_<NAME>_URI per backend, and a Postgres route's USER and
PASSWORD from its read-only role's Secret); the NetworkPolicies that let it reach each backend follow the table.
The catalog's compute services themselves are PlaneServices("compute").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.endpoints import PlatformEndpoint
from components.relational import Database, SqlReader, sql_reader_endpoint
from components.trino import CATALOG as TRINO_CATALOG
from components.trino import Trino, TrinoArgs, service_url, trino_enabled, trino_endpoint
from components.vespa import vespa_query_url
from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.labels import namespace_for

GATEWAY = "sql-bi-gateway-service"
WAREHOUSING = "sql-warehousing-service"


@dataclass(frozen=True)
class SqlBackend:
    name: str
    uri: str
    serves: str      # the statements the gateway sends there


def sql_reader(catalog: Catalog) -> SqlReader:
    gateway = catalog.by_name(GATEWAY)
    return SqlReader(gateway.name, namespace_for(gateway.plane))


def sql_backends(cfg: StackConfig, catalog: Catalog, databases: Sequence[Database]) -> list[SqlBackend]:
    """The gateway's backends in the seed's order: the DataFusion pool, Trino (when deployed), Vespa, Postgres."""
    warehousing = catalog.by_name(WAREHOUSING)
    backends = [SqlBackend("sql-warehousing",
                           f"grpc://{WAREHOUSING}.{namespace_for(warehousing.plane)}.svc:{warehousing.ports.named()['flight']}",
                           "iceberg and lakehouse SQL (Flight SQL P2P, DataFusion)")]
    if trino_enabled(cfg):
        backends.append(SqlBackend("trino", service_url(), f"Iceberg analytics (catalog {TRINO_CATALOG})"))
    backends.append(SqlBackend("vespa", vespa_query_url(), "search and hybrid retrieval"))
    instances = cfg.relational.postgres.instances
    backends += [SqlBackend(f"postgres-{db.owner}", f"postgresql://{db.read_only_host(instances)}:5432/{db.name}",
                            f"{db.owner}'s relational state, read-only") for db in databases if db.sql_readable]
    return backends


def sql_routing_settings(cfg: StackConfig, catalog: Catalog,
                         databases: Sequence[Database]) -> tuple[tuple[str, str], ...]:
    backends = sql_backends(cfg, catalog, databases)
    settings = [("SQL_BACKENDS", ",".join(b.name for b in backends)), ("SQL_DEFAULT_BACKEND", backends[0].name)]
    settings += [(f"SQL_BACKEND_{b.name.upper().replace('-', '_')}_URI", b.uri) for b in backends]
    return tuple(settings)


def sql_gateway_endpoints(cfg: StackConfig, databases: Sequence[Database]) -> list[PlatformEndpoint]:
    """What the gateway reaches beyond catalog services (egress rules, reader credentials): Trino, Postgres."""
    trino = [trino_endpoint()] if trino_enabled(cfg) else []
    instances = cfg.relational.postgres.instances
    return trino + [sql_reader_endpoint(db, instances) for db in databases if db.sql_readable]


@dataclass(frozen=True)
class ComputePlaneArgs:
    config: StackConfig
    catalog: Catalog
    databases: Sequence[Database]
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class ComputePlane(pulumi.ComponentResource):
    """Trino when the stack deploys it (prod; the development profile leaves it out), and the route table."""

    def __init__(self, name: str, args: ComputePlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:compute:ComputePlane", name, None, opts)
        cfg = args.config
        if trino_enabled(cfg):
            Trino("trino", TrinoArgs(config=cfg, catalog=args.catalog, provider=args.provider,
                                     depends_on=args.depends_on), opts=pulumi.ResourceOptions(parent=self))
        self.routes = {b.name: b.uri for b in sql_backends(cfg, args.catalog, args.databases)}
        self.register_outputs({"sqlBackends": self.routes})
