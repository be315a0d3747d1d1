"""What the program registers for the behaviour that matters most: who may reach what, who may do what on the
buses, how clients connect, how pods spread. Every expectation comes from the catalog, the registries or the
seed, never from the program's own functions, and every loop is guarded against an empty input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from foundry.catalog import Catalog, Service
from foundry.labels import namespace_for
from foundry.streams import load_streams
from foundry.upstream import load_contracts
from tests.expectations import JETSTREAM_ADMIN
from tests.mocks import NETWORK_POLICY, Registered, by_namespaced_name, of_type
from tests.natsconf import parse

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def policies(resources: list[Registered]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {key: r.inputs["spec"] for key, r in by_namespaced_name(resources, NETWORK_POLICY).items()}
    assert len(found) > 50
    return found


def peers(rules: list[dict[str, Any]] | None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each (rule, peer) of a list of ingress (`from`) or egress (`to`) rules."""
    for rule in rules or []:
        for peer in rule.get("from") or rule.get("to") or []:
            yield rule, peer


def ports(rule: dict[str, Any]) -> set[int]:
    return {p["port"] for p in rule.get("ports") or []}


def pod_labels(peer: dict[str, Any]) -> dict[str, str]:
    return (peer.get("podSelector") or {}).get("matchLabels") or {}


def peer_namespace(peer: dict[str, Any]) -> str | None:
    return ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name")


def registered_nats_conf(resources: list[Registered]) -> dict[str, Any]:
    (config,) = [r for r in resources if r.type == "kubernetes:core/v1:ConfigMap"
                 and r.inputs["metadata"]["name"] == "nats-config"]
    return parse(config.inputs["data"]["nats.conf"])


# --- the control bus -------------------------------------------------------------------------------------------


def test_the_registered_nats_conf_has_an_account_per_control_service_with_exactly_its_subjects(
        prod_resources: list[Registered], catalog: Catalog) -> None:
    accounts = registered_nats_conf(prod_resources)["accounts"]
    services = [s for s in catalog.services if s.uses_nats]
    assert len(services) >= 10
    assert set(accounts) == {"SYS", "STREAMS", *(s.name for s in services)}
    assert [u["user"] for u in accounts["STREAMS"]["users"]] == ["nack"] and accounts["STREAMS"]["jetstream"] == "enabled"
    streams = load_streams()
    for service in services:
        (user,) = accounts[service.name]["users"]
        assert "jetstream" not in accounts[service.name]
        assert user["user"] == service.name
        assert user["password"] == "$NATS_PW_" + service.name.upper().replace("-", "_")
        publish, subscribe = user["permissions"]["publish"], user["permissions"]["subscribe"]
        assert {s for s in publish["allow"] if not s.startswith("$JS.")} == set(service.nats.publishes)
        core = {s for s in service.nats.subscribes if streams.stream_of(s) is None}
        kept = {stream.name for s in service.nats.subscribes if (stream := streams.stream_of(s))}
        assert set(subscribe["allow"]) == core | {f"deliver.{k}.{service.name}" for k in kept} | {"_INBOX.>"}
        assert set(publish["deny"]) >= JETSTREAM_ADMIN
        # no JetStream API call at all; acks for its own durables only
        api = [s for s in publish["allow"] if s.startswith("$JS.")]
        assert set(api) == {f"$JS.ACK.{k}.{service.name}.>" for k in kept}, api
    wildcard = [u["user"] for a in accounts.values() for u in a["users"]
                for s in u.get("permissions", {}).get("publish", {}).get("allow", [])
                if s in (">", "*") or s.startswith("$JS.API.STREAM.")]
    assert wildcard == []


def imports_of(account: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(i[kind]["account"], i[kind]["subject"]) for i in account.get("imports", []) if kind in i}


def exports_of(account: dict[str, Any], kind: str) -> dict[str, list[str]]:
    return {e[kind]: e["accounts"] for e in account.get("exports", []) if kind in e}


