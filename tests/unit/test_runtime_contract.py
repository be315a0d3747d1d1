"""The runtime contract with OpenFoundry's own binaries, checked on what the program registers: the bus gate's pairs
granted, ports, probes and NetworkPolicies as the catalog says and as OpenFoundry's Helm values give them, and the
connection settings its binaries read."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml

from foundry.catalog import Catalog, Service
from foundry.labels import namespace_for
from foundry.streams import load_streams
from foundry.topics import load_registry
from tests.mocks import NETWORK_POLICY, POD_MONITOR, Registered, by_metadata_name, by_namespaced_name
from tests.natsconf import parse

GATE = Path(__file__).resolve().parents[2] / "data" / "upstream" / "bus-allowlist.yaml"
USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
ANONYMOUS = "ANONYMOUS"   # Kafka's name for every client of a listener without authentication
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

# OpenFoundry's Helm container ports (infra/helm/apps/of-*/values.yaml `services.<name>.ports` at d13cc848), for the
# services whose port is not the chart's usual `http: 8080`; an oracle apart from data/services.yaml.
HELM_PORTS = {
    "iceberg-catalog-service": {"http": 8197},
    "ontology-query-service": {"http": 50105},
    "function-runtime-service": {"http": 50190},
    "sql-bi-gateway-service": {"http": 50134, "flight-sql": 50133, "postgres-wire": 5433},
    # the chart's cdc-metadata 50122 is bound by nothing in the binary (data/upstream/binaries/ingestion-replication-
    # service.yaml): the catalog opens only what it serves
    "ingestion-replication-service": {"http": 8080},
    # the chart opens http only; the binary also serves gRPC on 50157 (its contract's `grpc` listener)
    "media-sets-service": {"http": 8080, "grpc": 50157},
    "audit-sink": {"metrics": 9090}, "ai-sink": {"metrics": 9090}, "action-log-sink": {"metrics": 9090},
    # the chart calls lineage's one listener metrics; it also serves /api/v1/lineage (its internal/server/server.go:80),
    # so the catalog names it http: callers open it
    "lineage-service": {"http": 9090}, "ontology-indexer": {"metrics": 9090},
    "reindex-coordinator-service": {"metrics": 9090},
}
# Deployed by OpenFoundry's Helm charts with `http: 8080` (the same script's output); web is of-web's 3000.
HELM_HTTP_8080 = {
    "edge-gateway-service", "identity-federation-service", "tenancy-organizations-service", "authorization-policy-service",
    "cipher-service", "network-boundary-service", "ontology-definition-service", "ontology-actions-service",
    "object-database-service", "workflow-automation-service", "notification-alerting-service", "audit-compliance-service",
    "application-composition-service", "federation-product-exchange-service", "connector-management-service",
    "dataset-versioning-service", "code-repository-review-service", "model-catalog-service", "agent-runtime-service",
    "notebook-runtime-service", "report-service", "ontology-exploratory-analysis-service", "pipeline-build-service",
    "entity-resolution-service", "global-branch-service", "media-transform-runtime-service",
    "compute-module-service", "sdk-generation-service", "solution-design-service", "telemetry-governance-service",
    "ai-evaluation-service", "knowledge-index-service", "llm-catalog-service", "model-deployment-service",
    "retrieval-context-service",
}


def gate_pairs() -> list[tuple[str, str]]:
    gate = yaml.safe_load(GATE.read_text())
    return [(service, topic) for service, entry in gate["services"].items() for topic in entry["topics"]]


def standing_for(catalog: Catalog, upstream: str) -> Service | None:
    """The catalog service that is this OpenFoundry service (same name or renamed), not a surface merged into it."""
    found = [s for s in catalog.services if s.upstream.relation in ("same", "renamed") and upstream in s.upstream.services]
    assert len(found) <= 1, found
    return found[0] if found else None


def principal_grants(resources: list[Registered]) -> dict[str, list[dict[str, Any]]]:
    """Each principal's ACLs: the KafkaUsers', and ANONYMOUS's (the steward Job's bindings, kafka-acls.sh's spelling)."""
    grants = {name: user.inputs["spec"]["authorization"]["acls"] for name, user in by_metadata_name(resources, USER).items()}
    wanted = by_metadata_name(resources, "kubernetes:core/v1:ConfigMap")["anonymous-acl-steward"].inputs["data"]["wanted"]
    grants[ANONYMOUS] = [{"resource": {"type": kind, "name": name, "patternType": "prefix" if pattern == "prefixed"
                                       else pattern}, "operations": [operation]}
                         for kind, pattern, name, operation in map(str.split, wanted.splitlines())]
    return grants


