"""What a database holding a transactional outbox (OpenFoundry ADR-0022, data/outboxes.yaml) gives the outbox relay:
a login role with REPLICATION and nothing else, a publication of exactly the outbox table, and the settings that
keep a logical replication slot safe. The relay's connector creates its slot itself (a slot needs a live
connection); everything else is declared here and reconciled by CloudNativePG.

The role reads the table through the publication only: pgoutput streams what the publication holds to a
REPLICATION role without any table privilege, and with no snapshot (the table is empty at rest) the connector
never SELECTs it (tests/engine/test_outbox_relay.py runs it with these grants and no more)."""

from __future__ import annotations

from typing import Any

from components.relational.database import Database
from foundry.config.base import quantity_bytes
from foundry.outboxes import SCHEMA, TABLE

RELAY_ROLE = "outbox_relay"
PUBLICATION = "outbox_relay"
SLOT = "outbox_relay"
# the connector's task holds a replication connection and two JDBC ones, and opens short-lived ones at start
# (Debezium 3.6.1 PostgresConnectorTask.java:108-152); implied: room for a restarted task while a dead worker's
# sessions linger until TCP gives up on them
RELAY_CONNECTIONS = 10
# implied: a slot whose reader is gone keeps WAL without bound and fills the volume (WAL shares it), stopping the
# database; past this share of the volume Postgres drops the slot instead (the relay then needs a new one, and rows
# written in between are lost to it: OutboxRelaySlotLagging fires long before)
SLOT_WAL_SHARE = 0.25
MIN_SLOT_WAL_MB = 1024


def relay_password_secret(db: Database) -> str:
    """The relay role's password, beside the cluster (CNPG reads it) and in the relay's namespace (Connect reads it)."""
    return f"{db.cluster}-outbox-relay"


def relay_role(db: Database) -> dict[str, Any]:
    """CNPG's managed role: logs in and replicates, owns nothing, is granted nothing."""
    return {"name": RELAY_ROLE, "ensure": "present", "login": True, "replication": True,
            "connectionLimit": RELAY_CONNECTIONS, "passwordSecret": {"name": relay_password_secret(db)},
            "comment": "the outbox relay (Debezium): reads the outbox publication, nothing else"}


def slot_wal_cap_mb(storage_size: str) -> int:
    """A quarter of the instance's volume, in MB (Postgres's unit for max_slot_wal_keep_size)."""
    return max(MIN_SLOT_WAL_MB, int(quantity_bytes(storage_size) * SLOT_WAL_SHARE / 2**20))


def slot_wal_cap(storage_size: str) -> str:
    return f"{slot_wal_cap_mb(storage_size)}MB"


def relay_parameters(instances: int, storage_size: str) -> dict[str, str]:
    """Logical decoding (CNPG's default already; stated because the relay depends on it), a bound on the WAL a slot
    keeps and, with standbys, what CNPG requires to keep failover slots on them (cluster_webhook.go:2340-2394)."""
    failover = {"hot_standby_feedback": "on", "sync_replication_slots": "on"} if instances > 1 else {}
    return {"wal_level": "logical", "max_slot_wal_keep_size": slot_wal_cap(storage_size), **failover}


def relay_slots(instances: int) -> dict[str, Any]:
    """With standbys, the relay's failover slot is synchronised to them (CNPG 1.30 cluster_types.go:1369-1377), so a
    switchover keeps its position: without it the new primary has no slot, the connector makes one at the current
    position, and every row written in between is lost to the bus. The price: CNPG lists every standby's slot in
    synchronized_standby_slots (pkg/management/postgres/configuration.go:371-396), and Postgres hands decoded rows to
    the relay only once all of them have the WAL, so while a standby is down the relay waits (rows are delayed, not
    lost; reports/<stack>/zone-loss.md says so, data/zone-loss-accepted.yaml why)."""
    if instances <= 1:
        return {}
    return {"replicationSlots": {"highAvailability": {"enabled": True, "synchronizeLogicalDecoding": True}}}


def publication_name(db: Database) -> str:
    """The Publication resource's name (a Kubernetes name; the publication in Postgres is PUBLICATION)."""
    return f"{db.cluster}-outbox"


def publication_spec(db: Database) -> dict[str, Any]:
    """A publication of the outbox table alone, in the owner's database. The owner's migrations create the table at
    its first start; until then CNPG reports the Publication not applied and retries."""
    return {"cluster": {"name": db.cluster}, "dbname": db.name, "name": PUBLICATION,
            # the relay reads inserts only: the delete that follows each one in its transaction is never decoded
            "parameters": {"publish": "insert"},
            "target": {"objects": [{"table": {"schema": SCHEMA, "name": TABLE}}]}}
