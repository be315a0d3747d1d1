"""The gateway's Valkey under mocks, and its start scripts run for real against a stand-in Valkey."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from components.edge.cache import CURRENT_PRIMARY, START_SENTINEL, START_VALKEY, max_memory_bytes, quorum, server_config
from foundry.config import ConfigErrors, StackConfig, load_stack_config
from foundry.defaults import deep_merge
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, by_metadata_name

STATEFULSET = "kubernetes:apps/v1:StatefulSet"


def gateway_env(resources: list[Registered]) -> dict[str, Any]:
    (container,) = by_metadata_name(resources, "kubernetes:apps/v1:Deployment")["gateway"].inputs["spec"]["template"][
        "spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_prod_runs_a_primary_replicas_and_sentinels(prod_resources: list[Registered]) -> None:
    valkey = by_metadata_name(prod_resources, STATEFULSET)["valkey"].inputs["spec"]
    assert valkey["replicas"] == 3 and valkey["podManagementPolicy"] == "OrderedReady"
    pod = valkey["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["valkey", "sentinel", "exporter"]
    assert all(c["image"].startswith("docker.io/valkey/valkey:") for c in pod["containers"][:2])
    assert "valkey" in by_metadata_name(prod_resources, "kubernetes:monitoring.coreos.com/v1:PodMonitor")
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    env = {e["name"]: e.get("value") for e in pod["containers"][1]["env"]}
    assert env["QUORUM"] == "2"
    assert "valkey" in by_metadata_name(prod_resources, "kubernetes:policy/v1:PodDisruptionBudget")
    assert by_metadata_name(prod_resources, STATEFULSET)["valkey"].protected


def test_the_gateway_reaches_the_primary_through_its_proxy(prod_resources: list[Registered]) -> None:
    """The gateway reads one URL (OF_REDIS_URL, go-redis ParseURL): the proxy that follows the Sentinels' choice."""
    env = gateway_env(prod_resources)
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "valkey-auth", "key": "password"}}
    assert env["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@valkey-primary.openfoundry-edge.svc:6379/0"
    assert env["OF_REDIS_URL"] == "$(REDIS_URL)"
    names = [e["name"] for e in by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment")["gateway"].inputs[
        "spec"]["template"]["spec"]["containers"][0]["env"]]
    # Kubernetes expands $(NAME) only from variables defined before
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL") < names.index("OF_REDIS_URL")
    proxy = by_metadata_name(prod_resources, "kubernetes:apps/v1:Deployment")["valkey-primary"].inputs["spec"]
    assert proxy["replicas"] == 2 and proxy["template"]["spec"]["affinity"]["podAntiAffinity"]
    (container,) = proxy["template"]["spec"]["containers"]
    assert container["image"].startswith("docker.io/library/haproxy:")
    config = by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")["valkey-primary"].inputs["data"]["haproxy.cfg"]
    servers = [line.split()[2] for line in config.splitlines() if line.strip().startswith("server ")]
    assert servers == [f"valkey-{i}.valkey-headless.openfoundry-edge.svc.cluster.local:6379" for i in range(3)]
    assert "tcp-check expect string role:master" in config and "${VALKEY_PASSWORD}" in config
    assert "valkey-primary" in by_metadata_name(prod_resources, "kubernetes:policy/v1:PodDisruptionBudget")