def test_every_flow_of_the_catalog_crosses_accounts_by_a_named_export_and_nothing_else_does(
        prod_resources: list[Registered], catalog: Catalog) -> None:
    accounts = registered_nats_conf(prod_resources)["accounts"]
    streams = load_streams()
    hub = accounts["STREAMS"]
    services = [s for s in catalog.services if s.uses_nats]
    expected_core: dict[str, set[tuple[str, str]]] = {s.name: set() for s in services}
    for publisher in services:
        for subject in publisher.nats.publishes:
            readers = sorted(s.name for s in services if subject in s.nats.subscribes)
            if streams.stream_of(subject) is None:
                assert exports_of(accounts[publisher.name], "stream")[subject] == readers
                for reader in readers:
                    expected_core[reader].add((publisher.name, subject))
            else:   # into the stream, acknowledged: a service of STREAMS for this publisher alone
                assert exports_of(hub, "service")[subject] == [publisher.name]
                assert ("STREAMS", subject) in imports_of(accounts[publisher.name], "service")
    for service in services:
        kept = {stream.name for s in service.nats.subscribes if (stream := streams.stream_of(s))}
        deliveries = {f"deliver.{stream}.{service.name}" for stream in kept}
        acks = {f"$JS.ACK.{stream}.{service.name}.>" for stream in kept}
        assert imports_of(accounts[service.name], "stream") == expected_core[service.name] | {
            ("STREAMS", d) for d in deliveries}
        assert imports_of(accounts[service.name], "service") - {("STREAMS", p) for p in service.nats.publishes} == {
            ("STREAMS", a) for a in acks}
        for subject in deliveries:
            assert exports_of(hub, "stream")[subject] == [service.name]
        for subject in acks:
            assert exports_of(hub, "service")[subject] == [service.name]
    public = [e for a in accounts.values() for e in a.get("exports", []) if not e.get("accounts")]
    assert public == []


def test_only_control_bus_services_and_nack_may_reach_nats(prod_resources: list[Registered], catalog: Catalog) -> None:
    spec = policies(prod_resources)[("openfoundry-control", "nats")]
    client = [peer for rule, peer in peers(spec["ingress"]) if 4222 in ports(rule)]
    services = {pod_labels(p)["app.kubernetes.io/name"] for p in client if "app.kubernetes.io/name" in pod_labels(p)}
    expected = {s.name for s in catalog.services if s.uses_nats}
    assert expected and services == expected
    # NACK, beside NATS in the control namespace, by its chart's pod label
    assert [pod_labels(p) for p in client if "app.kubernetes.io/name" not in pod_labels(p)] == [{"app": "nack"}]


# --- the data bus --------------------------------------------------------------------------------------------


def test_only_data_bus_services_may_reach_the_brokers_each_over_the_listener_it_speaks(
        prod_resources: list[Registered], deployed: list[Service]) -> None:
    """SCRAM over TLS on 9093 for the clients that can; the unauthenticated 9092 only for the binaries whose client
    speaks nothing else (data/upstream/binaries/, kafka.security), each admitted to its own listener alone."""
    (kafka,) = [r for r in prod_resources if r.type == "kubernetes:kafka.strimzi.io/v1:Kafka"]
    tls, plain = kafka.inputs["spec"]["kafka"]["listeners"]
    assert tls["tls"] is True and tls["authentication"]["type"] == "scram-sha-512"
    assert plain["tls"] is False and "authentication" not in plain
    admitted = {name: {(peer_namespace(p), pod_labels(p)["app.kubernetes.io/name"]) for p in listener["networkPolicyPeers"]}
                for name, listener in (("tls", tls), ("plain", plain))}
    contracts = load_contracts()
    deployments = of_type(prod_resources, DEPLOYMENT)
    for service in (s for s in deployed if s.uses_kafka):
        client = contracts.of(str(service.binary)).kafka
        where = (namespace_for(service.plane), service.name)
        env = container_env(deployments[service.name])
        if client is None:   # no Kafka client at the pin: a principal, no connection
            assert where in admitted["tls"] and not [n for n in env if n.startswith("KAFKA_")], service.name
        elif client.security == "plaintext":
            assert where in admitted["plain"] and where not in admitted["tls"], service.name
            assert env[client.bootstrap_env] == "openfoundry-kafka-bootstrap.openfoundry-ingestion.svc:9092"
        else:
            assert where in admitted["tls"] and where not in admitted["plain"], service.name
            assert env["KAFKA_BOOTSTRAP_SERVERS"] == "openfoundry-kafka-bootstrap.openfoundry-ingestion.svc:9093"
    # and the Iceberg writer of seed 002's table, a platform client (test_writers.py), and the ACL steward's Job
    assert {("openfoundry-storage", "iceberg-writer-analytics-events"),
            ("openfoundry-ingestion", "anonymous-acl-steward")} <= admitted["tls"]


# --- relational state ------------------------------------------------------------------------------------


def container_env(deployment: Registered) -> dict[str, Any]:
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def database_targets(spec: dict[str, Any]) -> set[str]:
    """The Postgres clusters (or their poolers) a policy's egress reaches."""
    found = set()
    for _, peer in peers(spec.get("egress")):
        labels = pod_labels(peer)
        if "cnpg.io/cluster" in labels:
            found.add(labels["cnpg.io/cluster"])
        if "cnpg.io/poolerName" in labels:
            found.add(labels["cnpg.io/poolerName"].removesuffix("-pooler-rw"))
    return found