def plaintext_services(resources: list[Registered]) -> set[str]:
    """The services the unauthenticated listener admits: they act as ANONYMOUS."""
    (kafka,) = by_metadata_name(resources, "kubernetes:kafka.strimzi.io/v1:Kafka").values()
    return {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for listener in kafka.inputs["spec"]["kafka"]["listeners"] if "authentication" not in listener
            for peer in listener["networkPolicyPeers"]}


def kafka_grants(resources: list[Registered]) -> dict[str, list[dict[str, Any]]]:
    """What each service may do: its principal's ACLs, or ANONYMOUS's for a PLAINTEXT-only service."""
    grants = principal_grants(resources)
    return {**grants, **{service: grants[ANONYMOUS] for service in plaintext_services(resources)}}


def nats_users(resources: list[Registered]) -> dict[str, dict[str, Any]]:
    config = by_metadata_name(resources, "kubernetes:core/v1:ConfigMap")["nats-config"].inputs["data"]["nats.conf"]
    return {u["user"]: u for account in parse(config)["accounts"].values() for u in account["users"]}


def acl_reaches(acl: dict[str, Any], topic: str) -> bool:
    """A registered ACL touches the gate's topic (its `*` a run-time id): literal equal, or within a prefix ACL."""
    resource = acl["resource"]
    if resource["type"] != "topic" or not {"Read", "Write"} & set(acl["operations"]):
        return False
    if resource["patternType"] == "prefix":
        return fnmatch.fnmatchcase(resource["name"] + "x", topic) or topic.startswith(resource["name"])
    return bool(resource["name"] == topic)


def nats_reaches(service: Service, user: dict[str, Any] | None, consumers: dict[str, Any], subject: str) -> bool:
    """Published or subscribed as a core subject by the user's permissions, or pulled through its durable consumer."""
    if user is None:
        return False
    allowed = [*user["permissions"]["publish"]["allow"], *user["permissions"]["subscribe"]["allow"]]
    pulled = [s for c in consumers.values() if c.inputs["spec"]["durableName"] == service.name
              for s in c.inputs["spec"]["filterSubjects"]]
    return subject in allowed or subject in pulled


def test_every_bus_gate_pair_of_a_catalog_service_is_granted(prod_resources: list[Registered], catalog: Catalog) -> None:
    grants, users = kafka_grants(prod_resources), nats_users(prod_resources)
    consumers = by_metadata_name(prod_resources, "kubernetes:jetstream.nats.io/v1beta2:Consumer")
    pairs = gate_pairs()
    assert len(pairs) == 34
    refused, counted = [], 0
    for upstream, topic in pairs:
        service = standing_for(catalog, upstream)
        if service is None:
            continue
        counted += 1
        on_kafka = any(acl_reaches(acl, topic) for acl in grants.get(service.name, []))
        if not (on_kafka or nats_reaches(service, users.get(service.name), consumers, topic)):
            refused.append((upstream, service.name, topic))
    assert counted == len(pairs)   # every gated OpenFoundry service is in the catalog
    # the gate's own note: audit-compliance-service "does not actively publish or subscribe to them today" (no NATS
    # client at the pin), so no consumer is kept for it: one nobody reads would fill and alert for ever
    assert refused == [("audit-compliance-service", "audit-service", subject) for subject in (
        "of.audit.auth", "of.audit.datasets", "of.audit.gateway", "of.audit.notifications", "of.audit.workflows")]


