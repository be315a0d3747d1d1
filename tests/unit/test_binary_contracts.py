"""Every service that runs an OpenFoundry binary gets what the binary reads (data/upstream/binaries/, facts read at the
pinned commit): each variable it needs, resolvable from a literal, a Secret key the stack creates or an operator-made
Secret it names; its listeners on the catalog's ports; probes on its health route; its image from the pin. The
binaries waiting for the operational store are reported by name, never passed. `make boot` starts the binaries
themselves on this environment (docs/boot.md); this is what CI checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from foundry import versions
from foundry.binaries import running
from foundry.catalog import Catalog
from foundry.upstream import Binary, load_contracts
from tests.binary_contract import Stack, container_of, contract_problems
from tests.conftest import BuiltStack
from tests.mocks import Registered

# the binaries that cannot start without Cassandra (ADR-0020), by their code at the pin: contact points required
# (of:services/object-database-service/cmd/object-database-service/main.go:104,
# of:services/ontology-query-service/cmd/ontology-query-service/main.go:91,
# of:services/ontology-actions-service/cmd/ontology-actions-service/main.go:229-235); the platform runs it now
CASSANDRA_CLIENTS = {"object-database-service", "ontology-query-service", "ontology-actions-service"}
IMAGE = f"{versions.OPENFOUNDRY_REGISTRY}/{{binary}}:sha-{versions.OPENFOUNDRY_COMMIT[:7]}"


def problems_of(resources: list[Registered], catalog: Catalog, change: Any = None) -> list[str]:
    stack, found = Stack.of(resources), []
    for run in running(catalog, load_contracts()):
        namespace, _, container = container_of(resources, run.service.name)
        if change is not None:
            container = copy.deepcopy(container)
            change(run.service.name, container)
        found += contract_problems(run, namespace, container, stack, IMAGE.format(binary=run.binary.name))
    return found


def test_every_running_service_meets_its_binarys_contract(built: BuiltStack, catalog: Catalog) -> None:
    assert problems_of(built.resources, catalog) == []


def test_the_operational_stores_clients_run_and_nothing_waits_for_it(built: BuiltStack, catalog: Catalog) -> None:
    runs = running(catalog, load_contracts())
    assert [run.service.name for run in runs if run.waiting] == []
    assert {run.binary.name for run in runs if run.binary.cassandra} == CASSANDRA_CLIENTS
    for run in (r for r in runs if r.binary.cassandra):
        _, spec, container = container_of(built.resources, run.service.name)
        assert spec.get("replicas") != 0, run.service.name
        env = {e["name"]: e for e in container["env"]}
        assert env["CASSANDRA_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == f"cassandra-{run.service.name}"


def test_every_entry_with_a_live_server_binary_runs_it(catalog: Catalog) -> None:
    contracts = load_contracts()
    ran = {run.service.name for run in running(catalog, contracts)}
    for service in catalog.services:
        binary = contracts.binaries.get(service.binary or "")
        assert (service.name in ran) == (binary is not None and binary.kind != "job"), service.name


def drop_jwt(service: str, container: dict[str, Any]) -> None:
    if service == "identity-federation-service":
        container["env"] = [e for e in container["env"] if e["name"] != "OPENFOUNDRY_JWT_SECRET"]


def swap_sql_gateway_ports(service: str, container: dict[str, Any]) -> None:
    if service == "sql-bi-gateway-service":
        values = {e["name"]: e for e in container["env"]}
        values["PORT"]["value"], values["HEALTHZ_PORT"]["value"] = values["HEALTHZ_PORT"]["value"], values["PORT"]["value"]


def point_the_key_elsewhere(service: str, container: dict[str, Any]) -> None:
    if service == "identity-federation-service":
        for variable in container["env"]:
            if variable["name"] == "MFA_AT_REST_KEY":
                variable["valueFrom"]["secretKeyRef"]["name"] = "no-such-secret"


@pytest.mark.parametrize(("change", "expected"), [
    (drop_jwt, "identity-federation-service: identity-federation-service needs OPENFOUNDRY_JWT_SECRET or JWT_SECRET"),
    (swap_sql_gateway_ports, "sql-bi-gateway-service: HEALTHZ_PORT is '50133': sql-bi-gateway-service must bind its "
                             "http port 50134"),
    (point_the_key_elsewhere, "identity-federation-service: MFA_AT_REST_KEY reads key mfa-at-rest-key of Secret "
                              "openfoundry-control/no-such-secret, which nothing creates"),
])
def test_a_deliberate_breakage_fails_the_contract(prod_resources: list[Registered], catalog: Catalog,
                                                  change: Any, expected: str) -> None:
    found = problems_of(prod_resources, catalog, change)
    assert any(problem.startswith(expected) for problem in found), found


# What the platform sets that no binary reads, each for a reason of the platform's own.
PLATFORM_OWN = {
    "OPENFOUNDRY_SERVICE": "which catalog entry a pod belongs to, for people and logs",
    "OPENFOUNDRY_PLANE": "which plane, likewise",
    "OPENFOUNDRY_ENVIRONMENT": "which environment, likewise",
}
# pgx reads them too, as libpq's defaults; DATABASE_URL is composed from them
DATABASE_PIECES = {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT"}


def read_by(binary: Binary) -> set[str]:
    """The names the binary reads, by its contract."""
    read = {name for variable in binary.env for name in variable.names}
    read |= {listener.env for listener in binary.listens if listener.env}
    read |= {binary.database.env} if binary.database else set()
    if binary.kafka:
        read |= {n for n in (binary.kafka.bootstrap_env, binary.kafka.username_env, binary.kafka.password_env) if n}
    return read | ({binary.nats.url_env} if binary.nats else set())


def pieces_for(binary: Binary) -> set[str]:
    """What the variables the binary reads are composed from, `$(NAME)`: its database's, NATS's and Valkey's URLs."""
    pieces: set[str] = set()
    if binary.database:
        pieces |= DATABASE_PIECES | {"DATABASE_URL"}
    if binary.nats:
        pieces |= {"NATS_USER", "NATS_PASSWORD", "NATS_URL"}
    if binary.platform and "OF_REDIS_URL" in binary.platform.sets:
        pieces |= {"REDIS_PASSWORD", "REDIS_URL"}
    return pieces


def test_the_platform_hands_each_binary_nothing_it_does_not_read_but_its_own(built: BuiltStack, catalog: Catalog) -> None:
    """Per binary: every variable on its container is one its contract says it reads, a piece of one it reads under
    another name, or the platform's own (PLATFORM_OWN, each with why)."""
    unread: dict[str, set[str]] = {}
    for run in running(catalog, load_contracts()):
        _, _, container = container_of(built.resources, run.service.name)
        names = {e["name"] for e in container.get("env") or []}
        assert set(PLATFORM_OWN) <= names, run.service.name
        extra = names - read_by(run.binary) - pieces_for(run.binary) - set(PLATFORM_OWN)
        if extra:
            unread[run.service.name] = extra
    assert unread == {}


def test_what_a_contract_says_the_platform_leaves_unset_is_unset(built: BuiltStack, catalog: Catalog) -> None:
    """A `leavesUnset` entry is a statement about the render: the variable is absent from the binary's container."""
    stale = []
    for run in running(catalog, load_contracts()):
        _, _, container = container_of(built.resources, run.service.name)
        names = {e["name"] for e in container.get("env") or []}
        stale += [(run.service.name, left.env) for left in run.binary.platform.leaves_unset if left.env in names]
    assert stale == []
