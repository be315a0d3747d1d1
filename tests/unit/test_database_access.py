"""Who may reach each database, and what its instances may reach, as registered, whole, for every database of both
stacks. Expected values come from the catalog's flags and CloudNativePG's documented ports, never from the plane."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s
import pytest

from components.common.site import Site
from components.compute.plane import sql_reader
from components.relational.database import databases
from components.relational.plane import RelationalStatePlane, RelationalStatePlaneArgs
from components.storage.ceph import StorageAccess
from foundry.catalog import Catalog
from foundry.config import StackConfig, load_stack_config
from foundry.config.base import quantity_bytes
from foundry.defaults import deep_merge
from foundry.outboxes import load_outboxes
from ops.engine.stacks import read_stack_values
from tests.conftest import BuiltStack
from tests.mocks import Registered, by_metadata_name, register

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
# CloudNativePG's docs: Postgres 5432, the instance manager's status endpoint 8000 (the operator polls it), the
# instances' exporter 9187, PgBouncer's exporter 9127; the operator runs in cnpg-system
POSTGRES, STATUS, INSTANCE_METRICS, POOLER_METRICS = 5432, 8000, 9187, 9127
OPERATOR_NAMESPACE = "cnpg-system"
# platform components with a database of their own (not catalog services), and Lakekeeper's migration Job's pods
PLATFORM_OWNERS = {"lakekeeper": "storage", "openfga": "storage"}
MIGRATORS = {"lakekeeper": "lakekeeper-migrate"}
OUTBOXES = set(load_outboxes().by_service())
SQL_READER = ("sql-bi-gateway-service", "openfoundry-compute")   # seed 000: the only edge SQL surface
API_SERVER = {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
RGW = {"to": [{"podSelector": {"matchLabels": {"app": "rook-ceph-rgw", "rgw": "lake"}},
               "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "rook-ceph"}}}],
       "ports": [{"protocol": "TCP", "port": 8080}]}


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def pods(labels: dict[str, str], namespace: str | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"podSelector": {"matchLabels": labels}}
    if namespace:
        peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return peer


def workload(name: str, namespace: str | None = None) -> dict[str, Any]:
    return pods({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "openfoundry"}, namespace)


def owners(catalog: Catalog) -> dict[str, tuple[str, bool, bool]]:
    """Each database owner: its namespace, whether it is pooled, whether the SQL gateway reads it."""
    found = {s.name: (f"openfoundry-{s.plane}", s.pooled, s.sql_readable) for s in catalog.services if s.database}
    return found | {name: (f"openfoundry-{plane}", False, False) for name, plane in PLATFORM_OWNERS.items()}


def expected_access(owner: str, pooled: bool, readable: bool, monitoring: str, cluster: str = "",
                    outbox: bool = False) -> dict[str, Any]:
    cluster = cluster or f"pg-{owner}"
    clients = [workload(owner)]
    clients += [workload(MIGRATORS[owner])] if owner in MIGRATORS else []
    clients += [pods({"cnpg.io/poolerName": f"pg-{owner}-pooler-rw"})] if pooled else []
    clients += [workload(*SQL_READER)] if readable else []
    # the outbox relay replicates from the instances (data/outboxes.yaml)
    clients += [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openfoundry-ingestion"}},
                 "podSelector": {"matchLabels": {"strimzi.io/cluster": "outbox-relay", "strimzi.io/kind": "KafkaConnect"}}}
                ] if outbox else []
    return {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": clients, "ports": tcp(POSTGRES)},
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": OPERATOR_NAMESPACE}}}],
             "ports": tcp(STATUS, POSTGRES)},
            {"from": [pods({"cnpg.io/cluster": cluster})], "ports": tcp(POSTGRES)},
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": monitoring}}}],
             "ports": tcp(INSTANCE_METRICS, POOLER_METRICS)},
        ],
    }


def expected_egress(owner: str, pooled: bool, cluster: str = "") -> dict[str, dict[str, Any]]:
    cluster = cluster or f"pg-{owner}"
    to_instances = {"to": [pods({"cnpg.io/cluster": cluster})], "ports": tcp(POSTGRES, STATUS)}
    found = {f"{cluster}-egress": {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": cluster},
                        "matchExpressions": [{"key": "cnpg.io/poolerName", "operator": "DoesNotExist"}]},
        "policyTypes": ["Egress"], "egress": [to_instances, RGW, API_SERVER]}}
    if pooled:
        found[f"{cluster}-pooler-rw-egress"] = {"podSelector": {"matchLabels": {"cnpg.io/poolerName": f"{cluster}-pooler-rw"}},
                                                "policyTypes": ["Egress"], "egress": [to_instances, API_SERVER]}
    return found


def test_each_database_admits_exactly_its_owner_its_pooler_its_reader_the_operator_and_prometheus(
        built: BuiltStack, catalog: Catalog) -> None:
    policies = by_metadata_name(built.resources, POLICY)
    expected = owners(catalog)
    assert {n for n in policies if n.startswith("pg-") and n.endswith("-access")} == {f"pg-{o}-access" for o in expected}
    for owner, (namespace, pooled, readable) in expected.items():
        policy = policies[f"pg-{owner}-access"]
        assert policy.inputs["metadata"]["namespace"] == namespace, owner
        assert policy.inputs["spec"] == expected_access(owner, pooled, readable, built.config.monitoring.namespace,
                                                       outbox=owner in OUTBOXES), owner


def test_each_database_reaches_its_instances_the_backup_gateway_and_the_api_server_only(
        built: BuiltStack, catalog: Catalog) -> None:
    policies = by_metadata_name(built.resources, POLICY)
    expected = {name: (namespace, spec) for owner, (namespace, pooled, _) in owners(catalog).items()
                for name, spec in expected_egress(owner, pooled).items()}
    assert {n for n in policies if n.startswith("pg-") and n.endswith("-egress")} == set(expected)
    for name, (namespace, spec) in expected.items():
        assert policies[name].inputs["metadata"]["namespace"] == namespace, name
        assert policies[name].inputs["spec"] == spec, name


def expected_cluster(owner: str, namespace: str, pooled: bool, readable: bool, config: StackConfig) -> dict[str, Any]:
    """What a cluster must say for its data to be safe and reachable only as intended."""
    cluster, pg, prod = f"pg-{owner}", config.relational.postgres, config.is_prod
    database = owner.replace("-", "_")
    spec: dict[str, Any] = {
        "instances": pg.instances,
        "enablePDB": True,
        "storage": {"size": pg.storage_size, "storageClass": config.storage.block_storage_class},
        # requested, so the scheduler reserves them and the kubelet evicts these pods last; memory capped, no CPU cap
        "resources": {"requests": {"cpu": pg.resources.cpu, "memory": pg.resources.memory},
                      "limits": {"memory": pg.resources.memory_limit or pg.resources.memory}},
        "bootstrap": {"initdb": {"database": database, "owner": database}},
        "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                     "parameters": {"barmanObjectName": f"{cluster}-backups"}}],
        # one instance per node in prod (CNPG's podAntiAffinityType), best effort on dev's one node
        "affinity": {"enablePodAntiAffinity": True, "podAntiAffinityType": "required" if prod else "preferred",
                     "topologyKey": "kubernetes.io/hostname"},
        "inheritedMetadata": {"labels": {"openfoundry.io/plane": "relational", "app.kubernetes.io/part-of": "openfoundry",
                                         "app.kubernetes.io/name": cluster, "app.kubernetes.io/managed-by": "pulumi"}},
    }
    postgresql: dict[str, Any] = {"parameters": pg.parameters} if pg.parameters else {}
    if pg.synchronous_replicas:   # a commit waits for a standby (CNPG's quorum-based synchronous replication)
        postgresql["synchronous"] = {"method": "any", "number": pg.synchronous_replicas, "dataDurability": "required"}
    if postgresql:
        spec["postgresql"] = postgresql
    if pooled:   # PgBouncer presents the cluster's certificate: clients verifying the host need the pooler's names
        pooler = f"{cluster}-pooler-rw"
        spec["certificates"] = {"serverAltDNSNames": [pooler, f"{pooler}.{namespace}", f"{pooler}.{namespace}.svc",
                                                      f"{pooler}.{namespace}.svc.cluster.local"]}
    roles = [{"name": "sql_bi_reader", "ensure": "present", "login": True, "inRoles": ["pg_read_all_data"],
              "connectionLimit": 20, "passwordSecret": {"name": f"{cluster}-sql-reader"},
              "comment": "read-only route of the Flight SQL gateway"}] if readable else []
    if owner in OUTBOXES:   # the outbox relay's role: logs in and replicates, holds nothing else
        roles.append({"name": "outbox_relay", "ensure": "present", "login": True, "replication": True, "connectionLimit": 10,
                      "passwordSecret": {"name": f"{cluster}-outbox-relay"},
                      "comment": "the outbox relay (Debezium): reads the outbox publication, nothing else"})
        standbys = pg.instances > 1
        wal_cap = f"{max(1024, int(quantity_bytes(pg.storage_size) / 4 / 2**20))}MB"   # a quarter of the volume
        spec["postgresql"] = {**spec.get("postgresql", {}), "parameters": {
            **pg.parameters, "wal_level": "logical", "max_slot_wal_keep_size": wal_cap,
            **({"hot_standby_feedback": "on", "sync_replication_slots": "on"} if standbys else {})}}
        if standbys:   # the failover slot follows a switchover
            spec["replicationSlots"] = {"highAvailability": {"enabled": True, "synchronizeLogicalDecoding": True}}
    if roles:
        spec["managed"] = {"roles": roles}
    return spec


def test_each_cluster_bootstraps_its_owner_archives_spreads_and_trusts_its_pooler(
        built: BuiltStack, catalog: Catalog) -> None:
    registered, config = built.resources, built.config
    clusters = by_metadata_name(registered, CLUSTER)
    expected = owners(catalog)
    assert set(clusters) == {f"pg-{owner}" for owner in expected}
    for owner, (namespace, pooled, readable) in expected.items():
        spec = clusters[f"pg-{owner}"].inputs["spec"]
        found = {key: spec[key] for key in ("instances", "enablePDB", "storage", "resources", "bootstrap", "plugins",
                                            "affinity", "inheritedMetadata", "certificates", "managed", "postgresql",
                                            "replicationSlots")
                 if key in spec}
        assert found == expected_cluster(owner, namespace, pooled, readable, config), owner
        assert clusters[f"pg-{owner}"].inputs["metadata"]["namespace"] == namespace, owner


RECOVERED = "identity-federation-service"   # pooled, and made SQL-readable below: what a recovery must not inherit


@pytest.fixture(scope="module")
def recovery(catalog: Catalog) -> list[Registered]:
    """The relational plane alone, prod, with a point-in-time recovery of RECOVERED (a second, new cluster); no
    database is SQL-readable at the pin, so RECOVERED is made one here."""
    catalog = Catalog(services=[s.model_copy(update={"sql_readable": True}) if s.name == RECOVERED else s
                                for s in catalog.services])
    assert catalog.by_name(RECOVERED).pooled
    config = load_stack_config(deep_merge(read_stack_values("prod"), {"relational": {"postgres": {"recoverFrom": {
        "cluster": f"pg-{RECOVERED}", "targetTime": "2026-11-20T08:30:00Z"}}}}), "prod")
    postgres = config.relational.postgres
    return register("prod", lambda: RelationalStatePlane("relational", RelationalStatePlaneArgs(
        postgres=postgres, storage=StorageAccess.of(config.storage), site=Site.of(config),
        databases=databases(catalog, postgres), provider=k8s.Provider("kubernetes"), sql_reader=sql_reader(catalog))))


def test_a_recovery_cluster_restores_the_origin_under_its_own_name_and_serves_only_the_owner(
        recovery: list[Registered], prod_config: StackConfig, catalog: Catalog) -> None:
    """It archives under its own name (never over the origin's backups), reads the origin's as an external
    cluster, and is reached by no pooler and no SQL reader: those keep serving from the origin."""
    origin, name = f"pg-{RECOVERED}", f"pg-{RECOVERED}-pitr"
    namespace, _, _ = owners(catalog)[RECOVERED]
    spec = by_metadata_name(recovery, CLUSTER)[name].inputs["spec"]
    database = RECOVERED.replace("-", "_")
    assert spec["bootstrap"] == {"recovery": {"source": origin, "database": database, "owner": database,
                                              "recoveryTarget": {"targetTime": "2026-11-20T08:30:00Z"}}}
    assert spec["externalClusters"] == [{"name": origin, "plugin": {"name": "barman-cloud.cloudnative-pg.io", "parameters": {
        "barmanObjectName": f"{origin}-backups", "serverName": origin}}}]
    assert spec["plugins"] == [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                                "parameters": {"barmanObjectName": f"{origin}-backups", "serverName": name}}]
    assert "certificates" not in spec and "managed" not in spec
    # the engine refuses a second resource under one URN (a second pooler policy would be one)
    assert len({(r.parent, r.type, r.name) for r in recovery}) == len(recovery)
    policies = by_metadata_name(recovery, POLICY)
    assert {n for n in policies if n.startswith(name)} == {f"{name}-access", f"{name}-egress"}
    assert policies[f"{name}-access"].inputs["spec"] == expected_access(
        RECOVERED, False, False, prod_config.monitoring.namespace, cluster=name)
    assert policies[f"{name}-egress"].inputs["spec"] == expected_egress(RECOVERED, False, name)[f"{name}-egress"]
    assert {policies[f"{name}-{kind}"].inputs["metadata"]["namespace"] for kind in ("access", "egress")} == {namespace}
