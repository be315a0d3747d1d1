"""The Iceberg blueprint's read path as a contract: ClickHouse reads the warehouse and nothing else.

ClickHouse's users are ConfigMap files (users.d XML the server reads at start); the check reads them as the server
would: a user survives unless it is removed, its profile is one the same file defines, its grants are queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

from openfoundry_policies.resources import Resource

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
READ_GRANT = "GRANT SELECT ON "


def _users_files(r: Resource) -> Iterator[tuple[str, ET.Element]]:
    """The ClickHouse users files among a ConfigMap's keys: XML whose root is <clickhouse> and that has <users>."""
    for key, text in (r.props.get("data") or {}).items():
        if not str(key).endswith(".xml"):
            continue
        try:
            root = ET.fromstring(str(text))
        except ET.ParseError:
            continue
        if root.tag == "clickhouse" and root.find("users") is not None:
            yield str(key), root


def _read_only_profiles(root: ET.Element) -> set[str]:
    profiles = root.find("profiles")
    if profiles is None:
        return set()
    return {p.tag for p in profiles if (p.findtext("readonly") or "").strip() == "1"}


def clickhouse_reads_only(r: Resource) -> Iterator[str]:
    """Every ClickHouse user is read-only (readonly 1, SELECT grants only), `default` is removed, and no password
    is written into the file."""
    if r.type != CONFIG_MAP:
        return
    for key, root in _users_files(r):
        where = f"{r.label} ({key})"
        read_only = _read_only_profiles(root)
        users = root.find("users")
        if users is None:
            continue
        default = users.find("default")
        if default is None or default.get("remove") != "remove":
            yield f"{where} keeps ClickHouse's `default` user (remove it: it has no password and full access)"
        for user in users:
            if user.get("remove") == "remove" or user.tag == "default":
                continue
            profile = (user.findtext("profile") or "default").strip()
            if profile not in read_only:
                yield f"{where}: user {user.tag} has profile {profile}, which is not readonly 1"
            grants = [(q.text or "").strip() for q in user.findall("grants/query")]
            if not grants:
                yield f"{where}: user {user.tag} has no grants, so it may read every database"
            for grant in grants:
                if not grant.upper().startswith(READ_GRANT):
                    yield f"{where}: user {user.tag} is granted {grant!r}; a reader is granted SELECT only"
            password = user.find("password")
            if password is not None and (password.text or "").strip():
                yield f"{where}: user {user.tag}'s password is written in the file (use from_env and a Secret)"


def clickhouse_never_exposed(r: Resource) -> Iterator[str]:
    """ClickHouse serves Grafana and the SQL gateway inside the cluster; SQL from outside enters through the gateway."""
    if r.type == SERVICE and r.spec.get("type") in ("LoadBalancer", "NodePort"):
        selector = r.spec.get("selector") or {}
        if "clickhouse" in str(r.metadata.get("name") or "") or any("clickhouse" in str(v) for v in selector.values()):
            yield f"{r.label} exposes ClickHouse through a {r.spec.get('type')}: it is an internal reader only"
    if r.type == INGRESS:
        for rule in r.spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                name = ((path.get("backend") or {}).get("service") or {}).get("name")
                if "clickhouse" in str(name or ""):
                    yield f"{r.label} routes to ClickHouse ({name}): it is an internal reader only"