def test_development_runs_one_node_without_sentinels(dev_resources: list[Registered]) -> None:
    valkey = by_metadata_name(dev_resources, STATEFULSET)["valkey"].inputs["spec"]
    assert valkey["replicas"] == 1
    assert [c["name"] for c in valkey["template"]["spec"]["containers"]] == ["valkey", "exporter"]
    assert gateway_env(dev_resources)["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@valkey.openfoundry-edge.svc:6379/0"
    assert "valkey-primary" not in by_metadata_name(dev_resources, "kubernetes:apps/v1:Deployment")


def test_only_the_proxy_and_valkey_itself_connect(prod_resources: list[Registered]) -> None:
    policies = by_metadata_name(prod_resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    nodes, clients, scrape = policies["valkey"].inputs["spec"]["ingress"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in nodes["from"]] == ["valkey"]
    assert sorted(p["port"] for p in nodes["ports"]) == [6379, 26379]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in clients["from"]] == ["valkey-primary"]
    assert [p["port"] for p in clients["ports"]] == [6379]
    # Prometheus, from its namespace, reaches the exporter only
    assert scrape == {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                      "ports": [{"port": 9121, "protocol": "TCP"}]}
    proxy = policies["valkey-primary"].inputs["spec"]
    admitted, _ = proxy["ingress"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in admitted["from"]] == ["gateway"]
    (egress,) = proxy["egress"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in egress["to"]] == ["valkey"]


def test_the_password_is_generated_and_kept_secret(prod_resources: list[Registered]) -> None:
    secret = by_metadata_name(prod_resources, "kubernetes:core/v1:Secret")["valkey-auth"].inputs
    # the generated password makes the whole map a Pulumi secret (the engine's wrapped form under mocks)
    assert secret["stringData"][rpc._special_sig_key] == rpc._special_secret_sig
    config = by_metadata_name(prod_resources, "kubernetes:core/v1:ConfigMap")["valkey"].inputs["data"]
    assert not any("requirepass" in text and "$VALKEY_PASSWORD" not in text for text in config.values())


def test_server_config_bounds_memory_and_keeps_an_append_only_file(prod_config: StackConfig) -> None:
    text = server_config(prod_config.edge.cache)
    assert f"maxmemory {int(2 * 1024**3 * 0.8)}" in text and "maxmemory-policy volatile-lru" in text
    assert 'save ""' in text and "appendonly yes" in text
    assert max_memory_bytes("256Mi") == int(256 * 1024**2 * 0.8)
    assert [quorum(n) for n in (1, 3, 5)] == [1, 2, 3]


@pytest.mark.parametrize(("environment", "nodes", "expected"), [
    ("prod", 1, "3 or more in prod"), ("dev", 2, "two Sentinels cannot elect a leader"), ("dev", 4, "at most topology.nodes"),
])
def test_bad_cache_sizes_are_named(environment: str, nodes: int, expected: str) -> None:
    values = deep_merge(read_stack_values(environment), {"edge": {"cache": {"nodes": nodes}}})
    with pytest.raises(ConfigErrors) as err:
        load_stack_config(values, environment)
    messages = [str(p) for p in err.value.problems if p.path == "openfoundry:edge.cache.nodes"]
    assert any(expected in m for m in messages), messages


# --- the scripts, run by /bin/sh with stand-ins for the Valkey binaries and the pod's host name ----------------

def stand_ins(tmp_path: Path, sentinel_answers: dict[str, list[str]], host: str) -> dict[str, str]:
    """valkey-cli answers as the Sentinels would: per host, one answer per call (the last one repeats); unknown
    hosts are unreachable. The servers print the config they were started with."""
    bin_dir, answers, etc = tmp_path / "bin", tmp_path / "answers", tmp_path / "etc"
    for directory in (bin_dir, answers, etc):
        directory.mkdir()
    for sentinel, replies in sentinel_answers.items():
        (answers / sentinel).write_text("\n".join(replies) + "\n")
    scripts = {
        "valkey-cli": f"""
            [ -n "${{VALKEYCLI_AUTH:-}}" ] || {{ echo "NOAUTH" >&2; exit 1; }}
            host=""
            while [ $# -gt 0 ]; do [ "$1" = "-h" ] && host="$2"; shift; done
            file="{answers}/$host"
            [ -f "$file" ] || {{ echo "Could not connect to Valkey at $host" >&2; exit 1; }}
            calls="$(cat "$file.calls" 2>/dev/null || echo 0)"; calls=$((calls + 1)); echo "$calls" > "$file.calls"
            reply="$(sed -n "${{calls}}p" "$file")"; [ -n "$reply" ] || reply="$(tail -n 1 "$file")"
            printf "%s\\n6379\\n" "$reply"
            """,
        "valkey-server": 'echo "server started with $1"; cat "$1"',
        "valkey-sentinel": 'echo "sentinel started with $1"; cat "$1"',
        "hostname": f'echo "{host}"',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
        path.chmod(0o755)
    (etc / "current-primary.sh").write_text(CURRENT_PRIMARY)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "NODES": "3", "STATEFULSET": "valkey",
            "HEADLESS": "valkey-headless", "VALKEY_PORT": "6379", "SENTINEL_PORT": "26379", "PRIMARY_SET": "openfoundry",
            "QUORUM": "2", "DOWN_AFTER_MS": "0", "FAILOVER_TIMEOUT_MS": "60000", "VALKEY_PASSWORD": "s3cret",
            "VALKEYCLI_AUTH": "s3cret", "DATA_DIR": str(tmp_path), "SENTINEL_DIR": str(tmp_path)}


def run_script(script: str, env: dict[str, str], tmp_path: Path) -> str:
    text = script.replace("/etc/valkey/", f"{tmp_path}/etc/")
    result = subprocess.run(["/bin/sh", "-c", text], env=env, capture_output=True, text=True, check=True, timeout=30)
    return result.stdout


def test_every_script_is_valid_shell() -> None:
    for script in (CURRENT_PRIMARY, START_VALKEY, START_SENTINEL):
        subprocess.run(["/bin/sh", "-n", "-c", script], check=True)


def test_on_a_cold_start_the_first_pod_is_the_primary(tmp_path: Path) -> None:
    first = run_script(START_VALKEY, stand_ins(tmp_path, {}, "valkey-0"), tmp_path)
    assert "requirepass s3cret" in first and "replicaof" not in first
    assert "replica-announce-ip valkey-0.valkey-headless" in first


def test_a_later_pod_replicates_from_the_primary_the_sentinels_name(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, {"valkey-1.valkey-headless": ["valkey-2.valkey-headless"]}, "valkey-0")
    restarted_first = run_script(START_VALKEY, env, tmp_path)
    assert "replicaof valkey-2.valkey-headless 6379" in restarted_first
    sentinel = run_script(START_SENTINEL, env, tmp_path)
    assert "sentinel monitor openfoundry valkey-2.valkey-headless 6379 2" in sentinel
    assert "sentinel auth-pass openfoundry s3cret" in sentinel
    assert sentinel.index("sentinel monitor") < sentinel.index("sentinel auth-pass")


def test_a_restarted_primary_waits_for_the_sentinels_to_promote_a_replica(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, {"valkey-0.valkey-headless": ["valkey-2.valkey-headless", "valkey-1.valkey-headless"]},
                    "valkey-2")
    assert "replicaof valkey-1.valkey-headless 6379" in run_script(START_VALKEY, env, tmp_path)


def test_a_primary_nobody_replaces_serves_again(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, {"valkey-0.valkey-headless": ["valkey-2.valkey-headless"]}, "valkey-2")
    assert "replicaof" not in run_script(START_VALKEY, env, tmp_path)


def test_no_password_on_a_command_line(prod_resources: list[Registered]) -> None:
    for script in (CURRENT_PRIMARY, START_VALKEY, START_SENTINEL):
        assert " -a " not in script
    pod = by_metadata_name(prod_resources, STATEFULSET)["valkey"].inputs["spec"]["template"]["spec"]
    probes = [c["readinessProbe"]["exec"]["command"] for c in pod["containers"] if "exec" in c["readinessProbe"]]
    assert probes and not any("-a" in part.split() for probe in probes for part in probe)
