"""The ingestion plane under mocks: the Kafka cluster, node pools, topics, and a principal per data-bus service."""

from __future__ import annotations

import json
from typing import Any

import yaml

from components.ingestion.clients import CLUSTER
from foundry.catalog import CATALOG_PATH, Catalog
from foundry.labels import namespace_for
from foundry.topics import load_registry
from foundry.upstream import load_contracts
from tests.mocks import SECRET_SIGNATURE, Registered, by_metadata_name, by_namespaced_name, of_type, revealed

KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
WRITER = "iceberg-writer-analytics-events"
SECRET = "kubernetes:core/v1:Secret"


STEWARD = "anonymous-acl-steward"
RELAY = "outbox-relay"
# the outbox relay's workers, by the labels Strimzi gives them (in the brokers' namespace)
RELAY_PEER = {"podSelector": {"matchLabels": {"strimzi.io/cluster": RELAY, "strimzi.io/kind": "KafkaConnect"}}}


def bus_services(catalog: Catalog, security: str) -> dict[str, str]:
    """The data-bus services by the Kafka security their binary's client speaks (its contract), with their namespaces.
    A service the registry puts on the bus whose binary has no Kafka client yet (its records leave through the outbox,
    ADR-0022) keeps a SCRAM principal: `security` is then "none"."""
    contracts = load_contracts()

    def spoken(binary: str) -> str:
        kafka = contracts.of(binary).kafka
        return kafka.security if kafka else "none"
    return {s.name: namespace_for(s.plane) for s in catalog.services if s.uses_kafka and spoken(str(s.binary)) == security}


def principals(catalog: Catalog) -> dict[str, str]:
    """The services with a SCRAM principal: all on the data bus but the PLAINTEXT-only."""
    return bus_services(catalog, "scram-sha-512") | bus_services(catalog, "none")


def scram_clients(catalog: Catalog) -> dict[str, str]:
    """Every SCRAM principal's owner: the SCRAM-capable services and the Iceberg writer (tests/unit/test_writers.py)."""
    return principals(catalog) | {WRITER: "openfoundry-storage"}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def kafka_spec(resources: list[Registered]) -> dict[str, Any]:
    (kafka,) = by_metadata_name(resources, KAFKA).values()
    spec: dict[str, Any] = kafka.inputs["spec"]
    return spec


def test_prod_kafka_is_rack_aware_authenticated_and_durable(prod_resources: list[Registered]) -> None:
    kafka = kafka_spec(prod_resources)["kafka"]
    assert kafka["rack"] == {"type": "topology-label", "topologyKey": "topology.kubernetes.io/zone"}
    tls, plain = kafka["listeners"]
    assert tls["authentication"] == {"type": "scram-sha-512"} and tls["tls"] and tls["port"] == 9093
    # the one exception, for the binaries that speak only PLAINTEXT: named on the resource, open only to their pods
    assert (plain["name"], plain["port"], plain["tls"], "authentication" in plain) == ("plain", 9092, False, False)
    (resource,) = by_metadata_name(prod_resources, KAFKA).values()
    assert resource.inputs["metadata"]["annotations"]["policy.openfoundry.dev/unauthenticated-listeners"] == "plain"
    assert kafka["authorization"] == {"type": "simple"}
    config = kafka["config"]
    assert config["auto.create.topics.enable"] is False and config["unclean.leader.election.enable"] is False
    assert config["default.replication.factor"] == config["offsets.topic.replication.factor"] == 3
    assert config["transaction.state.log.replication.factor"] == 3
    assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == 2
    assert config["replica.selector.class"].endswith("RackAwareReplicaSelector")


def test_prod_node_pools_are_three_each_and_spread_over_zones(prod_resources: list[Registered]) -> None:
    pools = by_metadata_name(prod_resources, NODE_POOL)
    assert {name: (p.inputs["spec"]["roles"], p.inputs["spec"]["replicas"]) for name, p in pools.items()} == {
        "controllers": (["controller"], 3), "brokers": (["broker"], 3)}
    for name, pool in pools.items():
        pods = {"matchLabels": {"strimzi.io/cluster": CLUSTER, "strimzi.io/pool-name": name}}
        # a quorum and its replicas: one member per zone and per node, or none scheduled (never two in one place)
        assert pool.inputs["spec"]["template"]["pod"]["topologySpreadConstraints"] == [
            {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Honor",
             "labelSelector": pods} for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]
        assert pool.inputs["spec"]["storage"]["volumes"][0]["class"] == "ceph-fast-rbd"