def test_no_service_is_granted_a_topic_or_subject_outside_the_registries(prod_resources: list[Registered]) -> None:
    registry = load_registry().topics
    literal = {t.name for t in registry if not t.family}
    families = {t.name for t in registry if t.family}
    for service, acls in kafka_grants(prod_resources).items():
        if service == "outbox-relay":   # its own topics beside the registry's (tests/unit/test_outbox_relay.py)
            continue
        for acl in (a for a in acls if a["resource"]["type"] == "topic"):
            name, pattern = acl["resource"]["name"], acl["resource"]["patternType"]
            assert name in (families if pattern == "prefix" else literal), (service, acl)
    streams = load_streams()
    checked = 0
    for name, user in nats_users(prod_resources).items():
        if name in ("sys", "nack"):
            continue
        own_deliveries = {s for s in user["permissions"]["subscribe"]["allow"]
                          if s.startswith("deliver.") and s.endswith(f".{name}")}
        subjects = [s for s in (*user["permissions"]["publish"]["allow"], *user["permissions"]["subscribe"]["allow"])
                    if not s.startswith(("$JS.", "_INBOX.")) and s not in own_deliveries]
        checked += len(subjects)
        assert all(streams.stream_of(s) is not None or s in streams.core for s in subjects), (name, subjects)
    assert checked >= 15


def containers(resources: list[Registered]) -> dict[str, dict[str, Any]]:
    deployments = by_metadata_name(resources, DEPLOYMENT)
    return {name: d.inputs["spec"]["template"]["spec"]["containers"][0] for name, d in deployments.items()}


def test_ports_services_and_policies_follow_the_catalog(prod_resources: list[Registered],
                                                        deployed: list[Service]) -> None:
    """What each listener binds and what the probes ask is the binary's contract (tests/unit/test_binary_contracts.py);
    here, the ports the catalog gives each running service are the ones its pods, Service, policy and monitor name."""
    running = containers(prod_resources)
    services = by_metadata_name(prod_resources, "kubernetes:core/v1:Service")
    policies = {key: p.inputs["spec"] for key, p in by_namespaced_name(prod_resources, NETWORK_POLICY).items()}
    monitors = {key: m.inputs["spec"] for key, m in by_namespaced_name(prod_resources, POD_MONITOR).items()}
    for service in deployed:
        ports = service.ports.all()
        container = running[service.name]
        assert [(p["name"], p["containerPort"]) for p in container["ports"]] == list(ports.items()), service.name
        assert {(p["name"], p["port"]) for p in services[service.name].inputs["spec"]["ports"]} == set(ports.items())
        namespace = namespace_for(service.plane)
        ingress = policies[(namespace, service.name)]["ingress"]
        opened = {p["port"] for rule in ingress for p in rule["ports"]}
        metrics_name = "metrics" if "metrics" in ports else "http"
        assert opened == {p for n, p in ports.items() if n != "metrics"} | {ports[metrics_name]}, service.name
        if service.callers:
            assert {p["port"] for p in ingress[0]["ports"]} == {p for n, p in ports.items() if n != "metrics"}
        assert monitors[(namespace, service.name)]["podMetricsEndpoints"] == [{"port": metrics_name, "path": "/metrics"}]


def test_services_with_an_openfoundry_helm_port_use_it(catalog: Catalog) -> None:
    checked = 0
    for service in catalog.services:
        if service.upstream.relation not in ("same", "renamed"):
            continue
        (upstream,) = service.upstream.services
        if upstream in HELM_PORTS:
            assert service.ports.all() == HELM_PORTS[upstream], service.name
            checked += 1
        elif upstream in HELM_HTTP_8080:
            assert service.ports.all() == {"http": 8080}, service.name
            checked += 1
    same_or_renamed = [s for s in catalog.services if s.upstream.relation in ("same", "renamed")]
    assert checked == len(same_or_renamed) - 2   # all but web (of-web, below) and pipeline-runner (no Helm Deployment)
    assert catalog.by_name("web").ports.all() == {"http": 3000}   # of-web: Service 80 → targetPort 3000


