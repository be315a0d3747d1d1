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
from tests.expectations import BINARY_JETSTREAM_CALLS, HELD_STREAMS, JETSTREAM_ADMIN, SELF_CONSUMED
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


def home_of(subject: str) -> str | None:
    """The account the stream keeping `subject` lives in (tests/expectations.py HELD_STREAMS), None for a core one."""
    stream = load_streams().stream_of(subject)
    return None if stream is None else HELD_STREAMS.get(stream.name, "STREAMS")


def binary_reads(service: Any) -> set[str]:
    """The subjects the service's binary subscribes to, by its contract (none at the pin)."""
    nats = load_contracts().of(service.binary).nats if service.binary else None
    return set(nats.subscribes) if nats else set()


def kept_by_platform(service: Any) -> set[str]:
    """The streams a service reads through a consumer the platform keeps for it: the subjects its binary reads (a
    consumer nobody reads would fill and alert for ever), not through its binary's own consumers."""
    streams = load_streams()
    return {stream.name for s in service.nats.subscribes if (stream := streams.stream_of(s))
            and s in binary_reads(service) and (service.name, stream.name) not in SELF_CONSUMED}


def test_the_registered_nats_conf_has_an_account_per_control_service_with_exactly_its_subjects(
        prod_resources: list[Registered], catalog: Catalog) -> None:
    accounts = registered_nats_conf(prod_resources)["accounts"]
    services = [s for s in catalog.services if s.uses_nats]
    assert len(services) >= 10
    assert set(accounts) == {"SYS", "STREAMS", *(s.name for s in services)}
    assert [u["user"] for u in accounts["STREAMS"]["users"]] == ["nack"] and accounts["STREAMS"]["jetstream"] == "enabled"
    holders = set(HELD_STREAMS.values())
    for service in services:
        users = {u["user"]: u for u in accounts[service.name]["users"]}
        # a holder's account has JetStream, within limits, and NACK's user for it; every other account neither
        assert set(users) == {service.name, *([f"nack-{service.name}"] if service.name in holders else [])}
        limits = accounts[service.name].get("jetstream")
        assert (limits is not None) == (service.name in holders)
        if limits is not None:
            held = [stream for stream, holder in HELD_STREAMS.items() if holder == service.name]
            assert (limits["max_memory"], limits["max_streams"]) == (0, len(held)) and limits["max_file"] > 0
        user = users[service.name]
        assert user["password"] == "$NATS_PW_" + service.name.upper().replace("-", "_")
        publish, subscribe = user["permissions"]["publish"], user["permissions"]["subscribe"]
        assert {s for s in publish["allow"] if not s.startswith("$JS.")} == set(service.nats.publishes)
        kept = kept_by_platform(service)
        core = {s for s in service.nats.subscribes if load_streams().stream_of(s) is None}
        assert set(subscribe["allow"]) == core | {f"deliver.{k}.{service.name}" for k in kept} | {"_INBOX.>"}
        # JetStream: acks for its own durables, and exactly the calls its binary makes on what it holds
        api = {s for s in publish["allow"] if s.startswith("$JS.")}
        calls = BINARY_JETSTREAM_CALLS.get(service.name, set())
        assert api == {f"$JS.ACK.{k}.{service.name}.>" for k in kept} | calls, api
        assert set(publish["deny"]) | {d for d in JETSTREAM_ADMIN if any(c.startswith(d[:-1]) for c in calls)} \
            >= JETSTREAM_ADMIN
    nack = [u for a in accounts.values() for u in a["users"] if u["user"].startswith("nack")]
    assert all(u["permissions"] == {"publish": {"allow": ["$JS.API.>"]}, "subscribe": {"allow": ["_INBOX.>"]}}
               for u in nack)
    wildcard = [u["user"] for a in accounts.values() for u in a["users"]
                for s in u.get("permissions", {}).get("publish", {}).get("allow", [])
                if s in (">", "*") or (s.startswith("$JS.API.STREAM.") and not u["user"].startswith("nack")
                                       and s not in BINARY_JETSTREAM_CALLS.get(u["user"], set()))]
    assert wildcard == []


def imports_of(account: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(i[kind]["account"], i[kind]["subject"]) for i in account.get("imports", []) if kind in i}


def exports_of(account: dict[str, Any], kind: str) -> dict[str, list[str]]:
    return {e[kind]: e["accounts"] for e in account.get("exports", []) if kind in e}


def exports_to(account: dict[str, Any], kind: str, subject: str) -> list[str]:
    """Every account an export of `subject` names (one export per importer)."""
    return sorted(a for e in account.get("exports", []) if e.get(kind) == subject for a in e["accounts"])