def test_dev_runs_one_dual_role_node(dev_resources: list[Registered]) -> None:
    (pool,) = by_metadata_name(dev_resources, NODE_POOL).values()
    assert pool.inputs["spec"]["roles"] == ["controller", "broker"] and pool.inputs["spec"]["replicas"] == 1
    # spread softly: a single node must still schedule it
    pods = {"matchLabels": {"strimzi.io/cluster": CLUSTER, "strimzi.io/pool-name": pool.inputs["metadata"]["name"]}}
    assert pool.inputs["spec"]["template"]["pod"]["topologySpreadConstraints"] == [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": pods}
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]


def test_a_topic_per_registry_entry_with_three_replicas_in_prod(prod_resources: list[Registered]) -> None:
    topics = by_metadata_name(prod_resources, TOPIC)
    registry = load_registry().topics
    relays = {name for name, t in topics.items() if t.inputs["metadata"]["labels"]["openfoundry.io/topic-owner"] == RELAY}
    assert set(topics) - relays == {t.name.lstrip("_") for t in registry if not t.family}   # relays: test_outbox_relay.py
    assert {t.inputs["spec"]["replicas"] for t in topics.values()} == {3}
    assert topics["dataset.changes"].inputs["spec"]["config"]["cleanup.policy"] == "compact"
    assert topics["audit.events.v1"].inputs["spec"]["config"]["retention.ms"] == 3650 * 24 * 3_600_000
    assert topics["audit.events.v1"].inputs["spec"]["partitions"] == 24
    # a Kubernetes name cannot start with `_`: the dead-letter topic keeps its name in spec.topicName
    assert topics["dlq.saga.aborted.v1"].inputs["spec"]["topicName"] == "__dlq.saga.aborted.v1"
    assert "topicName" not in topics["ai.events.v1"].inputs["spec"]
    assert not any(name.startswith("openfoundry.streams") for name in topics)   # created at run time


def group_names(service: str) -> set[str]:
    """Read from the catalog file here: the service's name, its OpenFoundry service's, and the ones it lists."""
    (entry,) = [e for e in yaml.safe_load(CATALOG_PATH.read_text())["services"] if e["name"] == service]
    upstream = entry["upstream"]["services"] if entry["upstream"]["relation"] in ("same", "renamed") else []
    return {service, *upstream, *entry.get("kafkaGroups", [])}


def expected_acls(service: str) -> set[tuple[str, str, str, frozenset[str]]]:
    """Derived from the registry file here, independently of foundry.topics.grants_for."""
    acls: set[tuple[str, str, str, frozenset[str]]] = set()
    for topic in load_registry().topics:
        pattern = "prefix" if topic.family else "literal"
        if topic.owner == service:
            write = {"Write", "Describe", "Create"} if topic.family else {"Write", "Describe"}
            acls.add(("topic", topic.name, pattern, frozenset(write)))
        if service in topic.producers:
            acls.add(("topic", topic.name, pattern, frozenset({"Write", "Describe"})))
        if service in topic.consumers:
            acls.add(("topic", topic.name, pattern, frozenset({"Read", "Describe"})))
            for group in group_names(service):
                acls.add(("group", group, "literal", frozenset({"Read"})))
                acls.add(("group", f"{group}.", "prefix", frozenset({"Read"})))
    return acls


def acl_set(spec: dict[str, Any]) -> set[tuple[str, str, str, frozenset[str]]]:
    return {(a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], frozenset(a["operations"]))
            for a in spec["authorization"]["acls"]}


def test_each_principal_holds_exactly_what_the_registry_grants(prod_resources: list[Registered],
                                                               catalog: Catalog) -> None:
    users = by_metadata_name(prod_resources, USER)
    writer = users.pop(WRITER)   # a platform client (tests/unit/test_writers.py)
    steward = users.pop(STEWARD)
    users.pop(RELAY)             # the outbox relay's (tests/unit/test_outbox_relay.py)
    assert writer.inputs["spec"]["authentication"]["type"] == "scram-sha-512"
    assert set(users) == set(principals(catalog))
    for name, user in users.items():
        spec = user.inputs["spec"]
        assert spec["authentication"]["type"] == "scram-sha-512"
        assert acl_set(spec) == expected_acls(name), name
        assert all(a["resource"]["name"] not in ("", "*") for a in spec["authorization"]["acls"])
    # the steward may alter ACLs and nothing else: no topic, no group; its exception is written on it
    assert steward.inputs["spec"]["authorization"]["acls"] == [
        {"resource": {"type": "cluster"}, "operations": ["Alter", "Describe"]}]
    assert steward.inputs["metadata"]["annotations"]["policy.openfoundry.dev/exempt"] == "kafka-no-wildcard-acls"


