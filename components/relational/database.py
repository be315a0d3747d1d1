"""The databases the relational state plane serves: one per owner (a catalog service or a platform component), and
the names derived from it (its CNPG cluster, bucket, pooler, Services and Secrets)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from foundry.catalog import PLATFORM_MIGRATORS, Catalog
from foundry.config import Postgres
from foundry.labels import namespace_for

BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
CNPG_OPERATOR_NAMESPACE = "cnpg-system"
POSTGRES_PORT = 5432
INSTANCE_METRICS_PORT, POOLER_METRICS_PORT = 9187, 9127
PLANE = "relational"


@dataclass(frozen=True)
class Database:
    """A database and the workload that owns it."""

    owner: str            # catalog service (or platform component) that alone may connect
    namespace: str
    instances: int = 1    # relational.postgres.instances
    vector: bool = False
    pooled: bool = False
    sql_readable: bool = False
    migrator: str | None = None   # a Job apart from the owner's pods that migrates the schema (its pods' name)
    outbox: bool = False          # it holds a transactional outbox the relay reads (data/outboxes.yaml)

    @property
    def cluster(self) -> str:
        return f"pg-{self.owner}"

    @property
    def name(self) -> str:
        return self.owner.replace("-", "_")

    @property
    def bucket(self) -> str:
        return f"pg-backups-{self.owner}"

    @property
    def recovery_cluster(self) -> str:
        return recovery_cluster_name(self.cluster)

    @property
    def pooler(self) -> str:
        return f"{self.cluster}-pooler-rw"

    @property
    def object_store(self) -> str:
        return f"{self.cluster}-backups"

    @property
    def host(self) -> str:
        service = self.pooler if self.pooled else f"{self.cluster}-rw"
        return f"{service}.{self.namespace}.svc"

    @property
    def reader_secret(self) -> str:
        return f"{self.cluster}-sql-reader"

    @property
    def read_only_host(self) -> str:
        """The replicas when there are any (reads never load the primary), else any instance."""
        return f"{self.cluster}-{'ro' if self.instances > 1 else 'r'}.{self.namespace}.svc"


def recovery_cluster_name(cluster: str) -> str:
    """The cluster restored from `cluster`'s backups (relational.postgres.recoverFrom). It archives under this name
    too: the Barman Cloud plugin refuses to archive into a server name that holds WAL ("Expected empty archive")."""
    return f"{cluster}-pitr"


# The read-only role of a sqlReadable database: every table, nothing else (Postgres's predefined pg_read_all_data).
SQL_READER_ROLE = "sql_bi_reader"
SQL_READER_CONNECTIONS = 20


@dataclass(frozen=True)
class SqlReader:
    """The one service that reads sqlReadable databases: the Flight SQL gateway's Postgres route."""

    service: str
    namespace: str


def databases(catalog: Catalog, postgres: Postgres, outboxes: Collection[str] = ()) -> list[Database]:
    """One database per owner: every catalog service that owns relational state, and Lakekeeper's catalog; `outboxes`
    names the owners whose database holds a transactional outbox."""
    services = {s.name: s for s in catalog.services}
    return [
        Database(owner, namespace_for(plane), postgres.instances, vector=owner in services and services[owner].vector,
                 pooled=owner in services and services[owner].pooled,
                 sql_readable=owner in services and services[owner].sql_readable,
                 migrator=PLATFORM_MIGRATORS.get(owner), outbox=owner in outboxes)
        for owner, plane in catalog.database_owners().items()
    ]
