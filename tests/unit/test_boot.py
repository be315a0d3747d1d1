"""`make boot`'s pure parts (ops/boot/): the kubelet's environment rules, image -> binary, a pod's mounts and
command line, and the verdict from what a process logged. No build, no namespaces, no servers."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from foundry.upstream import Binary
from ops.boot.env import ContainerConfigError, PodFacts, container_env, expand, service_links
from ops.boot.images import binary_of
from ops.boot.pods import Image, pod_run
from ops.boot.rendered import Rendered, config_map, secret
from ops.boot.verdicts import Seen, classify, condense, degradation_texts, error_line

POD = PodFacts("svc-boot", "ns", "10.233.0.9")
BINARIES = {"edge-gateway-service", "identity-federation-service"}
ENTRIES = {"gateway": ["edge-gateway-service"], "auth-service": ["identity-federation-service"], "nexus-service": []}


def store(*objects: dict[str, Any]) -> Rendered:
    rendered = Rendered(Path("rendered/test"))
    for obj in objects:
        rendered.add(obj, synthesized=False)
    return rendered


def env_of(container: dict[str, Any], rendered: Rendered | None = None) -> dict[str, str]:
    return container_env(container, POD, rendered or store(), {})


def test_a_reference_expands_only_from_variables_defined_before_it() -> None:
    env = env_of({"env": [{"name": "USER", "value": "u"},
                          {"name": "URL", "value": "nats://$(USER):$(PASSWORD)@nats:4222"},
                          {"name": "PASSWORD", "value": "p"}]})
    assert env["URL"] == "nats://u:$(PASSWORD)@nats:4222"


def test_expansion_escapes_and_leaves_other_dollars() -> None:
    lookup = {"A": "1"}.get
    assert expand("$$(A) $(A) $A $(B) $(", lookup) == "$(A) 1 $A $(B) $("


def test_secret_and_config_map_keys_resolve() -> None:
    rendered = store(secret("ns", "creds", {"password": "s3cret"}), config_map("ns", "settings", {"mode": "on"}))
    env = env_of({"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                          {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                          {"name": "DSN", "value": "postgres://app:$(PW)@db"}]}, rendered)
    assert (env["PW"], env["MODE"], env["DSN"]) == ("s3cret", "on", "postgres://app:s3cret@db")


def test_string_data_counts_as_the_secret_holds_it() -> None:
    rendered = store({"kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
                      "data": {"a": base64.b64encode(b"1").decode()}, "stringData": {"b": "2"}})
    assert rendered.secret_data("ns", "s") == {"a": b"1", "b": b"2"}


@pytest.mark.parametrize(("ref", "message"), [
    ({"secretKeyRef": {"name": "absent", "key": "k"}}, 'secret "absent" not found'),
    ({"secretKeyRef": {"name": "creds", "key": "nope"}}, "couldn't find key nope in Secret ns/creds"),
    ({"configMapKeyRef": {"name": "absent", "key": "k"}}, 'configmap "absent" not found'),
])
def test_a_missing_object_or_key_stops_the_container(ref: dict[str, Any], message: str) -> None:
    with pytest.raises(ContainerConfigError, match=message):
        env_of({"env": [{"name": "X", "valueFrom": ref}]}, store(secret("ns", "creds", {"password": "p"})))


def test_an_optional_missing_reference_leaves_the_variable_out() -> None:
    env = env_of({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}}}]})
    assert "X" not in env


def test_service_links_are_added_unless_the_container_sets_the_name() -> None:
    rendered = store({"kind": "Service", "metadata": {"name": "web", "namespace": "ns"},
                      "spec": {"ports": [{"name": "http", "port": 3000}]}})
    links = service_links(rendered, "ns")
    env = container_env({"env": [{"name": "WEB_PORT", "value": "3000"}]}, POD, rendered, links)
    assert env["WEB_PORT"] == "3000" and env["WEB_SERVICE_PORT_HTTP"] == "3000"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert links["WEB_PORT"].startswith("tcp://10.")


def test_an_image_maps_to_its_binary_by_name_or_through_the_catalog() -> None:
    assert binary_of("ghcr.io/unnamedlab/openfoundry/edge-gateway-service:sha-d13cc84", BINARIES, ENTRIES).binary == \
        "edge-gateway-service"
    assert binary_of("ghcr.io/openfoundry/auth-service:0.1.0", BINARIES, ENTRIES).binary == \
        "identity-federation-service"
    none = binary_of("ghcr.io/openfoundry/nexus-service:0.1.0", BINARIES, ENTRIES)
    assert none.binary is None and "relation none" in none.why


def deployment(container: dict[str, Any], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": "svc", "namespace": "ns"},
            "spec": {"template": {"metadata": {}, "spec": {"automountServiceAccountToken": False,
                                                           "securityContext": {"runAsUser": 10001},
                                                           "containers": [container], "volumes": volumes}}}}


def test_a_pod_gets_its_mounts_user_and_the_image_command() -> None:
    container = {"name": "svc", "image": "i", "ports": [{"name": "http", "containerPort": 8080}],
                 "volumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}, {"name": "tmp", "mountPath": "/tmp"}]}
    volumes = [{"name": "ca", "secret": {"secretName": "pg-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
               {"name": "tmp", "emptyDir": {}}]
    run = pod_run(deployment(container, volumes), container, store(secret("ns", "pg-ca", {"ca.crt": "PEM"})),
                  Image("/usr/local/bin/svc", ("-config", "/etc/c.yaml")), "svc-boot", "10.233.0.9")
    assert run.problem == "" and run.files["/etc/ca/ca.crt"] == b"PEM" and run.dirs == ("/tmp",)
    assert run.argv == ("/usr/local/bin/svc", "-config", "/etc/c.yaml") and (run.uid, run.gid) == (10001, 10001)
    assert run.ports == {"http": 8080}


def test_a_volume_of_a_missing_secret_is_a_failed_mount() -> None:
    container = {"name": "svc", "image": "i", "volumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}]}
    run = pod_run(deployment(container, [{"name": "ca", "secret": {"secretName": "pg-ca"}}]), container, store(),
                  Image("/bin/svc"), "svc-boot", "10.233.0.9")
    assert run.problem == 'FailedMount: secret "pg-ca" not found'


CONTRACT = Binary.model_validate({
    "name": "svc", "build": {"package": "./cmd/svc", "of": "Dockerfile"},
    "listens": [{"port": "http", "env": "PORT", "default": 8080, "of": "main.go"}],
    "health": {"path": "/healthz", "port": "http", "of": "main.go"},
    "env": [{"name": "TOKEN", "need": "degrades", "missing": "consumer skipped (TOKEN is not set)", "of": "main.go"}],
    "degradations": ["grpc listen", "consumer skipped"],
    "platform": {"leavesUnset": [{"env": "TOKEN", "why": "nothing mints one"}]}})


def verdict(lines: list[str], exit_code: int | None = None, probe_ok: bool = True) -> tuple[str, str]:
    result = classify(Seen(exit_code, probe_ok, "GET :8080/healthz -> 200", lines), degradation_texts(CONTRACT))
    return result.verdict, result.evidence


def test_an_exit_quotes_the_first_error_line() -> None:
    lines = ["level=INFO msg=start", 'level=ERROR msg="migrations failed" error="column x"', "level=INFO msg=bye"]
    assert verdict(lines, exit_code=1) == ("exits", "exit code 1: ERROR migrations failed error=column x")
    assert error_line(["plain", "last"]) == "last"


def test_a_degradation_is_a_whole_phrase_and_says_when_it_is_on_purpose() -> None:
    assert verdict(['level=INFO msg="grpc listening"'])[0] == "healthy"
    state, evidence = verdict(['level=WARN msg="consumer skipped" error="TOKEN is not set"'])
    assert state == "degraded" and "[TOKEN left unset on purpose]" in evidence


def test_no_answer_without_degradation_is_unready() -> None:
    assert verdict(["level=INFO msg=listening"], probe_ok=False)[0] == "unready"


def test_json_lines_are_condensed() -> None:
    assert condense('{"level":"error","msg":"boom","error":"x"}') == "ERROR boom error=x"