def test_anonymous_holds_the_union_of_what_the_plaintext_services_are_granted(prod_resources: list[Registered],
                                                                              catalog: Catalog) -> None:
    """The wanted bindings the steward's Job makes ANONYMOUS hold, as kafka-acls.sh spells them, are the union of the
    registry's grants to the PLAINTEXT-only services: each of them can do its work, none can do more than all of them."""
    maps = by_namespaced_name(prod_resources, "kubernetes:core/v1:ConfigMap")
    wanted = set(maps[("openfoundry-ingestion", STEWARD)].inputs["data"]["wanted"].splitlines())
    expected = {f"{kind} {'prefixed' if pattern == 'prefix' else 'literal'} {name} {operation}"
                for service in bus_services(catalog, "plaintext")
                for kind, name, pattern, operations in expected_acls(service) for operation in operations}
    assert expected and wanted == expected
    # the Job's few kafka-acls.sh calls grant exactly those: each call every operation it names on every resource
    grouped = maps[("openfoundry-ingestion", STEWARD)].inputs["data"]["grouped"].splitlines()
    granted = [f"{kind} {pattern} {name} {operation}" for kind, pattern, operations, *names in map(str.split, grouped)
               for name in names for operation in operations.split(",")]
    assert sorted(granted) == sorted(wanted) and len(grouped) < len(wanted) / 10


