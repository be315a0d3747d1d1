"""What the operators would add to a render once applied, with real values for this boot's servers:

- CloudNativePG, per Cluster: `<cluster>-app` (the owner's credentials: username, password, host, port, dbname,
  uri, jdbc-uri, pgpass) and `<cluster>-ca` (ca.crt, the CA that signed the server certificate); its server
  certificate names the rw, r and ro Services in every form plus spec.certificates.serverAltDNSNames.
- trust-manager, per Bundle: a ConfigMap of the Bundle's name, holding the platform CA under the target key, in
  every namespace its namespaceSelector matches.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass

from ops.boot.rendered import Rendered, config_map, labels_of, name_of, namespace_of, secret, service_names

PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 64                 # CloudNativePG's generated passwords: 64 letters and digits
POSTGRES_PORT = 5432
CNPG_SERVICES = ("rw", "r", "ro")


@dataclass(frozen=True)
class PgCluster:
    """A CloudNativePG Cluster as the boot's single Postgres serves it."""

    namespace: str
    name: str
    database: str
    owner: str
    alt_names: tuple[str, ...] = ()

    @property
    def certificate_names(self) -> list[str]:
        """The names CloudNativePG's server certificate holds for this cluster."""
        names = [n for suffix in CNPG_SERVICES for n in service_names(f"{self.name}-{suffix}", self.namespace)]
        return [*names, *self.alt_names]


@dataclass(frozen=True)
class PgDatabase:
    """A Database resource: one more database (or the same) on a cluster, with extensions to ensure."""

    namespace: str
    cluster: str
    name: str
    owner: str
    extensions: tuple[str, ...] = ()


def pg_clusters(rendered: Rendered) -> list[PgCluster]:
    clusters = []
    for cluster in rendered.of_kind("Cluster"):
        spec = cluster.get("spec") or {}
        initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
        database = initdb.get("database", "app")
        clusters.append(PgCluster(namespace_of(cluster), name_of(cluster), database, initdb.get("owner", database),
                                  tuple((spec.get("certificates") or {}).get("serverAltDNSNames") or [])))
    return clusters


def pg_databases(rendered: Rendered) -> list[PgDatabase]:
    found = []
    for database in rendered.of_kind("Database"):
        spec = database.get("spec") or {}
        if (spec.get("cluster") or {}).get("name"):
            extensions = tuple(e["name"] for e in spec.get("extensions") or [] if e.get("ensure", "present") == "present")
            found.append(PgDatabase(namespace_of(database), spec["cluster"]["name"], spec["name"], spec["owner"],
                                    extensions))
    return found


def pooler_names(rendered: Rendered) -> list[str]:
    """Every form of every Pooler's Service (named after the Pooler): they reach the same Postgres here."""
    return [n for pooler in rendered.of_kind("Pooler") for n in service_names(name_of(pooler), namespace_of(pooler))]


def postgres_names(rendered: Rendered) -> list[str]:
    """Every name a pod may dial a Postgres by: each Cluster's Services and each Pooler's."""
    names = [n for cluster in pg_clusters(rendered) for n in service_names(f"{cluster.name}-rw", cluster.namespace)
             + service_names(f"{cluster.name}-r", cluster.namespace)
             + service_names(f"{cluster.name}-ro", cluster.namespace)]
    return list(dict.fromkeys(names + pooler_names(rendered)))


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def add_cnpg_secrets(rendered: Rendered, clusters: list[PgCluster], passwords: Mapping[str, str], ca_pem: bytes) -> None:
    """`<cluster>-app` and `<cluster>-ca` for every Cluster, as CloudNativePG writes them."""
    for cluster in clusters:
        password, host = passwords[cluster.owner], f"{cluster.name}-rw"
        fqdn = f"{host}.{cluster.namespace}"
        rendered.add(secret(cluster.namespace, f"{cluster.name}-app", {
            "username": cluster.owner, "password": password, "host": host, "port": str(POSTGRES_PORT),
            "dbname": cluster.database,
            "uri": f"postgresql://{cluster.owner}:{password}@{fqdn}:{POSTGRES_PORT}/{cluster.database}",
            "jdbc-uri": f"jdbc:postgresql://{fqdn}:{POSTGRES_PORT}/{cluster.database}?password={password}"
                        f"&user={cluster.owner}",
            "pgpass": f"{host}:{POSTGRES_PORT}:{cluster.database}:{cluster.owner}:{password}\n"}))
        rendered.add(secret(cluster.namespace, f"{cluster.name}-ca", {"ca.crt": ca_pem}))


def add_trust_bundles(rendered: Rendered, ca_pem: bytes) -> list[str]:
    """Each Bundle's ConfigMap in every namespace it selects; the ConfigMaps' namespaces/names."""
    made = []
    for bundle in rendered.of_kind("Bundle"):
        target = (bundle.get("spec") or {}).get("target") or {}
        key = (target.get("configMap") or {}).get("key")
        if not key:
            continue
        wanted = ((target.get("namespaceSelector") or {}).get("matchLabels") or {}).items()
        for namespace in rendered.of_kind("Namespace"):
            if wanted <= labels_of(namespace).items():
                rendered.add(config_map(name_of(namespace), name_of(bundle), {key: ca_pem.decode()}))
                made.append(f"{name_of(namespace)}/{name_of(bundle)}")
    return made
