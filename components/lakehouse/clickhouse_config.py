"""What ClickHouse runs with, as text: the server's settings, its users, the warehouse database's statement, and
the queries Grafana shows. Pure functions, so the engine tier can hand every generated statement to a real
ClickHouse (tests/engine/test_clickhouse.py, chdb) and the mock tier can read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

DATABASE = "lake"            # the warehouse, as ClickHouse shows it: `lake`.`<namespace>.<table>`
HTTP_PORT = 8123
METRICS_PORT = 9363
DATA_DIR = "/var/lib/clickhouse"
READER_PROFILE = "reader"
# The environment the server reads its secrets from (`from_env` in its XML; the start script's statement)
CATALOG_CREDENTIAL_ENV = "ICEBERG_OAUTH2_CREDENTIAL"
S3_KEY_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class SqlUser:
    """A read-only SQL login: who uses it, and the variable its password is read from."""

    name: str
    password_env: str


GRAFANA = SqlUser("grafana", "CLICKHOUSE_GRAFANA_PASSWORD")
GATEWAY = SqlUser("sql_bi_gateway", "CLICKHOUSE_GATEWAY_PASSWORD")
SQL_USERS = (GRAFANA, GATEWAY)
# The warehouse database's values, and the variables the init script reads them from
DATABASE_VALUES = {"catalog_uri": "CATALOG_URI", "warehouse": "WAREHOUSE", "storage_endpoint": "STORAGE_ENDPOINT",
                   "s3_key": S3_KEY_ENV[0], "s3_secret": S3_KEY_ENV[1], "token_uri": "CATALOG_OAUTH_SERVER_URI",
                   "scope": "CATALOG_SCOPE", "credential": CATALOG_CREDENTIAL_ENV}
METADATA_DIR = f"{DATA_DIR}/metadata"


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _child(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def server_config() -> str:
    """config.d: HTTP only (the native, MySQL, PostgreSQL and interserver ports stay closed), logs to the console,
    metrics for Prometheus, no crash reports sent out."""
    root = ET.Element("clickhouse")
    logger = _child(root, "logger")
    _child(logger, "level", "information")
    _child(logger, "console", "1")
    for tag in ("log", "errorlog"):
        _child(logger, tag, remove="remove")
    # listen_host stays the image's (config.d/docker_related_config.xml: `::` and 0.0.0.0, IPv6 and IPv4)
    _child(root, "http_port", str(HTTP_PORT))
    _child(_child(root, "send_crash_reports"), "enabled", "false")    # nothing leaves the cluster but to the catalog
    for port in ("tcp_port", "mysql_port", "postgresql_port", "interserver_http_port"):
        _child(root, port, remove="remove")
    prometheus = _child(root, "prometheus")
    for tag, text in (("endpoint", "/metrics"), ("port", str(METRICS_PORT)), ("metrics", "true"),
                      ("events", "true"), ("asynchronous_metrics", "true")):
        _child(prometheus, tag, text)
    # a reader keeps no tables of its own: its system logs would only fill the pod's scratch volume
    for table in ("query_log", "query_thread_log", "part_log", "trace_log", "metric_log", "asynchronous_metric_log",
                  "text_log", "processors_profile_log", "opentelemetry_span_log", "error_log", "latency_log",
                  "query_metric_log", "session_log", "zookeeper_log", "query_views_log", "blob_storage_log"):
        _child(root, table, remove="remove")
    return _xml(root)


def users_config() -> str:
    """users.d: no `default` user; each SQL user reads the warehouse database and nothing else, with a password
    from its Secret. The `reader` profile is readonly 1 (no writes, no DDL, no settings), but for the query
    timeout Grafana's ClickHouse plugin sets on every query (its docs, configure.md: readonly 2 would let a user
    change any setting)."""
    root = ET.Element("clickhouse")
    reader = _child(_child(root, "profiles"), READER_PROFILE)
    _child(reader, "readonly", "1")
    _child(reader, "max_execution_time", "300")
    _child(_child(_child(reader, "constraints"), "max_execution_time"), "changeable_in_readonly")
    users = _child(root, "users")
    _child(users, "default", remove="remove")
    for user in SQL_USERS:
        element = _child(users, user.name)
        _child(element, "password", from_env=user.password_env)
        _child(element, "profile", READER_PROFILE)
        _child(element, "quota", "default")
        _child(_child(element, "networks"), "ip", "::/0")    # who may connect at all is the NetworkPolicy's business
        # a users file names no grantee: the user it sits in is the grantee (ClickHouse refuses `TO` there)
        _child(_child(element, "grants"), "query", f"GRANT SELECT ON {DATABASE}.*")
    return _xml(root)


def quoted(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def warehouse_database(values: dict[str, str]) -> str:
    """The warehouse as a database: Lakekeeper's REST catalog, whose tables' files ClickHouse reads from RGW with its
    own read-only keys (Lakekeeper vends ClickHouse no credentials), its catalog token from the issuer by client
    credentials (renewed when the catalog answers 401). ATTACH, as the server reads its metadata directory at
    start: no network until the first query, so a replica starts while the issuer or the catalog is away."""
    v = {name: quoted(values[name]) for name in DATABASE_VALUES}
    return (f"ATTACH DATABASE {DATABASE}\n"
            f"ENGINE = DataLakeCatalog({v['catalog_uri']})\n"
            f"SETTINGS catalog_type = 'rest', warehouse = {v['warehouse']}, storage_endpoint = {v['storage_endpoint']}, "
            f"storage_uri_style = 'path', vended_credentials = 0, aws_access_key_id = {v['s3_key']}, "
            f"aws_secret_access_key = {v['s3_secret']}, oauth_server_uri = {v['token_uri']}, "
            f"auth_scope = {v['scope']}, catalog_credential = {v['credential']}\n")


# bash: a ClickHouse string literal of $1 (backslashes doubled, quotes escaped), as `quoted` makes one
QUOTE_FUNCTION = r"""quote() { local value=${1//\\/\\\\}; value=${value//\'/\\\'}; printf "'%s'" "$value"; }"""


def init_script() -> str:
    """The init container's command: the warehouse database's metadata file, written into the pod's own memory
    volume from the environment (its Secrets), quoted for ClickHouse by the same rule as `quoted`."""
    values = {name: f"${{{variable}}}" for name, variable in DATABASE_VALUES.items()}
    statement = warehouse_database(values)
    for name in DATABASE_VALUES:
        statement = statement.replace(quoted(values[name]), f'$(quote "{values[name]}")')
    return f"""#!/bin/bash
set -euo pipefail
{QUOTE_FUNCTION}
mkdir -p {METADATA_DIR}
cat > {METADATA_DIR}/{DATABASE}.sql <<SQL
{statement}SQL
"""