def test_no_two_services_share_credentials(prod_resources: list[Registered], catalog: Catalog) -> None:
    users = by_metadata_name(prod_resources, USER)
    refs = [u.inputs["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]["name"] for u in users.values()]
    assert len(set(refs)) == len(refs) == len(users)
    secrets = set(by_namespaced_name(prod_resources, SECRET))
    for service, namespace in principals(catalog).items():
        assert (namespace, f"kafka-client-{service}") in secrets
        assert (namespace_for("ingestion"), f"kafka-user-{service}") in secrets
    for service, namespace in bus_services(catalog, "plaintext").items():   # no principal: nothing to hand out
        assert (namespace, f"kafka-client-{service}") not in secrets


def test_each_client_logs_in_with_the_password_its_principal_was_given(prod_resources: list[Registered],
                                                                     catalog: Catalog) -> None:
    """Strimzi sets a KafkaUser's SCRAM password from the Secret its spec names; the client's copy must be the same
    password, in the JAAS line Kafka's SCRAM login module reads (Kafka docs, "Authentication using SASL/SCRAM")."""
    users = by_metadata_name(prod_resources, USER)
    secrets = {key: r.inputs["stringData"] for key, r in by_namespaced_name(prod_resources, SECRET).items()}
    # no password Secret has its KafkaUser's name: the User Operator writes a Secret of that name and would take it over
    assert all(u.inputs["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]["name"] != name
               for name, u in users.items())
    steward = users.pop(STEWARD).inputs   # its Job reads the password from the Secret beside it
    assert steward["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"] == {
        "name": f"kafka-user-{STEWARD}", "key": "password"}
    assert SECRET_SIGNATURE in secrets[("openfoundry-ingestion", f"kafka-user-{STEWARD}")]
    relay = users.pop(RELAY).inputs   # the outbox relay's workers log in as the KafkaConnect names it
    assert relay["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"] == {
        "name": f"kafka-user-{RELAY}", "key": "password"}
    clients = scram_clients(catalog)
    assert set(users) == set(clients)
    passwords = set()
    for name, namespace in clients.items():
        reference = users[name].inputs["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": f"kafka-user-{name}", "key": "password"}, name
        principal, client = secrets[("openfoundry-ingestion", reference["name"])], secrets[(namespace, f"kafka-client-{name}")]
        assert SECRET_SIGNATURE in principal and SECRET_SIGNATURE in client, name   # Pulumi secrets, in state too
        password = revealed(principal)["password"]
        assert password, name
        assert revealed(client) == {
            "username": name, "password": password,
            "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                f'username="{name}" password="{password}";'}, name
        passwords.add(password)
    assert len(passwords) == len(clients)


def test_the_user_operator_manages_each_principal_after_its_password_exists(prod_resources: list[Registered]) -> None:
    """Strimzi's User Operator reconciles only KafkaUsers labelled with its cluster's name, manages their ACLs only
    with `simple` authorization (the cluster's own type), and reads the SCRAM password from the Secret when it creates
    the user: the Secret and the cluster come first."""
    (kafka,) = by_metadata_name(prod_resources, KAFKA).values()
    assert kafka.inputs["spec"]["kafka"]["authorization"]["type"] == "simple"
    for name, user in by_metadata_name(prod_resources, USER).items():
        assert user.inputs["metadata"]["labels"]["strimzi.io/cluster"] == kafka.inputs["metadata"]["name"], name
        assert user.inputs["spec"]["authorization"]["type"] == "simple", name
        secret = STEWARD if name == STEWARD else f"openfoundry-ingestion-kafka-user-{name}"
        assert {(SECRET, secret), (KAFKA, kafka.name)} <= user.depends_on, name


def test_a_bus_service_reads_only_its_own_credentials(prod_resources: list[Registered], catalog: Catalog) -> None:
    deployments = by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment")
    for service in bus_services(catalog, "scram-sha-512"):
        (container,) = deployments[service].inputs["spec"]["template"]["spec"]["containers"]
        secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
        assert {ref for ref in secret_refs if ref.startswith("kafka-")} == {f"kafka-client-{service}"}, service
    for service in bus_services(catalog, "none"):   # a binary with no Kafka client is handed no Kafka setting
        (container,) = deployments[service].inputs["spec"]["template"]["spec"]["containers"]
        assert not any(e["name"].startswith("KAFKA_") for e in container["env"]), service
    for service in bus_services(catalog, "plaintext"):   # the PLAINTEXT listener's address, no credential
        (container,) = deployments[service].inputs["spec"]["template"]["spec"]["containers"]
        kafka = [e for e in container["env"] if e["name"].startswith("KAFKA_")]
        assert [e.get("value", "").endswith(".svc:9092") for e in kafka] == [True], service
    (web,) = deployments["web"].inputs["spec"]["template"]["spec"]["containers"]
    assert not any(e["name"].startswith("KAFKA_") for e in web["env"])


def test_the_cluster_its_pools_and_topics_are_protected_in_prod_only(prod_resources: list[Registered],
                                                                    dev_resources: list[Registered]) -> None:
    for type_ in (KAFKA, NODE_POOL, TOPIC):
        assert all(r.protected for r in of_type(prod_resources, type_).values()), type_
        assert not any(r.protected for r in of_type(dev_resources, type_).values()), type_


def test_only_catalog_bus_services_may_reach_the_brokers(prod_resources: list[Registered], catalog: Catalog) -> None:
    listener, plain = kafka_spec(prod_resources)["kafka"]["listeners"]
    # the SCRAM clients, the one platform client (the Iceberg writer of seed 002's table), and the steward's Job
    clients = scram_clients(catalog) | {STEWARD: "openfoundry-ingestion"}
    # Strimzi copies these peers into the listener's NetworkPolicy: each a client's pods, in that client's namespace
    assert sorted(listener["networkPolicyPeers"], key=canonical) == sorted([
        *({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
           "podSelector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "openfoundry"}}}
          for name, namespace in clients.items()), RELAY_PEER], key=canonical)
    assert sorted(plain["networkPolicyPeers"], key=canonical) == sorted((
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "openfoundry"}}}
        for name, namespace in bus_services(catalog, "plaintext").items()), key=canonical)


def test_the_brokers_reach_each_other_and_the_api_server_only(prod_resources: list[Registered]) -> None:
    """The namespace denies all egress: the cluster's pods talk among themselves (replication, KRaft), and Strimzi's
    rack init container asks the API server for its node's zone label."""
    policies = of_type(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    egress = policies[f"{CLUSTER}-kafka-egress"].inputs
    cluster = {"matchLabels": {"strimzi.io/cluster": CLUSTER}}
    assert egress["metadata"]["namespace"] == "openfoundry-ingestion"
    assert egress["spec"] == {"podSelector": cluster, "policyTypes": ["Egress"], "egress": [
        {"to": [{"podSelector": cluster}]},
        {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]}


def test_anonymous_bindings_are_applied_before_the_services_and_repaired(prod_resources: list[Registered]) -> None:
    """A Job per change of the bindings, waiting out a new cluster's start and replaced by the next `up` if it
    failed; the same run every half hour, so a rebuilt cluster gets them back."""
    (job,) = [r for r in prod_resources if r.type == "kubernetes:batch/v1:Job"
              and r.inputs["metadata"]["name"].startswith("anonymous-acls-")]
    assert job.inputs["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}
    repair = by_metadata_name(prod_resources, "kubernetes:batch/v1:CronJob")["anonymous-acls-repair"].inputs["spec"]
    assert repair["schedule"] == "*/30 * * * *" and repair["concurrencyPolicy"] == "Forbid"
    template = repair["jobTemplate"]["spec"]["template"]
    assert template["metadata"] == job.inputs["spec"]["template"]["metadata"]
    (once,) = job.inputs["spec"]["template"]["spec"]["containers"]
    (again,) = template["spec"]["containers"]
    assert {e["name"]: e.get("value") for e in once["env"]}["WAIT_TRIES"] == "80"
    assert once["command"] == again["command"] == ["sh", "/acls/reconcile.sh"]
