"""The stacks against a real control plane (tests/cluster/kit.py; ops/cluster.py builds and starts it): what only an
API server, its admission, the controllers and the scheduler can answer.

The tests run in file order on one cluster of their own: dev comes up and is destroyed, then prod comes up at an
earlier release and rolls forward to the working tree (the upgrade rehearsal), and is put through a second up, the
reconciliation of its monitors and rules (the Prometheus Operator, and a real Prometheus on the result) and of its
certificates and trust bundle (cert-manager, trust-manager), drift and its restore, a change, a refused custom
resource, an interrupted update, the loss of a zone and a destroy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client, codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Node
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from foundry.catalog import Catalog
from foundry.config import load_stack_config
from foundry.labels import namespace_for
from foundry.versions import OPENFOUNDRY_IMAGE_TAG, OPENFOUNDRY_REGISTRY
from ops.checks.drift import drifts
from ops.drift import FORCE_ENV, read_plan
from ops.engine import stacks
from ops.engine.releases import base_tree
from ops.rehearsal import cluster, upgrade
from ops.rehearsal import kube as api
from ops.rehearsal import stacks as local
from ops.rehearsal.cluster import Rehearsal
from ops.reports import zoneloss
from tests.cluster import monitoring, trust
from tests.cluster.kit import Stack, images_with_tag, kubernetes_objects, present, refused_program, resource_versions
from tests.cluster.scheduling import claims_volumes, scheduler_message, selected_pods

pytestmark = [pytest.mark.engine, pytest.mark.cluster]
PLANES = [namespace_for(p) for p in ("storage", "ingestion", "compute", "control", "edge")]


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    own = Rehearsal(name="openfoundry-tests", state=tmp_path_factory.mktemp("rehearsal"))
    try:
        cluster.up(own)
        yield own
    finally:   # a cluster that started and then failed to take its nodes or CRDs is stopped too
        cluster.down(own)


@pytest.fixture(scope="module")
def kube(rehearsal: Rehearsal) -> Client:
    return api.connect(rehearsal.kubeconfig)


@pytest.fixture(scope="module")
def prod(rehearsal: Rehearsal, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return Stack.of_repository("prod", rehearsal, tmp_path_factory.mktemp("prod"))


# --- dev: up, then destroy leaves nothing -------------------------------------------------------------------------

def test_dev_comes_up_and_destroy_removes_every_object_it_made(rehearsal: Rehearsal, kube: Client, tmp_path: Path) -> None:
    dev = Stack.of_repository("dev", rehearsal, tmp_path)
    up = dev.run("up", "--yes", "--skip-preview")
    assert up.code == 0, up.tail()
    assert up.problems == []
    made = kubernetes_objects(dev.exported())
    assert len(made) > 500 and all(present(kube, *o) for o in made[:50])
    destroy = dev.run("destroy", "--yes")
    assert destroy.code == 0, destroy.tail()
    assert [o for o in made if present(kube, *o)] == []


# --- prod ---------------------------------------------------------------------------------------------------------

def test_prod_rolls_forward_from_an_earlier_release_losing_nothing_with_no_error_and_no_warning(
        prod: Stack, rehearsal: Rehearsal, tmp_path: Path) -> None:
    """The upgrade rehearsal (`make upgrade`): prod at the release data/upgrade-rehearsal.yaml names, then the working
    tree over it on the same cluster and state. The roll forward creates the new stores, updates protected CNPG
    Clusters in place and replaces no stateful or protected resource; the tests after this one finish it (every pod
    admitted and placed, a second up changes nothing)."""
    local.local_stack("prod", rehearsal, source=base_tree(upgrade.fixed_base(), tmp_path / "base"))
    earlier = prod.run("up", "--yes", "--skip-preview")
    assert earlier.code == 0, earlier.tail()
    protected = {r["urn"] for r in prod.exported()["resources"] if r.get("protect")}
    local.local_stack("prod", rehearsal)
    up = prod.run("up", "--yes", "--skip-preview")
    assert up.code == 0, up.tail()
    assert up.problems == []   # PodSecurity's "would violate" warnings would be here
    found = upgrade.changes(up.events, protected)
    assert [f.line() for f in found if f.refused] == []
    # the reading sees what the engine replaced: Trino's coordinator, whose strategy became Recreate (stateless)
    replaced = {(f.type, f.name): f.fields for f in found if f.op == "replace"}
    assert replaced.get(("kubernetes:apps/v1:Deployment", "trino-coordinator")) == ("spec.strategy",), \
        [f.line() for f in found]
    done = {(s["op"], s["type"].rsplit(":", 1)[-1]) for s in upgrade.steps_of(up.events)}
    assert {("create", "K8ssandraCluster"), ("create", "KafkaConnect"), ("update", "Cluster")} <= done, done
    updated = {s["urn"] for s in upgrade.steps_of(up.events) if s["op"] == "update"}
    assert any(urn in protected for urn in updated)   # a protected stateful resource changed in place


def test_every_pod_is_admitted_and_every_pod_without_a_ceph_volume_is_placed(kube: Client) -> None:
    assert api.refused_pods(kube) == []
    pods = [p for ns in PLANES for p in api.listed(kube, "v1", "Pod", ns)]
    assert len(pods) > 100
    unplaced = [f"{p['metadata']['name']}: {scheduler_message(p)}" for p in pods
                if not p["spec"].get("nodeName") and not claims_volumes(p)]
    assert unplaced == []


def test_the_scheduler_honours_every_hard_spread_and_anti_affinity(kube: Client) -> None:
    """Counted as the scheduler counts: the pods placed and not leaving, those a rule's selector and its
    matchLabelKeys pick. Right after the upgrade, so a rolling update must not have left a set skewed."""
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in api.listed(kube, "v1", "Node")}
    pods = [p for ns in PLANES for p in api.listed(kube, "v1", "Pod", ns)
            if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")]
    checked = 0
    for pod in pods:
        for rule in pod["spec"].get("topologySpreadConstraints") or []:
            if rule["whenUnsatisfiable"] != "DoNotSchedule":
                continue
            key, peers = rule["topologyKey"], selected_pods(pods, pod, rule["labelSelector"], rule.get("matchLabelKeys"))
            counts = Counter(nodes[p["spec"]["nodeName"]][key] for p in peers)
            domains = {labels[key] for labels in nodes.values()}
            skew = max(counts.values()) - min(counts.get(d, 0) for d in domains)
            assert skew <= rule["maxSkew"], (pod["metadata"]["name"], counts)
            checked += 1
        for term in ((pod["spec"].get("affinity") or {}).get("podAntiAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution") or []:
            key, peers = term["topologyKey"], selected_pods(pods, pod, term["labelSelector"])
            placed = Counter(nodes[p["spec"]["nodeName"]][key] for p in peers)
            assert max(placed.values()) == 1, (pod["metadata"]["name"], placed)
            checked += 1
    assert checked > 50


def test_a_second_up_changes_nothing(prod: Stack) -> None:
    again = prod.run("up", "--yes", "--skip-preview", "--expect-no-changes")
    assert again.code == 0, again.tail()


# --- the Prometheus Operator reconciles prod's monitoring (ops/rehearsal/controllers.py) --------------------------


def test_the_prometheus_operator_scrapes_every_pod_monitor_on_the_port_it_names(kube: Client) -> None:
    monitors = monitoring.selected(kube, "PodMonitor")
    expected = monitoring.expected_jobs(monitors)
    jobs = monitoring.jobs_once_reconciled(kube, set(expected))
    assert len(monitors) > 50 and set(jobs) == set(expected), sorted(set(expected) ^ set(jobs))[:10]
    wrong = [name for name, endpoint in expected.items() if not monitoring.keeps_port(jobs[name], endpoint["port"])]
    assert wrong == []


def test_prometheus_loads_the_generated_configuration_every_rule_group_and_finds_every_pod_on_its_port(
        rehearsal: Rehearsal, kube: Client, tmp_path: Path) -> None:
    """A real Prometheus, from this machine as the pod's would (monitoring.out_of_cluster): every rule group of the
    selected PrometheusRules loads once, and service discovery finds, for exactly the PodMonitors that select a pod
    with an address, one target per such pod and port of the endpoint's name (the operators' own pods never exist
    here), under the `job` the SLO rules query (`<namespace>/<monitor>`)."""
    rules = monitoring.selected(kube, "PrometheusRule")
    groups = Counter(group["name"] for rule in rules for group in rule["spec"]["groups"])
    assert {"postgres-backups", "backups-offsite-copy"} <= set(groups)
    expected = monitoring.discoverable(kube, monitoring.selected(kube, "PodMonitor"))
    with monitoring.serving(monitoring.generated_config(kube), monitoring.rule_files(kube),
                            rehearsal.kubeconfig.resolve(), tmp_path) as url:
        assert monitoring.loaded_groups(url) == groups
        pools = monitoring.discovered_once_settled(url, expected)
    assert len(expected) > 40 and {pool: found.count for pool, found in pools.items()} == expected
    assert all(found.jobs == {pool.split("/", 1)[1].rsplit("/", 1)[0]} for pool, found in pools.items())
    assert monitoring.errors(tmp_path) == []


def test_a_pod_monitor_without_the_selector_label_gets_no_scrape_job(kube: Client) -> None:
    """The operator's own selection: an unlabelled copy, applied first, never gets a job; a labelled one, applied
    after it, does (so the operator had seen both)."""
    (template,) = [m for m in monitoring.selected(kube, "PodMonitor") if m["metadata"]["name"] == "pg-openfga"]
    namespace = template["metadata"]["namespace"]
    copies = {name: {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                     "metadata": {"name": name, "namespace": namespace, "labels": labels},
                     "spec": template["spec"]} for name, labels in
              (("unlabelled-copy", {}), ("labelled-copy", dict(monitoring.MONITORING.selector_labels)))}
    for copy in copies.values():
        api.apply(kube, copy)
    try:
        jobs = monitoring.jobs_once_reconciled(kube, {f"podMonitor/{namespace}/labelled-copy/0"})
        assert f"podMonitor/{namespace}/labelled-copy/0" in jobs
        assert not [job for job in jobs if "/unlabelled-copy/" in job]
    finally:
        for name in copies:
            kube.delete(api.kind("monitoring.coreos.com/v1", "PodMonitor"), name, namespace=namespace)


# --- cert-manager issues prod's certificates, trust-manager hands out its CA (ops/rehearsal/controllers.py) ----------

def test_cert_manager_issues_every_certificate_of_prod_each_signed_by_its_issuer(prod: Stack, kube: Client) -> None:
    """Every Certificate prod declares reaches Ready, its Secret written by cert-manager for it and its issuer, and
    the leaf verifies against its issuer: the platform CA for the internal ones, itself for a self-signed one (the
    CA, and the edge's, whose ACME issuer has a self-signed stand-in here). The CA's Secret may be dev's, taken over
    (trust.written_by_cert_manager_for); the others are issued in this run."""
    declared = {tuple(identity.split("/")) for _, kind, identity in kubernetes_objects(prod.exported())
                if kind == "Certificate"}
    found = trust.ready_once_issued(kube, declared)
    assert len(declared) >= 5 and set(found) == declared
    assert {name: trust.condition(c, "Ready").get("message") for name, c in found.items()
            if trust.condition(c, "Ready").get("status") != "True"} == {}
    platform_ca, signers = trust.platform_ca(kube), []
    for certificate in found.values():
        issued, by = trust.Issued.of(kube, certificate), trust.signer(kube, certificate)
        assert trust.verifies(issued, by), certificate["metadata"]
        assert set(certificate["spec"].get("dnsNames") or []) <= issued.dns_names()
        assert issued.is_ca() == bool(certificate["spec"].get("isCA"))
        assert trust.written_by_cert_manager_for(kube, certificate)
        signers.append("platform CA" if by == platform_ca else "itself" if by is None else "another")
    assert Counter(signers) == {"platform CA": 2, "itself": 3}   # Kafka's, Cassandra's; the CA, the edge's two
    assert sum(bool(trust.requests_of(kube, c)) for c in found.values()) >= len(found) - 1


def test_trust_manager_puts_the_platform_ca_in_every_namespace_its_bundle_selects_and_in_no_other(kube: Client) -> None:
    (bundle,) = api.listed(kube, trust.TRUST_MANAGER, "Bundle")
    source = bundle["spec"]["sources"][0]["secret"]
    ca = trust.pem_certificates(trust.secret_data(kube, trust.CLUSTER_RESOURCE_NAMESPACE, source["name"])[source["key"]])
    selected, others = trust.selected_namespaces(kube, bundle)
    api.wait("the Bundle's targets", lambda: set(trust.bundle_targets(kube, bundle)) == selected, timeout=60)
    assert set(PLANES) <= selected and "monitoring" in others and "kube-system" in others
    assert len(ca) == 1 and trust.bundle_targets(kube, bundle) == dict.fromkeys(selected, ca)
    assert trust.synced(kube, bundle["metadata"]["name"])


def test_a_certificate_from_an_issuer_that_does_not_exist_is_never_issued_and_says_why(kube: Client) -> None:
    namespace = namespace_for("edge")
    certificate = {"apiVersion": trust.CERT_MANAGER, "kind": "Certificate",
                   "metadata": {"name": "from-no-issuer", "namespace": namespace},
                   "spec": {"secretName": "from-no-issuer", "dnsNames": ["nowhere.invalid"],
                            "issuerRef": {"kind": "ClusterIssuer", "name": "no-such-issuer"}}}
    api.apply(kube, certificate)
    try:
        api.wait("cert-manager's reason", lambda: "not found" in trust.refusal(kube, namespace, "from-no-issuer"), 60)
        assert 'clusterissuer.cert-manager.io "no-such-issuer" not found' in trust.refusal(kube, namespace, "from-no-issuer")
        assert not api.exists(kube, "v1", "Secret", "from-no-issuer", namespace)
    finally:
        kube.delete(api.kind(trust.CERT_MANAGER, "Certificate"), "from-no-issuer", namespace=namespace)


def test_drift_is_exactly_the_hand_edits_and_up_with_refresh_puts_them_back(prod: Stack, kube: Client) -> None:
    """`make drift`'s reading of the engine's refresh: right after `up` the server's own defaults are no drift, so
    three hand edits (a replica count, a label's value, a NetworkPolicy rule) are exactly two drifted objects, named
    with their fields, and the reading has no error although the hand edits own those fields; the restore
    (`up --refresh`, forcing the program's apply over that ownership) puts them back."""
    namespace = namespace_for("compute")
    wanted_replicas = kube.get(Deployment, "trino-worker", namespace=namespace).spec.replicas
    kube.patch(Deployment, "trino-worker", {"spec": {"replicas": 1}}, namespace=namespace,
               patch_type=PatchType.MERGE, field_manager="hand-edit")
    policy = kube.get(NetworkPolicy, "trino", namespace=namespace).to_dict()
    egress = policy["spec"]["egress"]
    egress[0]["ports"][0]["port"] += 1
    kube.patch(NetworkPolicy, "trino", {"metadata": {"labels": {"openfoundry.io/plane": "edited"}},
                                        "spec": {"egress": egress}}, namespace=namespace,
               patch_type=PatchType.MERGE, field_manager="hand-edit")
    try:
        found = {d.name: d for d in drifts(read_plan(prod.name, prod.project, prod.environment(False)))}
    finally:   # make drift RESTORE=1, also when the reading fails, so the tests after this one meet the program
        up = prod.run("up", "--yes", "--skip-preview", "--refresh", extra_env=FORCE_ENV)
    assert set(found) == {"trino-worker", "trino"}, [d.line() for d in found.values()]
    assert found["trino-worker"].type == "kubernetes:apps/v1:Deployment" and "spec.replicas" in found["trino-worker"].fields
    fields = found["trino"].fields
    assert any(f.startswith("spec.egress") for f in fields) and any("openfoundry.io/plane" in f for f in fields), fields
    assert up.code == 0, up.tail()
    assert kube.get(Deployment, "trino-worker", namespace=namespace).spec.replicas == wanted_replicas
    restored = kube.get(NetworkPolicy, "trino", namespace=namespace).to_dict()
    assert restored["metadata"]["labels"]["openfoundry.io/plane"] == "compute"
    assert restored["spec"]["egress"][0]["ports"][0]["port"] == egress[0]["ports"][0]["port"] - 1


def test_one_value_changed_updates_exactly_its_resources_in_place(prod: Stack) -> None:
    original = prod.config_file.read_text()
    prod.edit(lambda config: config.setdefault("openfoundry:compute", {}).setdefault("trino", {}).update(workers=4))
    try:
        preview = prod.run("preview")
    finally:
        prod.config_file.write_text(original)
    assert preview.code == 0, preview.tail()
    steps = [s for s in preview.steps if s["op"] != "same"]
    # a default provider takes the stack's config as its own inputs and is "updated" with it, changing nothing
    providers = [s for s in steps if s["type"].startswith("pulumi:providers:")]
    assert all(s["op"] == "update" for s in providers), providers
    changed = {(s["op"], s["type"], s["urn"].rsplit("::", 1)[1]) for s in steps if s not in providers}
    assert changed == {("update", "kubernetes:apps/v1:Deployment", "trino-worker")}, [s.get("diffs") for s in steps]


def test_the_api_server_refuses_a_custom_resource_its_crd_rules_forbid(rehearsal: Rehearsal, kube: Client,
                                                                       tmp_path: Path) -> None:
    """A CloudNativePG Cluster naming both an image and an image catalog: the CRD's x-kubernetes-validations rule
    (`!(has(self.imageCatalogRef) && has(self.imageName))`), which only the API server evaluates."""
    refused = refused_program(rehearsal, tmp_path)
    before = resource_versions(kube, PLANES)
    up = refused.run("up", "--yes", "--skip-preview")
    assert up.code != 0
    assert "imageName and imageCatalogRef are mutually exclusive" in up.output
    assert not api.exists(kube, "postgresql.cnpg.io/v1", "Cluster", "refused", "openfoundry-storage")
    assert resource_versions(kube, PLANES) == before


def test_service_accounts_can_do_nothing_in_the_api(kube: Client, catalog: Catalog) -> None:
    allowed = []
    for service in catalog.services:
        namespace = namespace_for(service.plane)
        for resource in ("secrets", "pods", "configmaps"):
            for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
                review = kube.create(codecs.from_dict({
                    "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                    "spec": {"user": f"system:serviceaccount:{namespace}:{service.name}",
                             "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                        "system:authenticated"],
                             "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}}))
                if review.status.allowed:
                    allowed.append(f"{service.name} may {verb} {resource}")
    assert allowed == []


def test_an_update_killed_midway_completes_once_its_dead_lock_is_released_and_leaves_no_debris(prod: Stack, kube: Client) -> None:
    prod.edit(lambda config: config.update({"openfoundry:images": {"registry": OPENFOUNDRY_REGISTRY, "tag": "0.1.1"}}))
    rolled = lambda: images_with_tag(kube, PLANES, "0.1.1") >= 5   # noqa: E731 - several Deployments already updated
    prod.killed_during("up", "--yes", "--skip-preview", after=rolled)
    updated, old = images_with_tag(kube, PLANES, "0.1.1"), images_with_tag(kube, PLANES, OPENFOUNDRY_IMAGE_TAG)
    assert updated < old + updated
    blocked = prod.run("up", "--yes", "--skip-preview", checkpoints=True)
    assert blocked.code != 0 and "pulumi cancel" in blocked.output, blocked.tail()
    # what every `make ... TARGET=local` does first: the dead run's lock goes, nothing else
    assert [line for line in local.release_dead_locks(prod.backend) if "stack prod" in line]
    resumed = prod.run("up", "--yes", "--skip-preview")   # the resumed run is not about checkpoints
    assert resumed.code == 0, resumed.tail()
    state = prod.exported()
    assert not state.get("pending_operations")
    assert prod.run("preview", "--expect-no-changes").code == 0
    deployments = {o[2] for o in kubernetes_objects(state) if o[1] == "Deployment"}
    in_cluster = {f"{ns}/{d['metadata']['name']}" for ns in PLANES
                  for d in api.listed(kube, "apps/v1", "Deployment", ns)}
    assert in_cluster == deployments
    assert images_with_tag(kube, PLANES, OPENFOUNDRY_IMAGE_TAG) == 0


def test_losing_a_zone_leaves_every_deployment_the_report_says_survives_ready_again(kube: Client) -> None:
    """The zone-loss report's verdicts for Deployments (ops/zoneloss.py, from the live objects), then a zone's nodes
    deleted: the pods on them are collected, their ReplicaSets replace them and the scheduler places them in the
    zones left, within the spread rules."""
    config = load_stack_config(stacks.read_stack_values("prod"), "prod")
    live = [d for version, kind in (("apps/v1", "Deployment"), ("autoscaling/v2", "HorizontalPodAutoscaler"))
            for ns in PLANES for d in api.listed(kube, version, kind, ns)]
    verdicts = list(zoneloss.deployments(zoneloss.Site.of(config.topology), live))
    surviving = {v.system for v in verdicts if v.survives}
    # all but the single-replica Deployments data/zone-loss-accepted.yaml accepts: Trino's coordinator (no
    # coordinator HA upstream) and the table exporter (one scrape target)
    assert surviving and {v.system for v in verdicts if not v.survives} == {"trino-coordinator", "iceberg-table-exporter"}
    lost_zone = config.topology.zones[0]
    lost = [n["metadata"]["name"] for n in api.listed(kube, "v1", "Node")
            if n["metadata"]["labels"].get(config.topology.zone_label) == lost_zone]
    for node in lost:
        kube.delete(Node, node)

    def recovered() -> bool:
        for ns in PLANES:
            for deployment in api.listed(kube, "apps/v1", "Deployment", ns):
                status, wanted = deployment.get("status") or {}, deployment["spec"].get("replicas", 1)
                if deployment["metadata"]["name"] in surviving and status.get("readyReplicas", 0) < wanted:
                    return False
            if any((p["spec"].get("nodeName") in lost) for p in api.listed(kube, "v1", "Pod", ns)):
                return False
        return True

    api.wait(f"every surviving Deployment ready again without {lost_zone}", recovered, timeout=420, pause=5)


def test_destroying_prod_refuses_its_protected_resources_and_leaves_them(prod: Stack, kube: Client) -> None:
    protected = [r for r in prod.exported()["resources"] if r.get("protect")]
    assert protected
    destroy = prod.run("destroy", "--yes")
    assert destroy.code != 0 and "protect" in destroy.output
    clusters = api.listed(kube, "postgresql.cnpg.io/v1", "Cluster", namespace_for("storage"))
    assert any(c["metadata"]["name"] == "pg-lakekeeper" for c in clusters)
    assert len(kubernetes_objects(prod.exported())) > 500