def test_each_service_reaches_its_own_database_and_no_other(prod_resources: list[Registered], catalog: Catalog,
                                                           deployed: list[Service]) -> None:
    registered = policies(prod_resources)
    owners = [s for s in deployed if s.database]
    assert len(owners) >= 10
    for service in deployed:
        own = {f"pg-{service.name}"} if service.database else set()
        reader = {f"pg-{s.name}" for s in catalog.services if s.sql_readable} \
            if service.name == "sql-bi-gateway-service" else set()
        assert database_targets(registered[(namespace_for(service.plane), service.name)]) == own | reader, service.name
    for service in owners:
        # through its pooler when the catalog pools it (CNPG labels a Pooler's pods cnpg.io/poolerName), to 5432
        target = {"cnpg.io/poolerName": f"pg-{service.name}-pooler-rw"} if service.pooled \
            else {"cnpg.io/cluster": f"pg-{service.name}"}
        egress = registered[(namespace_for(service.plane), service.name)]["egress"]
        assert {"to": [{"podSelector": {"matchLabels": target}}], "ports": [{"port": 5432, "protocol": "TCP"}]} \
            in egress, service.name
    assert any(s.pooled for s in owners) and not all(s.pooled for s in owners)


def test_each_database_admits_its_owner_and_nobody_else_on_5432(prod_resources: list[Registered],
                                                                deployed: list[Service]) -> None:
    registered = policies(prod_resources)
    owners = [s for s in deployed if s.database]
    assert owners
    for service in owners:
        spec = registered[(namespace_for(service.plane), f"pg-{service.name}-access")]
        clients = {pod_labels(p).get("app.kubernetes.io/name") for rule, p in peers(spec["ingress"])
                   if 5432 in ports(rule) and "app.kubernetes.io/name" in pod_labels(p)}
        expected = {service.name} | ({"sql-bi-gateway-service"} if service.sql_readable else set())
        assert clients == expected, service.name
        env = container_env(of_type(prod_resources, DEPLOYMENT)[service.name])
        assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == "/etc/openfoundry/postgres/ca.crt"
        assert env["PGHOST"].split(".")[0] in (f"pg-{service.name}-rw", f"pg-{service.name}-pooler-rw")
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": f"pg-{service.name}-app", "key": "password"}}


# --- placement -------------------------------------------------------------------------------------------


def test_prod_spreads_every_service_over_zones_hard_and_nodes(prod_resources: list[Registered],
                                                              deployed: list[Service]) -> None:
    deployments = of_type(prod_resources, DEPLOYMENT)
    assert deployed
    for service in deployed:
        spec = deployments[service.name].inputs["spec"]
        spreads = {c["topologyKey"]: c for c in spec["template"]["spec"]["topologySpreadConstraints"]}
        pods = {"matchLabels": spec["selector"]["matchLabels"]}
        # zones hard, honouring taints (a lost zone's cordoned nodes stop counting: docs/reports.md); nodes soft
        assert spreads == {
            "topology.kubernetes.io/zone": {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                            "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Honor",
                                            "labelSelector": pods},
            "kubernetes.io/hostname": {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                       "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": pods}}, service.name


def test_dev_spreads_softly(dev_resources: list[Registered], deployed: list[Service]) -> None:
    """One node in dev: a hard spread would leave every second replica pending."""
    deployments = of_type(dev_resources, DEPLOYMENT)
    for service in deployed:
        constraints = deployments[service.name].inputs["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert [(c["topologyKey"], c["whenUnsatisfiable"], "nodeTaintsPolicy" in c) for c in constraints] == [
            ("topology.kubernetes.io/zone", "ScheduleAnyway", False), ("kubernetes.io/hostname", "ScheduleAnyway", False)]


@pytest.mark.parametrize("name", ["nats", "valkey", "vespa-configserver"])
def test_prod_quorum_members_never_share_a_node(prod_resources: list[Registered], name: str) -> None:
    (stateful_set,) = [r for r in prod_resources if r.type == "kubernetes:apps/v1:StatefulSet"
                       and r.inputs["metadata"]["name"] == name]
    spec = stateful_set.inputs["spec"]
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_prod_postgres_instances_are_one_per_node_and_spread_over_zones(prod_resources: list[Registered]) -> None:
    clusters = [r for r in prod_resources if r.type == "kubernetes:postgresql.cnpg.io/v1:Cluster"]
    assert len(clusters) >= 10
    for cluster in clusters:
        spec = cluster.inputs["spec"]
        assert spec["affinity"]["podAntiAffinityType"] == "required"
        pods = {"matchLabels": {"cnpg.io/cluster": cluster.inputs["metadata"]["name"]}}
        assert spec["topologySpreadConstraints"] == [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "nodeTaintsPolicy": "Honor", "labelSelector": pods}]
