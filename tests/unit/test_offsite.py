"""Backups leave the site: prod copies every backup bucket to another site's object store, or says, word for word,
which risk it accepts (foundry/config/backups.py, components/storage/offsite.py). The copy runs for real in the
engine tier (tests/engine/test_backups.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.storage.offsite import COPIER, NAME
from foundry.acknowledgements import SINGLE_SITE_RISK
from foundry.catalog import Catalog
from foundry.config import ConfigErrors, load_stack_config
from foundry.defaults import deep_merge
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, by_metadata_name, register_platform

PROD = read_stack_values("prod")
CLAIM = "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim"
EXEMPT = "policy.openfoundry.dev/exempt"


def problems_of(values: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_stack_config(values, "prod")
    return [str(p) for p in caught.value.problems]


def without_offsite(backups: dict[str, Any] | None = None) -> dict[str, Any]:
    values = deep_merge(PROD, {})
    values["storage"]["backups"] = backups or {}
    return values


def test_prod_without_an_offsite_copy_is_refused_naming_both_ways_out() -> None:
    (problem,) = problems_of(without_offsite())
    assert problem.startswith("openfoundry:storage.backups.offsite: found nothing")
    assert "another site's object store" in problem and SINGLE_SITE_RISK in problem


def test_prod_may_accept_the_risk_in_its_own_words_only() -> None:
    config = load_stack_config(without_offsite({"singleSiteAcknowledged": SINGLE_SITE_RISK}), "prod")
    assert config.storage.backups.offsite is None
    (problem,) = problems_of(without_offsite({"singleSiteAcknowledged": "yes"}))
    assert problem.startswith("openfoundry:storage.backups.singleSiteAcknowledged: found 'yes'")


@pytest.mark.parametrize(("offsite", "expected"), [
    ({"endpoint": "http://s3.elsewhere.example"}, "openfoundry:storage.backups.offsite.endpoint"),
    ({"addresses": ["203.0.113.300/24"]}, "openfoundry:storage.backups.offsite.addresses[0]: found '203.0.113.300/24'"),
    ({"addresses": []}, "openfoundry:storage.backups.offsite.addresses"),
    ({"schedule": "*/15 * * *"}, "openfoundry:storage.backups.offsite.schedule"),
    ({"schedule": "0 3 31 2 *"}, "it never fires"),
])
def test_a_bad_offsite_setting_names_its_path(offsite: dict[str, Any], expected: str) -> None:
    problems = problems_of(deep_merge(PROD, {"storage": {"backups": {"offsite": offsite}}}))
    assert any(expected in p for p in problems), problems


def test_a_copy_and_an_acknowledgement_together_contradict() -> None:
    problems = problems_of(deep_merge(PROD, {"storage": {"backups": {"singleSiteAcknowledged": SINGLE_SITE_RISK}}}))
    assert problems == ["openfoundry:storage.backups.singleSiteAcknowledged: found "
                        f"{SINGLE_SITE_RISK!r}; allowed: nothing when storage.backups.offsite is set "
                        "(the backups do leave the site)"]


def env_of(job: Registered) -> dict[str, Any]:
    (container,) = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_prod_copies_every_backup_bucket_to_the_other_site(prod_resources: list[Registered]) -> None:
    (job,) = [r for r in prod_resources if r.type == "kubernetes:batch/v1:CronJob" and r.name == NAME]
    env = env_of(job)
    claims = by_metadata_name(prod_resources, CLAIM)
    stores = [r.inputs["spec"]["configuration"]["destinationPath"] for r in prod_resources
              if r.type == "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"]
    backup_buckets = {path.removeprefix("s3://").rstrip("/") for path in stores} | {"cassandra-backups"}
    assert set(env["BUCKETS"].split()) == backup_buckets
    assert env["RCLONE_CONFIG_OFFSITE_ENDPOINT"] == PROD["storage"]["backups"]["offsite"]["endpoint"]
    assert env["OFFSITE_BUCKET"] == "openfoundry-prod-backups"
    assert env["RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY"] == {"secretKeyRef": {
        "name": "backups-offsite", "key": "AWS_SECRET_ACCESS_KEY"}}
    for bucket in backup_buckets:   # the copier reads each, and nothing else of it
        statements = json.loads(claims[bucket].inputs["spec"]["additionalConfig"]["bucketPolicy"])["Statement"]
        (read,) = [s for s in statements if s["Principal"] == {"AWS": [f"arn:aws:iam:::user/{COPIER}"]}]
        assert sorted(read["Action"]) == ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"]
        assert EXEMPT not in (claims[bucket].inputs["metadata"].get("annotations") or {})


def test_the_copy_leaves_the_cluster_for_the_other_sites_addresses_alone(prod_resources: list[Registered]) -> None:
    policy = by_metadata_name(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")[NAME].inputs["spec"]
    assert policy["ingress"] == [] and policy["policyTypes"] == ["Ingress", "Egress"]
    rgw, offsite = policy["egress"]
    assert offsite == {"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    assert rgw["to"][0]["podSelector"]["matchLabels"] == {"app": "rook-ceph-rgw", "rgw": "lake"}


def test_dev_keeps_its_backups_on_site_and_its_claims_say_so(catalog: Catalog) -> None:
    registered = register_platform(load_stack_config(read_stack_values("dev"), "dev"), catalog)
    assert not [r for r in registered if r.name == NAME]
    claims = by_metadata_name(registered, CLAIM)
    backups = {name: c for name, c in claims.items() if name.startswith("pg-backups-") or name == "cassandra-backups"}
    assert backups and all(c.inputs["metadata"]["annotations"] == {
        EXEMPT: "backups-leave-the-site", f"{EXEMPT}-reason": SINGLE_SITE_RISK} for c in backups.values())
    others = [c for name, c in claims.items() if name not in backups]
    assert all(not c.inputs["metadata"].get("annotations") for c in others)


def test_a_suspended_copy_renders_a_suspended_cronjob(catalog: Catalog) -> None:
    values = deep_merge(PROD, {"storage": {"backups": {"offsite": {"suspended": True}}}})
    registered = register_platform(load_stack_config(values, "prod"), catalog)
    (job,) = [r for r in registered if r.type == "kubernetes:batch/v1:CronJob" and r.name == NAME]
    assert job.inputs["spec"]["suspend"] is True
