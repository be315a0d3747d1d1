"""The service catalog: every service of the seed topology, and the contracts the model enforces."""

from __future__ import annotations

import pytest
import yaml

from foundry.catalog import Catalog, CatalogError, parse_catalog

SEED_SERVICES = {
    # gateway and the web app
    "gateway", "web",
    # CONTROL PLANE box
    "identity-federation-service", "auth-service", "tenancy-organizations-service", "ontology-definition-service",
    "ontology-actions-service", "ontology-security-service", "workflow-automation-service", "pipeline-schedule-service",
    "notification-alerting-service", "audit-service",
    # INGESTION PLANE box
    "data-connector", "connector-management-service", "ingestion-replication-service", "streaming-service",
    "ontology-funnel-service",
    # COMPUTE PLANE box
    "sql-bi-gateway-service", "sql-warehousing-service", "ml-service", "ai-service", "ontology-functions-service",
    "ontology-query-service", "notebook-runtime-service", "report-service", "geospatial-service",
    "pipeline-build-service", "pipeline-authoring-service", "lineage-service",
    # other bounded services
    "app-builder-service", "marketplace-service", "code-repo-service", "fusion-service", "document-reporting-service",
    "nexus-service",
    # Service Families table
    "dataset-service", "pipeline-service", "object-database-service",
    # storage plane: ADR-0041 catalog and the lakehouse sinks
    "iceberg-catalog-service", "audit-sink", "ai-sink", "dataset-versioning-service", "event-streaming-service",
    "pipeline-runner",
}


# Live OpenFoundry services the seed's "…" leaves out (openfoundry-upstream.md §1.3: a Helm Deployment each).
UPSTREAM_ADDITIONS = {
    "action-log-sink", "ai-evaluation-service", "authorization-policy-service", "cipher-service",
    "compute-module-service", "function-runtime-service", "global-branch-service", "knowledge-index-service",
    "llm-catalog-service", "media-sets-service", "media-transform-runtime-service", "model-deployment-service",
    "network-boundary-service", "ontology-indexer", "reindex-coordinator-service", "retrieval-context-service",
    "sdk-generation-service", "solution-design-service", "telemetry-governance-service",
}


def test_every_seed_service_is_in_the_catalog_under_its_exact_name(catalog: Catalog) -> None:
    assert {s.name for s in catalog.services} == SEED_SERVICES | UPSTREAM_ADDITIONS


def test_seed_ports(catalog: Catalog) -> None:
    assert catalog.by_name("sql-bi-gateway-service").ports.all()["flight-sql"] == 50133
    assert catalog.by_name("sql-warehousing-service").ports.all()["flight-sql"] == 50123


def test_the_added_services_stand_for_themselves_upstream(catalog: Catalog) -> None:
    for name in UPSTREAM_ADDITIONS:
        upstream = catalog.by_name(name).upstream
        assert (upstream.relation, upstream.services) == ("same", [name])


def test_pgvector_is_asked_for_only_with_a_database(catalog: Catalog) -> None:
    assert all(s.database for s in catalog.services if s.vector)
    # object-database keeps its objects in Cassandra at the pin (ADR-0020): no Postgres, so no pgvector for it
    assert not catalog.by_name("object-database-service").database


def entry(**fields: object) -> str:
    base = {"name": "x-service", "upstream": {"relation": "same", "services": ["x-service"]}, "plane": "control",
            "family": "data-plane", "ports": {"http": 8080}}
    base.update(fields)
    return yaml.safe_dump({"services": [base]})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"buses": ["data"], "nats": {"publishes": ["a.b"]}}, "control bus is not in its buses"),
        ({"vector": True}, "vector, pooled and sqlReadable need database"),
        ({"callers": ["nobody-service"]}, "caller nobody-service is not a catalog service"),
        ({"plane": "relational"}, "plane"),
        ({"ports": {"http": 80}}, "ports.http"),
        ({"ports": {"grpc": 9000}}, "an `http` port, or a `metrics` port"),
        ({"ports": {"metrics": 9090}, "callers": ["x-service"]}, "serves only metrics"),
        ({"upstream": {"relation": "none"}}, "relation none needs a why"),
        ({"upstream": {"relation": "renamed"}}, "services name the OpenFoundry service"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_broken_entry_is_refused_with_its_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(entry(**fields))


def test_a_bucket_has_one_owner() -> None:
    text = (
        "services:\n"
        "  - {name: a-service, upstream: {relation: same, services: [a-service]}, plane: storage, family: data-plane,\n"
        "     ports: {http: 8080}, buckets: [shared]}\n"
        "  - {name: b-service, upstream: {relation: same, services: [b-service]}, plane: storage, family: data-plane,\n"
        "     ports: {http: 8080}, buckets: [shared]}\n"
    )
    with pytest.raises(CatalogError, match="bucket shared is owned by both a-service and b-service"):
        parse_catalog(text)
