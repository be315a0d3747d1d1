"""The Flink SQL of an Iceberg writer: one registry topic into one warehouse table, as text (pure functions, so the
mock tier reads it and the engine tier can hand it to Flink's own parser).

The script holds no secret: `${NAME}` stands for the environment variable NAME, which the writer image's SQL
runner substitutes before Flink parses a statement (the Kafka login, the catalog client's credential).
"""

from __future__ import annotations

from dataclasses import dataclass

from foundry.lakehouse import Table

# Iceberg types as Flink SQL types (Iceberg docs, "Flink: type conversion")
FLINK_TYPES = {"string": "STRING", "long": "BIGINT", "int": "INT", "double": "DOUBLE", "boolean": "BOOLEAN",
               "date": "DATE", "timestamp": "TIMESTAMP(6)", "timestamptz": "TIMESTAMP_LTZ(6)"}
CATALOG = "lake"
SOURCE = "source_records"


@dataclass(frozen=True)
class WriterEndpoints:
    """Where a writer reads and writes, and who it is."""

    bootstrap_servers: str
    ca_file: str                 # the platform's CA, which signs the Kafka listener's certificate
    group: str                   # its consumer group (its Kafka ACLs grant it)
    catalog_uri: str
    warehouse: str
    token_uri: str
    scope: str
    object_store: str


def literal(value: str) -> str:
    """A Flink SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _options(options: dict[str, str]) -> str:
    return ",\n".join(f"  {literal(key)} = {literal(value)}" for key, value in options.items())


def source_table(table: Table, at: WriterEndpoints) -> str:
    """The topic as a table: the fields the registry maps, typed as their columns, and the event time in epoch
    milliseconds; read from the group's committed offsets, committed records only (transactional producers)."""
    fields = [f"  {identifier(field)} {FLINK_TYPES[table.column(column).type]}"     # type: ignore[union-attr]
              for column, field in table.source.fields.items()]
    fields.append(f"  {identifier(table.source.event_time)} BIGINT")
    options = {
        "connector": "kafka",
        "topic": table.source.topic,
        "properties.bootstrap.servers": at.bootstrap_servers,
        "properties.group.id": at.group,     # and the client ids' prefix (flink-connector-kafka KafkaSourceBuilder)
        "properties.security.protocol": "SASL_SSL",
        "properties.sasl.mechanism": "SCRAM-SHA-512",
        "properties.sasl.jaas.config": "${KAFKA_SASL_JAAS_CONFIG}",
        "properties.ssl.truststore.type": "PEM",
        "properties.ssl.truststore.location": at.ca_file,
        "properties.isolation.level": "read_committed",
        "properties.auto.offset.reset": "earliest",
        "scan.startup.mode": "group-offsets",
        "format": "json",
        # a record that is not JSON is skipped, as OpenFoundry's sinks count a poison record and move on
        "json.ignore-parse-errors": "true",
    }
    return f"CREATE TEMPORARY TABLE {identifier(SOURCE)} (\n" + ",\n".join(fields) + f"\n) WITH (\n{_options(options)}\n)"


def catalog(at: WriterEndpoints) -> str:
    """Lakekeeper's REST catalog, logged in to as the writers' OAuth2 client; data files through S3FileIO, whose
    requests Lakekeeper signs (remote signing: the writer holds no key to the warehouse bucket)."""
    options = {
        "type": "iceberg",
        "catalog-type": "rest",
        "uri": at.catalog_uri,
        "warehouse": at.warehouse,
        "rest.auth.type": "oauth2",
        "credential": "${ICEBERG_OAUTH2_CREDENTIAL}",
        "oauth2-server-uri": at.token_uri,
        "scope": at.scope,
        "token-exchange-enabled": "false",
        # remote signing, asked for: without it, S3FileIO would sign with whatever keys the pod holds (the
        # checkpoint bucket's) if the catalog ever stopped returning its signer, and fail obscurely
        "header.X-Iceberg-Access-Delegation": "remote-signing",
        "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "s3.endpoint": at.object_store,
        "s3.path-style-access": "true",
    }
    return f"CREATE CATALOG {identifier(CATALOG)} WITH (\n{_options(options)}\n)"


def target_table(table: Table) -> str:
    """The table as seed 002 creates it: its columns, identity partitions, Parquet with ZSTD, format version 2."""
    name = f"{identifier(CATALOG)}.{identifier(table.namespace)}.{identifier(table.table)}"
    columns = ",\n".join(f"  {identifier(c.name)} {FLINK_TYPES[c.type]}" for c in table.columns)
    partitions = f"\nPARTITIONED BY ({', '.join(identifier(p) for p in table.partition_by)})" if table.partition_by else ""
    options = {"format-version": "2", "write.format.default": "parquet", "write.parquet.compression-codec": "zstd",
               "write.upsert.enabled": "false"}
    return f"CREATE TABLE IF NOT EXISTS {name} (\n{columns}\n){partitions}\nWITH (\n{_options(options)}\n)"


def insert(table: Table) -> str:
    """Each column from its field; the time column and date partitions from the event time (in the session's time
    zone, which the writer sets to UTC)."""
    event_time = f"TO_TIMESTAMP_LTZ({identifier(table.source.event_time)}, 3)"
    values = []
    for column in table.columns:
        field = table.source.fields.get(column.name)
        if field is not None:
            values.append(f"  {identifier(field)}")
        else:
            values.append(f"  CAST({event_time} AS {FLINK_TYPES[column.type]})")
    name = f"{identifier(CATALOG)}.{identifier(table.namespace)}.{identifier(table.table)}"
    # a record without its event time has no place in the time-partitioned table
    where = f"WHERE {identifier(table.source.event_time)} IS NOT NULL"
    return f"INSERT INTO {name}\nSELECT\n" + ",\n".join(values) + f"\nFROM {identifier(SOURCE)}\n{where}"


def script(table: Table, at: WriterEndpoints) -> str:
    """The statements, in order, each ending in `;` on its own line."""
    statements = [source_table(table, at), catalog(at),
                  f"CREATE DATABASE IF NOT EXISTS {identifier(CATALOG)}.{identifier(table.namespace)}",
                  target_table(table), insert(table)]
    return "".join(f"{statement};\n\n" for statement in statements)
