"""The outbox relay (OpenFoundry ADR-0022) as plain checks: it reads what each outbox publishes and nothing more."""

from __future__ import annotations

from collections.abc import Iterator

from openfoundry_policies.resources import Resource

PUBLICATION = "kubernetes:postgresql.cnpg.io/v1:Publication"
PG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
CONNECTOR = "kubernetes:kafka.strimzi.io/v1:KafkaConnector"
# what a replication role must not also be or hold (CNPG's managed role fields)
ROLE_POWERS = ("superuser", "createdb", "createrole", "bypassrls")


def outbox_relay_least_privilege(r: Resource) -> Iterator[str]:
    """Publications name their tables (never every table, nor a whole schema); a role that replicates holds no other
    power and no role's grants; a Debezium connector never creates publications (that needs the tables' ownership,
    or a superuser)."""
    if r.type == PUBLICATION:
        target = r.spec.get("target") or {}
        if target.get("allTables"):
            yield f"{r.label} publishes every table of its database"
        for item in target.get("objects") or []:
            if "tablesInSchema" in item:
                yield f"{r.label} publishes the whole schema {item['tablesInSchema']}"
    if r.type == PG_CLUSTER:
        for role in (r.spec.get("managed") or {}).get("roles") or []:
            if not role.get("replication"):
                continue
            powers = [p for p in ROLE_POWERS if role.get(p)] + [f"member of {g}" for g in role.get("inRoles") or []]
            if powers:
                yield f"{r.label}: replication role {role.get('name')} also holds {', '.join(powers)}"
    if r.type == CONNECTOR:
        config = r.spec.get("config") or {}
        mode = config.get("publication.autocreate.mode", "all_tables")   # Debezium's default
        if "PostgresConnector" in str(r.spec.get("class", "")) and mode != "disabled":
            yield f"{r.label}: publication.autocreate.mode is {mode}; the publication is declared, never made by the relay"
