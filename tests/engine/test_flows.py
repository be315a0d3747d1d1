"""Every flow the platform needs is allowed and every forbidden one denied, by the rendered NetworkPolicies as
cyclonus evaluates them; and the check fails when a policy is broken the way a careless edit would break it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from foundry.catalog import load_catalog
from foundry.config import load_stack_config
from ops import flows
from ops.checks import netpol
from ops.checks.flowmap import flows_of
from ops.checks.runtime import Runtime
from ops.engine.stacks import read_stack_values
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine


def runtime_of(stack: str) -> Runtime:
    return Runtime.of(load_stack_config(read_stack_values(stack), stack), rendered(stack))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_make_flows_passes(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    rendered(stack)
    assert flows.main([stack]) == 0
    out = capsys.readouterr().out
    assert " 0 wrong;" in out
    for kind in ("caller", "database", "kafka", "nats", "iceberg", "metrics", "dns", "another's database"):
        assert f"\n{kind}" in out


def verdicts_with(runtime: Runtime, change: Any) -> list[netpol.Verdict]:
    broken = Runtime(runtime.config, runtime.resources, runtime.pods, copy.deepcopy(runtime.policies))
    change(broken.policies)
    return netpol.evaluate(broken, flows_of(broken, load_catalog()))


def named(policies: list[dict[str, Any]], namespace: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in policies if p["metadata"]["namespace"] == namespace and p["metadata"]["name"] == name]
    return found


def wrong(verdicts: list[netpol.Verdict]) -> list[str]:
    return [f"{v.flow.kind}: {v.flow.describe()}" for v in verdicts if not v.ok]


def test_dropping_the_dns_exception_denies_every_lookup_of_the_namespace() -> None:
    runtime = runtime_of("prod")
    failures = wrong(verdicts_with(runtime, lambda ps: ps.remove(named(ps, "openfoundry-edge", "allow-dns"))))
    assert failures and all(f.startswith("dns: ") and "openfoundry-edge/" in f for f in failures)


def test_a_service_let_into_another_services_database_is_caught() -> None:
    def open_up(policies: list[dict[str, Any]]) -> None:
        egress = named(policies, "openfoundry-edge", "gateway")["spec"]["egress"]
        egress.append({"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "pg-identity-federation-service"}},
                               "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openfoundry-control"}}}],
                       "ports": [{"port": 5432, "protocol": "TCP"}]})
        access = named(policies, "openfoundry-control", "pg-identity-federation-service-access")["spec"]["ingress"]
        access[0]["from"].append({"namespaceSelector": {}})   # the database's own policy opened to every namespace
    failures = wrong(verdicts_with(runtime_of("prod"), open_up))
    assert any(f.startswith("another's database: Deployment openfoundry-edge/gateway → Cluster openfoundry-control/"
                            "pg-identity-federation-service") for f in failures), failures[:5]
    assert any(f.startswith("edge into relational state: ") for f in failures)


def test_a_caller_left_out_of_its_callees_policy_is_caught() -> None:
    def forget_callers(policies: list[dict[str, Any]]) -> None:
        named(policies, "openfoundry-control", "identity-federation-service")["spec"]["ingress"] = []
    failures = wrong(verdicts_with(runtime_of("dev"), forget_callers))
    identity = "Deployment openfoundry-control/identity-federation-service"
    assert f"caller: Deployment openfoundry-edge/gateway → {identity} :8080/TCP" in failures
    assert all(f.endswith((f"{identity} :8080/TCP", f"{identity} :9090/TCP")) for f in failures), failures


def test_the_catalog_closed_to_its_maintenance_job_is_caught() -> None:
    def close(policies: list[dict[str, Any]]) -> None:
        rule = named(policies, "openfoundry-storage", "lakekeeper")["spec"]["ingress"][0]
        rule["from"] = [p for p in rule["from"] if p.get("podSelector", {}).get("matchLabels") != {"app": "iceberg-maintenance"}]
    failures = wrong(verdicts_with(runtime_of("prod"), close))
    assert failures and all("iceberg-maintenance" in f and "lakekeeper :8181" in f for f in failures)
