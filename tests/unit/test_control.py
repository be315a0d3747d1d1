"""The control plane under mocks: NATS, its users and permissions, NACK streams and consumers, the registry."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from components.control.accounts import user_permissions
from foundry.catalog import Catalog
from foundry.config import ConfigErrors
from foundry.labels import namespace_for
from foundry.streams import REGISTRY_PATH, ControlBus, StreamRegistry, load_streams, stream_problems
from foundry.upstream import load_contracts
from tests.expectations import BINARY_JETSTREAM_CALLS, HELD_STREAMS, JETSTREAM_ADMIN, SELF_CONSUMED
from tests.mocks import Registered, by_metadata_name, by_namespaced_name, revealed
from tests.unit.test_wiring import binary_reads, kept_by_platform, registered_nats_conf

STREAM = "kubernetes:jetstream.nats.io/v1beta2:Stream"
CONSUMER = "kubernetes:jetstream.nats.io/v1beta2:Consumer"


def test_prod_nats_is_three_servers_with_jetstream_on_file_storage(prod_resources: list[Registered]) -> None:
    nats = by_metadata_name(prod_resources, "kubernetes:apps/v1:StatefulSet")["nats"].inputs["spec"]
    assert nats["replicas"] == 3
    (claim,) = nats["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "ceph-fast-rbd" and claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    config = by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")["nats-config"].inputs["data"]["nats.conf"]
    assert "jetstream { store_dir: /data" in config and "cluster {" in config
    assert config.count("nats-route://") == 3
    assert {c["name"] for c in nats["template"]["spec"]["containers"]} == {"nats", "exporter"}


def test_streams_follow_the_seed_defaults_and_held_ones_what_their_binary_sends(prod_resources: list[Registered]) -> None:
    """A held stream as its binary's STREAM.UPDATE sends it (R1: replicas 0 is the server's 1; of.<root>.> with the
    binary's limits), in its holder's account; the platform's stream with the stack's replicas, in STREAMS."""
    streams = by_metadata_name(prod_resources, STREAM)
    assert set(streams) == {s.name.lower().replace("_", "-") for s in load_streams().streams}
    assert {s.inputs["spec"]["name"] for s in streams.values()} == {"OF_EVENTS", "OF_AUDIT", "OF_NOTIFICATIONS", "OF_CONTROL"}
    # the API server takes DNS subdomain names for custom resources (apimachinery IsDNS1123Subdomain)
    nack = [*streams, *by_metadata_name(prod_resources, CONSUMER)]
    assert nack and all(re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name) for name in nack), nack
    for stream in streams.values():
        spec = stream.inputs["spec"]
        held = spec["name"] in HELD_STREAMS
        assert (spec["maxAge"], spec["maxMsgs"], spec["storage"], spec["retention"], spec["replicas"], spec["discard"]) \
            == ("168h", 1_000_000, "file", "limits", 1 if held else 3, "old"), spec["name"]
        assert spec["account"] == (f"openfoundry-{HELD_STREAMS[spec['name']]}" if held else "openfoundry-app")
        assert spec["preventDelete"] is True and stream.protected
    assert streams["of-events"].inputs["spec"]["subjects"] == ["of.workflows.>"]


def test_a_durable_consumer_per_subscribing_service_and_stream(prod_resources: list[Registered],
                                                               catalog: Catalog) -> None:
    """For the subjects the subscriber's binary reads, but where it consumes the stream it holds through consumers of
    its own."""
    consumers = by_metadata_name(prod_resources, CONSUMER)
    streams = load_streams()
    expected = {(s.name, subject) for s in catalog.services for subject in s.nats.subscribes
                if (stream := streams.stream_of(subject)) is not None and (s.name, stream.name) not in SELF_CONSUMED
                and subject in binary_reads(s)}
    found = {(c.inputs["spec"]["durableName"], subject) for c in consumers.values()
             for subject in c.inputs["spec"]["filterSubjects"]}
    # no binary at the pin subscribes to a stream it does not hold (their contracts): no push consumer yet
    assert found == expected == set()
    assert ("workflow-automation-service", "of.workflows.run.requested") not in found
    assert all(c.inputs["spec"]["ackPolicy"] == "explicit" for c in consumers.values())
    for consumer in consumers.values():   # in the account of the stream it reads
        spec = consumer.inputs["spec"]
        holder = HELD_STREAMS.get(spec["streamName"])
        assert spec["account"] == (f"openfoundry-{holder}" if holder else "openfoundry-app"), spec


def test_each_control_service_is_a_user_with_exactly_its_subjects(catalog: Catalog) -> None:
    streams = load_streams()
    bus = ControlBus.of(streams, catalog, load_contracts())
    for service in (s for s in catalog.services if s.uses_nats):
        permissions = user_permissions(service, bus)
        publish = permissions["publish"]["allow"]
        plain = [p for p in publish if not p.startswith("$JS")]
        assert sorted(plain) == sorted(service.nats.publishes)
        subscribe = permissions["subscribe"]["allow"]
        core = [s for s in service.nats.subscribes if streams.stream_of(s) is None]
        kept = sorted(kept_by_platform(service))
        deliveries = [f"deliver.{stream}.{service.name}" for stream in kept]
        assert sorted(subscribe) == sorted([*core, *deliveries, "_INBOX.>"])   # the account is the service's alone
        calls = BINARY_JETSTREAM_CALLS.get(service.name, set())
        assert {p for p in publish if p.startswith("$JS")} == {f"$JS.ACK.{s}.{service.name}.>" for s in kept} | calls
        # the admin verbs stay denied, but the subtrees its binary's calls are in (deny overrides allow in NATS)
        denied = set(permissions["publish"]["deny"])
        assert denied == {d for d in JETSTREAM_ADMIN if not any(c.startswith(d[:-1]) for c in calls)}
        assert calls or denied == JETSTREAM_ADMIN


def test_only_control_bus_services_get_nats_credentials(prod_resources: list[Registered], catalog: Catalog) -> None:
    secrets = {key for key in by_namespaced_name(prod_resources, "kubernetes:core/v1:Secret")
               if key[1].startswith("nats-client-")}
    assert secrets == {(namespace_for(s.plane), f"nats-client-{s.name}") for s in catalog.services if s.uses_nats}
    deployments = by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment")
    (policy,) = deployments["authorization-policy-service"].inputs["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in policy["env"]}
    # its binary reads only NATS_URL: it carries the credentials, expanded from variables defined before it
    assert env["NATS_URL"]["value"] == "nats://$(NATS_USER):$(NATS_PASSWORD)@nats.openfoundry-control.svc:4222"
    order = [e["name"] for e in policy["env"]]
    assert order.index("NATS_USER") < order.index("NATS_URL") and order.index("NATS_PASSWORD") < order.index("NATS_URL")
    assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "nats-client-authorization-policy-service", "key": "password"}
    # a binary with no NATS client at the pin (its contract has no `nats`) is handed no connection
    for name in ("web", "identity-federation-service"):
        (container,) = deployments[name].inputs["spec"]["template"]["spec"]["containers"]
        assert not any(e["name"].startswith("NATS_") for e in container["env"]), name


def registry_with(change: Any) -> StreamRegistry:
    data = yaml.safe_load(REGISTRY_PATH.read_text())
    change(data)
    return StreamRegistry.model_validate(data)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["streams"].pop(), "found 'of.auth.federation.changed' in no stream and not core"),
    (lambda d: d["streams"][3].update(owner="report-service"), "streams[OF_CONTROL].owner: found 'report-service'"),
    (lambda d: d["streams"][1]["subjects"].append("of.auth.>"), "found 'of.auth.session.revoked' in OF_AUDIT, OF_CONTROL"),
    (lambda d: d["streams"].append({"name": "ORPHAN", "owner": "gateway", "subjects": ["nobody.publishes.>"]}),
     "streams[ORPHAN].subjects: found ['nobody.publishes.>']; allowed: subjects some catalog service publishes"),
    (lambda d: d["core"].append("of.audit.gateway"), "found 'of.audit.gateway' in OF_AUDIT, core"),
    (lambda d: d["core"].append("nobody.signals"), "core: found 'nobody.signals'; allowed: a subject some catalog"),
    # a held stream on other subjects than its binary's: its STREAM.UPDATE at start would cut them off
    (lambda d: d["streams"][0]["subjects"].append("of.queries.>"),
     "streams[OF_EVENTS].subjects: found ['of.workflows.>', 'of.queries.>']; allowed: the subjects its binary ensures "
     "(of.workflows.>)"),
    # a stream a binary ensures left to the platform: the binary would create it in its own account anyway
    (lambda d: d["streams"][1].pop("owner"), "streams[OF_AUDIT].owner: found None; allowed: gateway: its binary "
     "ensures OF_AUDIT at start"),
], ids=["uncovered subject", "owner off the control bus", "subject in two streams", "orphan stream", "core and kept",
        "orphan core subject", "held stream on other subjects", "held stream left to the platform"])
def test_a_broken_stream_entry_is_named(change: Any, expected: str, catalog: Catalog) -> None:
    problems = [str(p) for p in stream_problems(registry_with(change), catalog, load_contracts())]
    assert any(expected in p for p in problems), problems


def test_a_malformed_stream_registry_names_the_entry(tmp_path: Any) -> None:
    data = yaml.safe_load(REGISTRY_PATH.read_text())
    data["streams"][0]["name"] = "of_events"
    broken = tmp_path / "streams.yaml"
    broken.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigErrors) as caught:
        load_streams.__wrapped__(broken)
    assert any("streams[of_events].name: found 'of_events'" in str(p) for p in caught.value.problems)


def test_dev_runs_one_server_without_routes(dev_resources: list[Registered]) -> None:
    nats = by_metadata_name(dev_resources, "kubernetes:apps/v1:StatefulSet")["nats"].inputs["spec"]
    assert nats["replicas"] == 1
    config = by_metadata_name(dev_resources, "kubernetes:core/v1:ConfigMap")["nats-config"].inputs["data"]["nats.conf"]
    assert "cluster" not in config
    streams = by_metadata_name(dev_resources, STREAM)
    assert {s.inputs["spec"]["replicas"] for s in streams.values()} == {1}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_nats_user_needs_a_password_the_servers_read_from_their_secret(stack: str,
                                                                              request: pytest.FixtureRequest) -> None:
    """A user without a password logs in with its name alone (the system account's included); a `$VAR` the
    server's environment lacks stops it at startup."""
    resources = request.getfixturevalue(f"{stack}_resources")
    accounts = registered_nats_conf(resources)["accounts"]
    users = [user for account in accounts.values() for user in account["users"]]
    assert {"sys", "nack"} <= {u["user"] for u in users} and len(users) >= 10
    (nats,) = [r for r in resources if r.type == "kubernetes:apps/v1:StatefulSet" and r.inputs["metadata"]["name"] == "nats"]
    (server,) = [c for c in nats.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "nats"]
    (source,) = server["envFrom"]
    secret = by_metadata_name(resources, "kubernetes:core/v1:Secret")[source["secretRef"]["name"]]
    assert secret.inputs["metadata"]["namespace"] == "openfoundry-control"
    defined = set(revealed(secret.inputs["stringData"]))
    for user in users:
        assert set(user) <= {"user", "password", "permissions"}, user["user"]
        variable = "NATS_PW_" + re.sub(r"[^A-Z0-9]", "_", user["user"].upper())
        assert user["password"] == "$" + variable and variable in defined, user["user"]
    assert len(defined) == len(users)


def seconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(duration[:-1])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_server_listens_stores_and_routes_where_its_pod_says(stack: str, request: pytest.FixtureRequest) -> None:
    """nats.conf against the StatefulSet that runs it: the ports its container opens, the volume it stores on,
    the pods it routes to (`<pod>.<headless Service>`), the variable its name comes from, and a lame-duck
    shutdown the pod's grace period lets finish (nats-io/k8s chart: the same preStop and durations)."""
    resources: list[Registered] = request.getfixturevalue(f"{stack}_resources")
    conf = registered_nats_conf(resources)
    nats = by_metadata_name(resources, "kubernetes:apps/v1:StatefulSet")["nats"].inputs["spec"]
    pod = nats["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == "nats"]
    ports = {p["name"]: int(p["containerPort"]) for p in server["ports"]}
    assert conf["listen"] == f"0.0.0.0:{ports['client']}" and conf["http"] == f"0.0.0.0:{ports['monitor']}"
    assert conf["server_name"] == "$SERVER_NAME"
    assert {"name": "SERVER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in server["env"]
    mounts = {m["name"]: m["mountPath"] for m in server["volumeMounts"]}
    (claim,) = nats["volumeClaimTemplates"]
    size = int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) << 30
    # JetStream's file store stays below its volume (10% headroom), and nothing is kept in memory
    assert conf["jetstream"] == {"store_dir": mounts[claim["metadata"]["name"]], "max_file_store": size * 9 // 10,
                                 "max_memory_store": 0}
    assert conf["system_account"] == "SYS" and "SYS" in conf["accounts"]
    assert server["lifecycle"]["preStop"]["exec"]["command"] == ["nats-server", f"-sl=ldm={conf['pid_file']}"]
    assert conf["pid_file"].startswith(mounts["pid"] + "/")
    assert seconds(conf["lame_duck_grace_period"]) + seconds(conf["lame_duck_duration"]) < pod["terminationGracePeriodSeconds"]
    replicas = int(nats["replicas"])
    if replicas == 1:
        assert "cluster" not in conf
        return
    assert conf["cluster"] == {"name": "openfoundry", "listen": f"0.0.0.0:{ports['cluster']}", "routes": [
        f"nats-route://nats-{i}.{nats['serviceName']}.openfoundry-control.svc.cluster.local:{ports['cluster']}"
        for i in range(replicas)]}


# prometheus-nats-exporter v0.17.3's JetStream consumer metrics and labels (collector/jsz.go), stated here
EXPORTER_METRICS = {"jetstream_consumer_num_pending", "jetstream_consumer_delivered_consumer_seq"}


def test_prod_alerts_on_a_consumer_that_delivers_nothing_or_falls_behind(prod_resources: list[Registered],
                                                                        dev_resources: list[Registered]) -> None:
    rules = by_metadata_name(prod_resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["nats-consumers"]
    assert rules.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"   # the cluster's Prometheus picks it
    (group,) = rules.inputs["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"NatsConsumerNotDelivering", "NatsConsumerBacklogGrowing", "NatsSessionConsumersPiling"}
    for alert in alerts.values():
        used = set(re.findall(r"jetstream_[a-z_]+", alert["expr"]))
        assert used and used <= EXPORTER_METRICS, used
        assert alert["expr"].count('is_consumer_leader="true"') == len(re.findall(r"jetstream_[a-z_]+", alert["expr"]))
    # notification-alerting's per-socket consumers are the reaper's (below), counted against the account's limit
    sessions = 'consumer_name!~"notifications-ws-user-.*"'
    assert sessions in alerts["NatsConsumerNotDelivering"]["expr"] and sessions in alerts["NatsConsumerBacklogGrowing"]["expr"]
    assert alerts["NatsSessionConsumersPiling"]["expr"].endswith("> 800")
    # messages waiting and nothing delivered for a while: nobody bound, whatever the consumer's kind
    assert "changes(jetstream_consumer_delivered_consumer_seq" in alerts["NatsConsumerNotDelivering"]["expr"]
    assert "deriv(jetstream_consumer_num_pending" in alerts["NatsConsumerBacklogGrowing"]["expr"]
    assert "nats-consumers" not in by_metadata_name(dev_resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")


def test_a_binarys_left_behind_session_consumers_are_reaped(prod_resources: list[Registered]) -> None:
    """notification-alerting's per-socket consumers outlive a stopped pod (its contract): a CronJob, as its
    account's NACK user, deletes the ones nobody pulls from; NATS admits it, it reaches NATS alone."""
    jobs = by_metadata_name(prod_resources, "kubernetes:batch/v1:CronJob")
    job = jobs["session-consumer-reaper-of-notifications"].inputs["spec"]
    (container,) = job["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert (env["STREAM"], env["PREFIXES"], env["NATS_USER"]) == (
        "OF_NOTIFICATIONS", "notifications-ws-user-", "nack-notification-alerting-service")
    assert env["NATS_PASSWORD"] == {"secretKeyRef": {"name": "nack-nats-user-notification-alerting-service",
                                                     "key": "password"}}
    assert job["concurrencyPolicy"] == "Forbid"
    policies = by_metadata_name(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    labels = job["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    (egress,) = policies["session-consumer-reaper-of-notifications"].inputs["spec"]["egress"]
    assert egress["ports"] == [{"port": 4222, "protocol": "TCP"}]
    admitted = [p["podSelector"]["matchLabels"] for r in policies["nats"].inputs["spec"]["ingress"] for p in r["from"]
                if "podSelector" in p]
    assert any(m.items() <= labels.items() for m in admitted)