def test_database_owners_get_database_url_composed_after_its_parts(prod_resources: list[Registered],
                                                                    deployed: list[Service]) -> None:
    running = containers(prod_resources)
    owners = [s for s in deployed if s.database]
    assert owners
    for service in owners:
        names = [e["name"] for e in running[service.name]["env"]]
        url = next(e["value"] for e in running[service.name]["env"] if e["name"] == "DATABASE_URL")
        assert url.startswith("postgres://$(PGUSER):$(PGPASSWORD)@$(PGHOST):$(PGPORT)/$(PGDATABASE)?sslmode=verify-full")
        assert all(names.index(part) < names.index("DATABASE_URL") for part in ("PGUSER", "PGPASSWORD", "PGHOST"))
    others = [s for s in deployed if not s.database]
    assert all("DATABASE_URL" not in {e["name"] for e in running[s.name]["env"]} for s in others)


def test_scram_clients_read_their_own_principal_as_openfoundry_reads_it(prod_resources: list[Registered],
                                                                        deployed: list[Service]) -> None:
    """libs/event-bus-data reads KAFKA_BOOTSTRAP_SERVERS, KAFKA_CLIENT_ID and KAFKA_SASL_USERNAME/_PASSWORD and speaks
    SCRAM-SHA-512 over TLS whenever a username is set (config.go): no mechanism or protocol variable exists."""
    running = containers(prod_resources)
    clients = [s for s in deployed if any(e["name"] == "KAFKA_SASL_USERNAME" for e in running[s.name]["env"])]
    assert {s.name for s in clients} == {"audit-sink", "ai-sink", "action-log-sink", "reindex-coordinator-service"}
    for service in clients:
        env = {e["name"]: e for e in running[service.name]["env"]}
        assert env["KAFKA_CLIENT_ID"]["value"] == service.name
        assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"].endswith(":9093")
        assert env["KAFKA_SASL_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == f"kafka-client-{service.name}"
        assert "KAFKA_SASL_MECHANISM" not in env and "KAFKA_SECURITY_PROTOCOL" not in env


# The consumer groups OpenFoundry's code pins (`ConsumerGroup` constants and defaults in services/*/internal at d13cc848)
PINNED_GROUPS = {
    "action-log-sink": ["action-log-sink"], "ai-sink": ["ai-sink"], "audit-sink": ["audit-sink"],
    "code-repository-review-service": ["code-repository-review-service.branch-events"],
    "lineage-service": ["lineage-service", "lineage-service.openlineage-graph"],
    "ontology-indexer": ["ontology-indexer"],
    # internal/topics/topics.go:25 declares "reindex-coordinator" too, but the binary subscribes with
    # runtime.ConsumerGroup (cmd/reindex-coordinator-service/main.go:154; internal/runtime/coordinator.go:41)
    "reindex-coordinator-service": ["reindex-coordinator-service"],
    "workflow-automation-service": ["workflow-automation-service", "automation-operations-service"],
}


def group_reaches(acl: dict[str, Any], group: str) -> bool:
    resource = acl["resource"]
    if resource["type"] != "group" or "Read" not in acl["operations"]:
        return False
    return bool(group.startswith(resource["name"]) if resource["patternType"] == "prefix" else resource["name"] == group)


def test_openfoundrys_consumer_groups_are_granted_to_their_service_alone(prod_resources: list[Registered],
                                                                          catalog: Catalog) -> None:
    """To the service's own principal; a PLAINTEXT-only service's to ANONYMOUS, which it shares with the other
    services of that listener (the residual risk docs/ingestion.md names)."""
    grants, plain = principal_grants(prod_resources), plaintext_services(prod_resources)
    for upstream, groups in PINNED_GROUPS.items():
        service = standing_for(catalog, upstream)
        assert service is not None, upstream
        for group in groups:
            holders = [name for name, acls in grants.items() if any(group_reaches(a, group) for a in acls)]
            assert holders == [ANONYMOUS if service.name in plain else service.name], (group, holders)
