"""The production review's findings (shared/reviews/prod-review.md), each as what the program now registers; each
assertion fails on the program as the review found it."""

from __future__ import annotations

import json
from typing import Any

from foundry.catalog import Catalog, Service
from foundry.labels import namespace_for
from tests.mocks import Registered, by_metadata_name, of_type
from tests.natsconf import parse

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def chart_values(resources: list[Registered], key: str) -> dict[str, Any]:
    values: dict[str, Any] = of_type(resources, "kubernetes:helm.sh/v4:Chart")[key].inputs["values"]
    return values


def test_b1_strimzi_makes_restricted_pods(prod_resources: list[Registered]) -> None:
    env = {e["name"]: e["value"] for e in chart_values(prod_resources, "strimzi")["extraEnvs"]}
    assert env["STRIMZI_POD_SECURITY_PROVIDER_CLASS"] == "restricted"


def test_b2_b3_m7_nack_runs_restricted_namespaced_in_control_loop_mode(prod_resources: list[Registered]) -> None:
    values = chart_values(prod_resources, "nack")
    assert values["jetstream"]["controlLoop"] is True and values["namespaced"] is True
    assert of_type(prod_resources, "kubernetes:helm.sh/v4:Chart")["nack"].inputs["namespace"] == "openfoundry-control"
    assert values["securityContext"]["runAsNonRoot"] is True and values["securityContext"]["runAsUser"] > 0
    assert values["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["containerSecurityContext"]["allowPrivilegeEscalation"] is False


def test_b3_nacks_accounts_name_a_secret_beside_them_holding_a_user_nats_knows(prod_resources: list[Registered]) -> None:
    """One NACK Account per JetStream account (STREAMS, and each service holding a stream), each a user of its own."""
    conf = parse(by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")["nats-config"].inputs["data"]["nats.conf"])
    account_of = {u["user"]: name for name, a in conf["accounts"].items() for u in a["users"]}
    users = {u["user"]: u for a in conf["accounts"].values() for u in a["users"]}
    accounts = of_type(prod_resources, "kubernetes:jetstream.nats.io/v1beta2:Account").values()
    found = {}
    for account in accounts:
        user = account.inputs["spec"]["user"]
        secret = next(r.inputs for r in prod_resources if r.type == "kubernetes:core/v1:Secret"
                      and r.inputs["metadata"]["name"] == user["secret"]["name"])
        # the control loop reads the Account's Secret in the Streams' own namespace, by the keys the Account names
        assert secret["metadata"]["namespace"] == account.inputs["metadata"]["namespace"] == "openfoundry-control"
        assert (user["user"], user["password"]) == ("user", "password")
        # stringData holds a generated password, so it reaches the mocks as a secret; the password is unknown here
        name = secret["stringData"].get("value", secret["stringData"])["user"]
        assert users[name]["password"] == "$NATS_PW_" + name.upper().replace("-", "_")
        found[account.inputs["spec"]["name"]] = account_of[name]
    assert found == {"openfoundry-app": "STREAMS", "openfoundry-gateway": "gateway",
                     "openfoundry-notification-alerting-service": "notification-alerting-service",
                     "openfoundry-workflow-automation-service": "workflow-automation-service"}


def test_m5_trino_workers_may_drain_and_only_the_drain_user_may(prod_resources: list[Registered]) -> None:
    maps = by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")
    worker = maps["trino-worker"].inputs["data"]
    assert "access-control.name=file" in worker["access-control.properties"]
    rules = json.loads(worker["graceful-shutdown-rules.json"])
    assert rules == {"system_information": [{"user": "openfoundry-drain", "allow": ["read", "write"]}]}
    assert "access-control.properties" not in maps["trino-coordinator"].inputs["data"]
    drain = " ".join(by_metadata_name(prod_resources, DEPLOYMENT)["trino-worker"].inputs["spec"]["template"]["spec"][
        "containers"][0]["lifecycle"]["preStop"]["exec"]["command"])
    assert "X-Trino-User: openfoundry-drain" in drain and "exit 1" in drain


def test_m6_an_autoscaled_deployment_leaves_its_replica_count_to_the_autoscaler(prod_resources: list[Registered],
                                                                                dev_resources: list[Registered],
                                                                                deployed: list[Service]) -> None:
    prod, dev = by_metadata_name(prod_resources, DEPLOYMENT), by_metadata_name(dev_resources, DEPLOYMENT)
    hpas = by_metadata_name(prod_resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    waiting = {"object-database-service", "ontology-query-service", "ontology-actions-service"}   # scaled to zero
    assert deployed
    for service in (s for s in deployed if s.name not in waiting):
        assert "replicas" not in prod[service.name].inputs["spec"] and hpas[service.name].inputs["spec"]["minReplicas"] == 3
        assert dev[service.name].inputs["spec"]["replicas"] == 1   # no autoscaler in dev


def test_m1_m2_lakekeeper_reads_from_an_instance_that_exists_and_lives_without_its_database(
        dev_resources: list[Registered], prod_resources: list[Registered]) -> None:
    def container(resources: list[Registered]) -> dict[str, Any]:
        found: dict[str, Any] = by_metadata_name(resources, DEPLOYMENT)["lakekeeper"].inputs["spec"]["template"]["spec"][
            "containers"][0]
        return found
    env = {e["name"]: e.get("value") for e in container(dev_resources)["env"]}
    assert env["LAKEKEEPER__PG_HOST_R"] == "pg-lakekeeper-r.openfoundry-storage.svc"    # one instance: no replicas
    env = {e["name"]: e.get("value") for e in container(prod_resources)["env"]}
    assert env["LAKEKEEPER__PG_HOST_R"] == "pg-lakekeeper-ro.openfoundry-storage.svc"
    assert container(prod_resources)["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert container(prod_resources)["readinessProbe"]["httpGet"]["path"] == "/health"


def test_m3_lakekeeper_holds_tokens_to_its_audience(prod_resources: list[Registered]) -> None:
    env = {e["name"]: e.get("value") for e in by_metadata_name(prod_resources, DEPLOYMENT)["lakekeeper"].inputs[
        "spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LAKEKEEPER__OPENID_AUDIENCE"] == "lakekeeper" == env["LAKEKEEPER__KUBERNETES_AUTHENTICATION_AUDIENCE"]


def test_m3_lakekeeper_authorizes_through_openfga_with_its_key(prod_resources: list[Registered]) -> None:
    """Lakekeeper's default backend allows everything to every authenticated caller (its docs, "allowall")."""
    container = by_metadata_name(prod_resources, DEPLOYMENT)["lakekeeper"].inputs["spec"]["template"]["spec"][
        "containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["LAKEKEEPER__AUTHZ_BACKEND"]["value"] == "openfga"
    # OpenFGA's gRPC port, in the storage namespace, where the stack runs it
    assert env["LAKEKEEPER__OPENFGA__ENDPOINT"]["value"] == "http://openfga.openfoundry-storage.svc:8081"
    key = env["LAKEKEEPER__OPENFGA__API_KEY"]["valueFrom"]["secretKeyRef"]
    openfga = by_metadata_name(prod_resources, DEPLOYMENT)["openfga"].inputs["spec"]["template"]["spec"]["containers"][0]
    served = {e["name"]: e for e in openfga["env"]}
    assert served["OPENFGA_AUTHN_METHOD"]["value"] == "preshared"
    assert served["OPENFGA_AUTHN_PRESHARED_KEYS"]["valueFrom"]["secretKeyRef"] == key


def test_m3_the_rbd_class_carries_the_controller_publish_secret(prod_resources: list[Registered]) -> None:
    parameters = by_metadata_name(prod_resources, "kubernetes:storage.k8s.io/v1:StorageClass")["ceph-fast-rbd"].inputs[
        "parameters"]
    assert parameters["csi.storage.k8s.io/controller-publish-secret-name"] == "rook-csi-rbd-provisioner"
    assert parameters["csi.storage.k8s.io/controller-publish-secret-namespace"] == "rook-ceph"


def test_m4_nats_servers_stop_in_lame_duck_mode(prod_resources: list[Registered]) -> None:
    conf = parse(by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")["nats-config"].inputs["data"]["nats.conf"])
    assert (conf["lame_duck_duration"], conf["lame_duck_grace_period"]) == ("30s", "10s")
    pod = by_metadata_name(prod_resources, "kubernetes:apps/v1:StatefulSet")["nats"].inputs["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == "nats"]
    assert server["lifecycle"]["preStop"]["exec"]["command"] == ["nats-server", f"-sl=ldm={conf['pid_file']}"]
    assert pod["terminationGracePeriodSeconds"] == 60


def test_m4_every_podmonitor_is_labelled_for_the_prometheus(prod_resources: list[Registered]) -> None:
    monitors = [r.inputs for r in prod_resources if r.type == "kubernetes:monitoring.coreos.com/v1:PodMonitor"]
    assert len(monitors) >= 50
    assert all(m["metadata"]["labels"].get("release") == "kube-prometheus-stack" for m in monitors)


def test_m6_flink_operator_chart_from_the_archive(prod_resources: list[Registered]) -> None:
    chart = of_type(prod_resources, "kubernetes:helm.sh/v4:Chart")["flink-kubernetes-operator"].inputs
    assert chart["repositoryOpts"]["repo"].startswith("https://archive.apache.org/dist/flink/")


def test_every_data_bus_namespace_receives_the_trust_bundle(prod_resources: list[Registered], catalog: Catalog) -> None:
    (bundle,) = [r.inputs for r in prod_resources if r.type.endswith(":Bundle")]
    selector = bundle["spec"]["target"]["namespaceSelector"]["matchLabels"]
    namespaces = by_metadata_name(prod_resources, "kubernetes:core/v1:Namespace")
    for plane in {s.plane for s in catalog.services if s.uses_kafka}:
        assert selector.items() <= namespaces[namespace_for(plane)].inputs["metadata"]["labels"].items()