def test_every_flow_of_the_catalog_crosses_accounts_by_a_named_export_and_nothing_else_does(
        prod_resources: list[Registered], catalog: Catalog) -> None:
    accounts = registered_nats_conf(prod_resources)["accounts"]
    services = [s for s in catalog.services if s.uses_nats]
    expected_core: dict[str, set[tuple[str, str]]] = {s.name: set() for s in services}
    expected_services: dict[str, set[tuple[str, str]]] = {s.name: set() for s in services}
    for publisher in services:
        for subject in publisher.nats.publishes:
            readers = sorted(s.name for s in services if subject in s.nats.subscribes)
            home = home_of(subject)
            if home is None:
                assert exports_of(accounts[publisher.name], "stream")[subject] == readers
                for reader in readers:
                    expected_core[reader].add((publisher.name, subject))
            elif home != publisher.name:   # into the stream, acknowledged: a service of its account for this publisher
                assert publisher.name in exports_to(accounts[home], "service", subject)
                expected_services[publisher.name].add((home, subject))
    for service in services:
        deliveries, acks = set(), set()
        for stream in kept_by_platform(service):
            home = HELD_STREAMS.get(stream, "STREAMS")
            if home != service.name:
                deliveries.add((home, f"deliver.{stream}.{service.name}"))
                acks.add((home, f"$JS.ACK.{stream}.{service.name}.>"))
        assert imports_of(accounts[service.name], "stream") == expected_core[service.name] | deliveries
        assert imports_of(accounts[service.name], "service") == expected_services[service.name] | acks
        for home, subject in deliveries:
            assert exports_to(accounts[home], "stream", subject) == [service.name]
        for home, subject in acks:
            assert exports_to(accounts[home], "service", subject) == [service.name]
    public = [e for a in accounts.values() for e in a.get("exports", []) if not e.get("accounts")]
    assert public == []


def test_only_control_bus_services_and_nack_may_reach_nats(prod_resources: list[Registered], catalog: Catalog) -> None:
    spec = policies(prod_resources)[("openfoundry-control", "nats")]
    client = [peer for rule, peer in peers(spec["ingress"]) if 4222 in ports(rule)]
    services = {pod_labels(p)["app.kubernetes.io/name"] for p in client if "app.kubernetes.io/name" in pod_labels(p)}
    # and the reaper of notification-alerting's left-behind per-socket consumers (components/control/reaper.py)
    expected = {s.name for s in catalog.services if s.uses_nats} | {"session-consumer-reaper-of-notifications"}
    assert services == expected
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
    admitted = {name: {(peer_namespace(p), pod_labels(p).get("app.kubernetes.io/name", pod_labels(p).get("strimzi.io/cluster")))
                       for p in listener["networkPolicyPeers"]} for name, listener in (("tls", tls), ("plain", plain))}
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
        # zones hard, honouring taints (a lost zone's cordoned nodes stop counting: docs/reports.md); nodes soft;
        # both counted within the pod's own ReplicaSet, so a rolling update cannot leave the new set skewed
        revision = ["pod-template-hash"]
        assert spreads == {
            "topology.kubernetes.io/zone": {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                            "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Honor",
                                            "labelSelector": pods, "matchLabelKeys": revision},
            "kubernetes.io/hostname": {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                       "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": pods,
                                       "matchLabelKeys": revision}}, service.name


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


def test_a_subscriber_whose_binary_reads_gets_a_consumer_pushed_across_from_the_streams_account(
        catalog: Catalog) -> None:
    """No binary at the pin reads a stream it does not hold; were audit-service's to read of.audit.gateway, the
    platform would keep it a consumer in the gateway's account (OF_AUDIT's), its deliveries and acks crossing by
    exports named for it alone."""
    from components.control.accounts import account_graph, user_permissions
    from foundry.streams import ControlBus, binary_reads, durable_consumers

    streams, contracts = load_streams(), load_contracts()
    held = ControlBus.of(streams, catalog, contracts).held
    reads = {**binary_reads(catalog, contracts), "audit-service": {"of.audit.gateway"}}
    bus = ControlBus(streams, held, durable_consumers(streams, catalog, held, reads))
    (consumer,) = bus.consumers
    assert (consumer.service, consumer.stream, consumer.home, consumer.subjects) == (
        "audit-service", "OF_AUDIT", "gateway", ("of.audit.gateway",))
    accounts = {name: a.conf() for name, a in account_graph(catalog, bus, 1 << 30).items()}
    assert exports_to(accounts["gateway"], "stream", "deliver.OF_AUDIT.audit-service") == ["audit-service"]
    assert exports_to(accounts["gateway"], "service", "$JS.ACK.OF_AUDIT.audit-service.>") == ["audit-service"]
    assert imports_of(accounts["audit-service"], "stream") == {("gateway", "deliver.OF_AUDIT.audit-service")}
    assert imports_of(accounts["audit-service"], "service") == {("gateway", "$JS.ACK.OF_AUDIT.audit-service.>")}
    permissions = user_permissions(catalog.by_name("audit-service"), bus)
    assert "deliver.OF_AUDIT.audit-service" in permissions["subscribe"]["allow"]
    assert "$JS.ACK.OF_AUDIT.audit-service.>" in permissions["publish"]["allow"]
    assert accounts["gateway"]["jetstream"]["max_consumers"] == 1   # the platform's; its binary makes none
