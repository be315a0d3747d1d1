"""What the stack renders for ClickHouse, run through a real ClickHouse: chdb-core (PyPI) embeds the ClickHouse
26.9 engine. The init script writes the warehouse database's definition as the pods do, and ClickHouse attaches
it; the users' settings and grants are ClickHouse's own; the dashboard's SQL runs, macros expanded as Grafana's
plugin expands them, against an Iceberg table ClickHouse writes here with the lakehouse registry's columns.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from foundry.lakehouse import Table, load_tables
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine
chdb_session = pytest.importorskip("chdb.session", reason="chdb-core is a pinned dev requirement (requirements-dev.txt)")

# the Iceberg types of the registry as ClickHouse columns (ClickHouse docs, "Iceberg table engine: data types")
CLICKHOUSE_TYPES = {"string": "Nullable(String)", "long": "Nullable(Int64)", "int": "Nullable(Int32)",
                    "double": "Nullable(Float64)", "boolean": "Nullable(Bool)", "date": "Nullable(Date)",
                    "timestamp": "Nullable(DateTime64(6))", "timestamptz": "Nullable(DateTime64(6, 'UTC'))"}


def manifest(kind: str, namespace: str, name: str) -> dict[str, Any]:
    path = rendered("prod") / "1-manifest" / f"{kind}-{namespace}-{name}.yaml"
    return dict(yaml.safe_load(path.read_text()))


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return dict(manifest("v1-configmap", "openfoundry-storage", "clickhouse")["data"])


@pytest.fixture()
def clickhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)   # IcebergLocal paths are relative to the working directory
    session = chdb_session.Session()
    yield session
    session.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_init_script(files: dict[str, str], tmp_path: Path, overrides: dict[str, str]) -> str:
    """The init container: the rendered script, with the rendered environment (Secrets given test values)."""
    (init,) = manifest("apps_v1-deployment", "openfoundry-storage", "clickhouse")["spec"]["template"]["spec"][
        "initContainers"]
    env = {e["name"]: e["value"] for e in init["env"] if "value" in e}
    env.update({"ICEBERG_OAUTH2_CREDENTIAL": "client:s3cr'et\\$(x)", "AWS_ACCESS_KEY_ID": "AKIA",
                "AWS_SECRET_ACCESS_KEY": "sk'`y`", **overrides})
    assert {e["name"] for e in init["env"]} <= set(env)
    script = files["init.sh"].replace("/var/lib/clickhouse", str(tmp_path))
    subprocess.run(["bash", "-c", script], env={"PATH": os.environ["PATH"], **env}, check=True, timeout=30)
    return (tmp_path / "metadata" / "lake.sql").read_text()


def test_clickhouse_attaches_the_warehouse_database_the_pods_write(files: dict[str, str], tmp_path: Path,
                                                                    clickhouse: Any) -> None:
    issuer = f"http://127.0.0.1:{closed_port()}/token"
    definition = run_init_script(files, tmp_path, {"CATALOG_OAUTH_SERVER_URI": issuer, "WAREHOUSE": "open'found\\ry"})
    clickhouse.query(definition)    # as the server reads metadata/lake.sql at start: no network yet
    shown = clickhouse.query("SHOW CREATE DATABASE lake", "TSVRaw").data().replace("\\n", "\n")
    # each value arrives as the pod's environment holds it, quotes and backslashes included
    assert "ENGINE = DataLakeCatalog('http://lakekeeper.openfoundry-storage.svc:8181/catalog')" in shown
    assert r"warehouse = 'open\'found\\ry'" in shown
    assert "storage_endpoint = 'http://rook-ceph-rgw-lake.rook-ceph.svc:80'" in shown
    assert "catalog_type = 'rest'" in shown and "auth_scope = 'lakekeeper'" in shown and "vended_credentials = 0" in shown
    # ClickHouse hides the secrets it was given; none of them shows
    assert shown.count("[HIDDEN]") == 3 and "s3cr" not in shown and "AKIA" not in shown
    # the first query logs in: the token comes from the issuer, by client credentials, before the catalog is asked
    with pytest.raises(Exception, match=r"Connection refused|POCO_EXCEPTION|NETWORK_ERROR"):
        clickhouse.query("SHOW TABLES FROM lake")


def test_the_users_settings_and_grants_are_clickhouses_own(files: dict[str, str], clickhouse: Any) -> None:
    users = ET.fromstring(files["users.xml"])
    settings = {e.tag for profile in users.iterfind("profiles/*") for e in profile if e.tag != "constraints"}
    settings |= {e.tag for e in users.iterfind("profiles/*/constraints/*")}
    assert settings
    known = set(clickhouse.query("SELECT name FROM system.settings", "TSVRaw").data().split())
    assert settings <= known, settings - known
    # readonly 1 is what refuses a reader's writes and DDL
    clickhouse.query("CREATE TABLE t (x UInt8) ENGINE = Memory")
    clickhouse.query("SET readonly = 1")
    for statement in ("INSERT INTO t VALUES (1)", "CREATE TABLE u (x UInt8) ENGINE = Memory", "DROP TABLE t"):
        with pytest.raises(Exception, match="readonly"):
            clickhouse.query(statement)


# The image's own users.xml, as far as this test needs it: the `default` user, profile and quota our users.d
# file builds on (docker/server: the package's /etc/clickhouse-server/users.xml)
IMAGE_USERS = """<clickhouse><profiles><default/></profiles>
<users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile>
<quota>default</quota>{extra}</default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
<read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></clickhouse>"""


def server_with_users(tmp_path: Path, files: dict[str, str], restore_default: bool) -> str:
    """A ClickHouse whose users are the image's and the rendered users.d file, as the server reads them at start;
    `restore_default` merges one more file after ours, so this test can log in and look. The embedded engine
    ignores access_control_improvements, so it refuses `changeable_in_readonly` the real server's defaults
    (settings_constraints_replace_previous: true) accept: the constraint is left out here, and only here."""
    users_d = tmp_path / "users.d"
    users_d.mkdir(parents=True, exist_ok=True)
    rendered_users = re.sub(r"\s*<constraints>.*?</constraints>", "", files["users.xml"], flags=re.S)
    (users_d / "openfoundry.xml").write_text(rendered_users)
    (tmp_path / "users.xml").write_text(IMAGE_USERS.format(extra=""))
    if restore_default:
        (users_d / "zz-test.xml").write_text(
            "<clickhouse><users><default><access_management>1</access_management><password></password>"
            "<networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>"
            "</clickhouse>")
    (tmp_path / "config.xml").write_text(f"<clickhouse><users_config>{tmp_path / 'users.xml'}</users_config>"
                                         "<default_profile>default</default_profile></clickhouse>")
    return f"file:{tmp_path / 'db'}?config-file={tmp_path / 'config.xml'}"


def test_the_server_loads_the_users_and_default_is_gone(files: dict[str, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CLICKHOUSE_GRAFANA_PASSWORD", "CLICKHOUSE_GATEWAY_PASSWORD"):
        monkeypatch.setenv(variable, "a-generated-password")
    # the file parses (a grant naming a grantee, say, would fail here with code 36) and `default` is removed:
    # the embedded engine logs in as `default`, and is refused
    with pytest.raises(Exception, match=r"Code: 516.*default: Authentication failed.*no user with such name"):
        chdb_session.Session(server_with_users(tmp_path / "removed", files, restore_default=False))
    session = chdb_session.Session(server_with_users(tmp_path / "restored", files, restore_default=True))
    try:
        users = session.query("SELECT name FROM system.users WHERE name != 'default' ORDER BY name", "TSVRaw").data()
        assert users.split() == ["grafana", "sql_bi_gateway"]
        for user in users.split():
            assert session.query(f"SHOW GRANTS FOR {user}", "TSVRaw").data().strip() == \
                f"GRANT SELECT ON lake.* TO {user}"
        profile = session.query("SELECT setting_name, value FROM system.settings_profile_elements "
                                "WHERE profile_name = 'reader' ORDER BY setting_name", "TSVRaw").data()
        assert profile.splitlines() == ["max_execution_time\t300", "readonly\t1"]
    finally:
        session.close()


def expand_macros(sql: str, start: datetime, end: datetime, interval_seconds: int) -> str:
    """Grafana's ClickHouse plugin's macros (grafana/clickhouse-datasource pkg/macros/macros.go)."""
    frm, to = int(start.timestamp()), int(end.timestamp())
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 >= toDateTime({frm}) AND \1 <= toDateTime({to})", sql)
    return re.sub(r"\$__timeInterval\((\w+)\)", rf"toStartOfInterval(toDateTime(\1), INTERVAL {interval_seconds} second)",
                  sql)


def write_iceberg_table(clickhouse: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    columns = ", ".join(f"{c.name} {CLICKHOUSE_TYPES[c.type]}" for c in table.columns)
    partition = f" PARTITION BY ({', '.join(table.partition_by)})" if table.partition_by else ""
    clickhouse.query("SET allow_experimental_insert_into_iceberg = 1")
    clickhouse.query("CREATE DATABASE IF NOT EXISTS lake ENGINE = Atomic")
    clickhouse.query(f"CREATE TABLE lake.`{table.name}` ({columns}) "
                     f"ENGINE = IcebergLocal('warehouse/{table.namespace}/{table.table}'){partition}")
    values = ", ".join("(" + ", ".join(f"'{row[c.name]}'" for c in table.columns) + ")" for row in rows)
    clickhouse.query(f"INSERT INTO lake.`{table.name}` VALUES {values}")


def test_the_dashboard_queries_answer_over_an_iceberg_table(clickhouse: Any) -> None:
    board = yaml.safe_load(manifest("v1-configmap", "openfoundry-control", "dashboard-lakehouse-analytics")["data"][
        "lakehouse-analytics.json"])
    (table,) = load_tables().tables
    rows = [{c.name: {"timestamp": f"2026-11-30 10:{10 * i:02d}:00", "date": "2026-11-30"}.get(
        c.type, "approve" if c.name == table.dimension and i < 2 else f"{c.name}-{i}") for c in table.columns}
        for i in range(3)]
    for row in rows:
        row[table.dimension] = "approve" if row[table.dimension] == "approve" else "reject"
    write_iceberg_table(clickhouse, table, rows)
    assert (Path("warehouse") / table.namespace / table.table / "metadata").is_dir()   # a real Iceberg table
    start, end = datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 11, 30, 12, tzinfo=UTC)
    answers = {}
    for panel in board["panels"]:
        (target,) = panel["targets"]
        answers[panel["title"]] = clickhouse.query(expand_macros(target["rawSql"], start, end, 3600), "TSVRaw").data()
    by_time = answers[f"{table.name}: rows by {table.dimension}"].splitlines()
    assert by_time == ["2026-11-30 10:00:00\tapprove\t2", "2026-11-30 10:00:00\treject\t1"]
    assert answers[f"{table.name}: top {table.dimension}"].splitlines() == ["approve\t2", "reject\t1"]
