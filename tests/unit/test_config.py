"""Bad config never hurts: every broken config fails with the config path, what was found, what is allowed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry.config import ConfigErrors, StackConfig, load_stack_config
from foundry.defaults import deep_merge, defaults_for
from foundry.guard import DEVELOPMENT_PASSPHRASE, refuse_development_passphrase
from ops.engine.stacks import read_stack_values

PROD = read_stack_values("prod")


def problems_of(overrides: dict[str, Any], stack: str = "prod") -> list[str]:
    base = PROD if stack == "prod" else read_stack_values(stack)
    with pytest.raises(ConfigErrors) as caught:
        load_stack_config(deep_merge(base, overrides), stack)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_committed_stacks_are_valid(stack: str) -> None:
    config = load_stack_config(read_stack_values(stack), stack)
    assert config.environment == stack
    # the stack file's own values win over the defaults; the rest come from foundry/defaults.py
    expected_mode, zones = {"dev": ("render", ["local"]), "prod": ("cluster", ["zone-a", "zone-b", "zone-c"])}[stack]
    assert (config.kubernetes.mode, config.topology.zones) == (expected_mode, zones)
    assert config.edge.host == {"dev": "openfoundry.localtest.me", "prod": "foundry.example.com"}[stack]


def test_prod_defaults_are_the_production_shape() -> None:
    config = load_stack_config(PROD, "prod")
    store = config.storage.object_store
    assert (store.data_chunks, store.coding_chunks, store.failure_domain) == (4, 2, "rack")
    assert config.storage.ceph.mon_count == 5
    assert config.ingestion.kafka.min_insync_replicas == 2
    assert config.relational.postgres.synchronous_replicas == 1


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level key", {"nonsenseKey": 1}, "openfoundry:nonsenseKey: found unknown key nonsenseKey"),
    ("unknown nested key", {"storage": {"ceph": {"monCont": 3}}}, "openfoundry:storage.ceph.monCont"),
    ("wrong type", {"workloads": {"replicas": "three"}}, "openfoundry:workloads.replicas: found 'three'"),
    ("negative count", {"ingestion": {"kafka": {"brokers": -1}}}, "openfoundry:ingestion.kafka.brokers: found -1"),
    ("zero count", {"control": {"nats": {"servers": 0}}}, "openfoundry:control.nats.servers: found 0"),
    # found by the property test below: one in-sync replica acknowledges a write held by a single broker
    ("one in-sync replica in prod", {"ingestion": {"kafka": {"minInsyncReplicas": 1}}},
     "openfoundry:ingestion.kafka.minInsyncReplicas: found 1; allowed: 2 or more in prod"),
    ("EC wider than racks", {"topology": {"racks": 5}}, "openfoundry:storage.objectStore.dataChunks: found 4"),
    ("EC wider than zones", {"storage": {"objectStore": {"failureDomain": "zone"}}},
     "at most 3 zone failure domains"),
    ("EC pool with replicas too", {"storage": {"objectStore": {"replicas": 3}}}, "openfoundry:storage.objectStore.replicas"),
    ("EC half configured", {"storage": {"objectStore": {"dataChunks": None}}}, "openfoundry:storage.objectStore.dataChunks"),
    ("one coding chunk in prod", {"storage": {"objectStore": {"codingChunks": 1}}}, "codingChunks: found 1"),
    ("host failure domain in prod", {"storage": {"blockPool": {"failureDomain": "host"}}},
     "openfoundry:storage.blockPool.failureDomain: found 'host'"),
    ("osd failure domain", {"storage": {"blockPool": {"failureDomain": "osd"}}}, "openfoundry:storage.blockPool.failureDomain"),
    ("even mon quorum", {"storage": {"ceph": {"monCount": 4}}}, "openfoundry:storage.ceph.monCount: found 4"),
    ("mons stacked per node in prod", {"storage": {"ceph": {"allowMultipleMonsPerNode": True}}}, "allowMultipleMonsPerNode"),
    ("more mons than nodes", {"topology": {"nodes": 3}}, "at most topology.nodes (3)"),
    ("block pool wider than zones", {"storage": {"blockPool": {"replicas": 4}}}, "openfoundry:storage.blockPool.replicas"),
    ("zone label Rook does not read", {"topology": {"zoneLabel": "example.com/zone"}},
     "openfoundry:topology.zoneLabel: found 'example.com/zone'; allowed: 'topology.kubernetes.io/zone'"),
    ("an OSD memory limit that is no quantity", {"storage": {"ceph": {"resources": {"osd": {
        "cpu": "1", "memory": "4Gi", "memoryLimit": "lots"}}}}}, "openfoundry:storage.ceph.resources.osd.memoryLimit"),
    ("an OSD below Rook's minimum", {"storage": {"ceph": {"resources": {"osd": {"memory": "1Gi", "memoryLimit": None}}}}},
     "openfoundry:storage.ceph.resources.osd.memory: found 1Gi; allowed: at least 2Gi"),
    ("min ISR equal to RF", {"ingestion": {"kafka": {"minInsyncReplicas": 3}}}, "minInsyncReplicas: found 3"),
    ("RF above brokers", {"ingestion": {"kafka": {"replicationFactor": 5}}}, "replicationFactor: found 5"),
    ("even KRaft quorum", {"ingestion": {"kafka": {"controllers": 4}}}, "openfoundry:ingestion.kafka.controllers"),
    # two servers lose the JetStream RAFT quorum with either; nats.conf's routes rely on never seeing two
    ("even NATS quorum", {"control": {"nats": {"servers": 2, "streamReplicas": 1}}}, "openfoundry:control.nats.servers: found 2"),
    ("stream replicas above servers", {"control": {"nats": {"streamReplicas": 5}}}, "streamReplicas: found 5"),
    ("a backup schedule by day name", {"relational": {"postgres": {"backupSchedule": "0 0 2 * * MON"}}},
     "openfoundry:relational.postgres.backupSchedule: found '0 0 2 * * MON'; allowed: a six-field cron of numbers"),
    ("sync replicas equal to instances", {"relational": {"postgres": {"instances": 3, "synchronousReplicas": 3}}},
     "openfoundry:relational.postgres.synchronousReplicas: found 3"),
    ("2 sync replicas on 2 instances", {"relational": {"postgres": {"instances": 2, "synchronousReplicas": 2}}},
     "openfoundry:relational.postgres.synchronousReplicas: found 2; allowed: less than instances (2)"),
    ("backup schedule with five fields", {"relational": {"postgres": {"backupSchedule": "0 2 * * *"}}},
     "openfoundry:relational.postgres.backupSchedule"),
    ("latest image tag", {"images": {"tag": "latest"}}, "openfoundry:images.tag: found 'latest'"),
    ("bad image tag", {"images": {"tag": "v1 beta"}}, "openfoundry:images.tag"),
    ("compute limit below request", {"compute": {"workloads": {"memoryLimit": "1Gi"}}},
     "openfoundry:compute.workloads.memoryLimit"),
    ("limit below request", {"workloads": {"cpuLimit": "100m"}}, "openfoundry:workloads.cpuLimit"),
    ("cluster without context", {"kubernetes": {"context": None}}, "openfoundry:kubernetes.context"),
    ("bad mode", {"kubernetes": {"mode": "helm"}}, "openfoundry:kubernetes.mode: found 'helm'"),
    ("single replica in prod", {"workloads": {"replicas": 1}}, "openfoundry:workloads.replicas: found 1"),
    ("bad CORS origin", {"edge": {"corsOrigins": ["*"]}}, "openfoundry:edge.corsOrigins[0]"),
    ("two CORS origins", {"edge": {"corsOrigins": ["https://a.example.com", "https://b.example.com"]}},
     "openfoundry:edge.corsOrigins: found ['https://a.example.com', 'https://b.example.com']; allowed: at most one"),
    ("unknown environment", {"environment": "staging"}, "openfoundry:environment: found 'staging'"),
    ("section of the wrong shape", {"storage": "big"}, "openfoundry:storage: found 'big'"),
]


@pytest.mark.parametrize(("case", "overrides", "expected"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_a_broken_config_names_its_path(case: str, overrides: dict[str, Any], expected: str) -> None:
    problems = problems_of(overrides)
    assert any(expected in p for p in problems), problems
    assert all("; allowed: " in p for p in problems)


def test_every_problem_is_reported_not_just_the_first() -> None:
    problems = problems_of({"nonsenseKey": 1, "storage": {"ceph": {"monCount": 4}}, "workloads": {"replicas": "x"}})
    assert len(problems) == 2  # field errors first; cross-field rules run once the shapes are valid
    assert any("nonsenseKey" in p for p in problems) and any("workloads.replicas" in p for p in problems)


def test_prod_refuses_the_development_passphrase() -> None:
    config = load_stack_config(PROD, "prod")
    with pytest.raises(ConfigErrors, match="configuration problem"):
        refuse_development_passphrase(config, {"PULUMI_CONFIG_PASSPHRASE": DEVELOPMENT_PASSPHRASE})
    refuse_development_passphrase(config, {"PULUMI_CONFIG_PASSPHRASE": "a team secret"})


def test_dev_single_node_shape_is_allowed() -> None:
    config = load_stack_config({}, "dev")
    assert config.storage.object_store.replicas == 1
    assert config.storage.ceph.mon_count == 1


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 12), st.text(max_size=6), st.lists(st.integers(), max_size=2))


def _paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, value in tree.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found += _paths(value, (*prefix, key))
    return found


PROD_PATHS = _paths(deep_merge(defaults_for("prod"), PROD))


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    tree: Any = value
    for key in reversed(path):
        tree = {key: tree}
    return tree


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PROD_PATHS), SCALARS), min_size=1, max_size=4))
def test_any_mutation_either_loads_or_fails_cleanly(mutations: list[tuple[tuple[str, ...], Any]]) -> None:
    values: dict[str, Any] = dict(PROD)
    for path, value in mutations:
        values = deep_merge(values, _nest(path, value))
    try:
        config = load_stack_config(values, "prod")
    except ConfigErrors as err:
        assert err.problems
        for problem in err.problems:
            assert problem.path.startswith("openfoundry:") or problem.path == "PULUMI_CONFIG_PASSPHRASE"
            assert problem.found and problem.allowed
        return
    assert_production_invariants(config)


def assert_production_invariants(config: StackConfig) -> None:
    """What any accepted prod config guarantees, stated from the operators' rules rather than the model's code."""
    kafka, nats, pg = config.ingestion.kafka, config.control.nats, config.relational.postgres
    store, topology = config.storage.object_store, config.topology
    assert 3 <= kafka.replication_factor <= kafka.brokers and 2 <= kafka.min_insync_replicas < kafka.replication_factor
    assert kafka.controllers % 2 == 1 and nats.servers % 2 == 1 and config.storage.ceph.mon_count % 2 == 1
    assert nats.stream_replicas <= nats.servers
    assert 1 <= pg.synchronous_replicas < pg.instances and pg.instances >= 3
    assert store.data_chunks is not None and store.coding_chunks is not None and store.coding_chunks >= 2
    racks_or_zones = {"rack": topology.racks, "zone": len(topology.zones)}[store.failure_domain]
    assert store.data_chunks + store.coding_chunks <= racks_or_zones
    assert config.edge.cache.nodes >= 3 and config.edge.tls_cluster_issuer
    assert config.images.tag != "latest"


def test_prod_needs_its_team_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.engine.stacks import StackError, backend_for

    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    with pytest.raises(StackError, match="PULUMI_BACKEND_URL"):
        backend_for("prod")


def test_a_postgres_parameter_cloudnativepg_owns_or_cannot_name_is_refused_by_path() -> None:
    problems = problems_of({"relational": {"postgres": {"parameters": {
        "listen_addresses": "*", "ssl": "off", "a.b.c": "1", "work_mem": "64MB", "pg_stat_statements.max": "5000"}}}})
    assert problems == [
        "openfoundry:relational.postgres.parameters.listen_addresses: found '*'; allowed: a parameter CloudNativePG "
        "does not set itself (it owns this one and refuses the Cluster)",
        "openfoundry:relational.postgres.parameters.ssl: found 'off'; allowed: a parameter CloudNativePG does not set "
        "itself (it owns this one and refuses the Cluster)",
        "openfoundry:relational.postgres.parameters.a.b.c: found '1'; allowed: a name of at most two dot-separated "
        "parts, as CloudNativePG's webhook requires"]
