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

from components.common.endpoints import PlatformEndpoint
from components.common.site import Site
from components.compute.trino import CATALOG as TRINO_CATALOG
from components.compute.trino import Trino, TrinoArgs, service_url, trino_endpoint
from components.lakehouse.clickhouse import clickhouse_endpoint
from components.lakehouse.clickhouse import service_url as clickhouse_url
from components.lakehouse.clickhouse_config import DATABASE as CLICKHOUSE_DATABASE
from components.relational.access import sql_reader_endpoint
from components.relational.database import Database, SqlReader
from components.storage.ceph import ObjectGateway
from components.storage.vespa import vespa_query_url
from foundry.catalog import Catalog
from foundry.config import Lakehouse
from foundry.config import Trino as TrinoSettings
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


def sql_backends(catalog: Catalog, databases: Sequence[Database], trino: TrinoSettings,
                 clickhouse: bool = False) -> list[SqlBackend]:
    """The gateway's backends in the seed's order: the DataFusion pool, Trino (when deployed), Vespa, Postgres;
    then ClickHouse (when the lakehouse's analytics are on), the blueprint's SQL reader of the same warehouse."""
    warehousing = catalog.by_name(WAREHOUSING)
    backends = [SqlBackend("sql-warehousing",
                           f"grpc://{WAREHOUSING}.{namespace_for(warehousing.plane)}.svc:{warehousing.ports.all()['flight-sql']}",
                           "iceberg and lakehouse SQL (Flight SQL P2P, DataFusion)")]
    if trino.enabled:
        backends.append(SqlBackend("trino", service_url(), f"Iceberg analytics (catalog {TRINO_CATALOG})"))
    backends.append(SqlBackend("vespa", vespa_query_url(), "search and hybrid retrieval"))
    backends += [SqlBackend(f"postgres-{db.owner}", f"postgresql://{db.read_only_host}:5432/{db.name}",
                            f"{db.owner}'s relational state, read-only") for db in databases if db.sql_readable]
    if clickhouse:
        backends.append(SqlBackend("clickhouse", clickhouse_url(),
                                   f"Iceberg analytics through ClickHouse (database {CLICKHOUSE_DATABASE}), read-only"))
    return backends


def sql_routing_settings(backends: Sequence[SqlBackend]) -> tuple[tuple[str, str], ...]:
    settings = [("SQL_BACKENDS", ",".join(b.name for b in backends)), ("SQL_DEFAULT_BACKEND", backends[0].name)]
    settings += [(f"SQL_BACKEND_{b.name.upper().replace('-', '_')}_URI", b.uri) for b in backends]
    return tuple(settings)


def sql_gateway_endpoints(databases: Sequence[Database], trino: TrinoSettings,
                          clickhouse: bool = False) -> list[PlatformEndpoint]:
    """What the gateway reaches beyond catalog services (egress rules, reader credentials): Trino, Postgres,
    ClickHouse."""
    trino_route = [trino_endpoint()] if trino.enabled else []
    clickhouse_route = [clickhouse_endpoint()] if clickhouse else []
    return trino_route + [sql_reader_endpoint(db) for db in databases if db.sql_readable] + clickhouse_route


@dataclass(frozen=True)
class ComputePlaneArgs:
    trino: TrinoSettings
    lakehouse: Lakehouse               # the catalog Trino reads
    gateway: ObjectGateway             # the object store behind it
    site: Site
    catalog: Catalog
    backends: Sequence[SqlBackend]     # the Flight SQL gateway's route table
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class ComputePlane(pulumi.ComponentResource):
    """Trino when the stack deploys it (prod; the development profile leaves it out), and the route table."""

    def __init__(self, name: str, args: ComputePlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:compute:ComputePlane", name, None, opts)
        if args.trino.enabled:
            Trino("trino", TrinoArgs(trino=args.trino, lakehouse=args.lakehouse, gateway=args.gateway, site=args.site,
                                     catalog=args.catalog, provider=args.provider, depends_on=args.depends_on),
                  opts=pulumi.ResourceOptions(parent=self))
        self.routes = {b.name: b.uri for b in args.backends}
        self.register_outputs({"sqlBackends": self.routes})
