"""What the Prometheus Operator made of the stack on the rehearsal cluster (ops/rehearsal/controllers.py): the
configuration and rule files of Prometheus `monitoring/rehearsal`, read from the objects it writes, and a real
Prometheus (from its Go module, ops/engine/promtool.py) started on them."""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lightkube import Client

from foundry.config import Monitoring
from ops.engine.kafka import free_port
from ops.engine.promtool import prometheus
from ops.rehearsal import kube as api
from ops.rehearsal.controllers import PROMETHEUS
from tests.processes import kill_tree

MONITORING = Monitoring()
CONFIG_SECRET = f"prometheus-{PROMETHEUS}"
PORT_NAME_LABEL = "__meta_kubernetes_pod_container_port_name"
RELOADER_ENV = {"SHARD": "0", "POD_NAME": f"prometheus-{PROMETHEUS}-0"}
NOWHERE = {"target_label": "__address__", "replacement": "127.0.0.1:9"}   # the discard port, closed


def selected(kube: Client, kind: str) -> list[dict[str, Any]]:
    """The stack's objects of `kind` the cluster's Prometheus selects (its selector labels)."""
    return [o for o in api.listed(kube, "monitoring.coreos.com/v1", kind)
            if MONITORING.selector_labels.items() <= ((o["metadata"].get("labels") or {}).items())]


def expected_jobs(monitors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The operator's job name for each endpoint of each PodMonitor (`podMonitor/<namespace>/<name>/<index>`)."""
    return {f"podMonitor/{m['metadata']['namespace']}/{m['metadata']['name']}/{i}": endpoint
            for m in monitors for i, endpoint in enumerate(m["spec"]["podMetricsEndpoints"])}


def generated_config(kube: Client) -> dict[str, Any]:
    secret = api.fetched(kube, "v1", "Secret", CONFIG_SECRET, MONITORING.namespace)
    if secret is None:
        return {}
    packed = base64.b64decode((secret.get("data") or {}).get("prometheus.yaml.gz", ""))
    return yaml.safe_load(gzip.decompress(packed)) if packed else {}


def jobs_once_reconciled(kube: Client, expected: set[str], timeout: float = 90.0) -> dict[str, dict[str, Any]]:
    """The generated scrape jobs, once they name `expected` (the operator reconciles shortly after a change)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = {j["job_name"]: j for j in generated_config(kube).get("scrape_configs") or []}
        if expected <= set(jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(1)


def discoverable(kube: Client, monitors: list[dict[str, Any]]) -> dict[str, int]:
    """For each job whose PodMonitor selects a pod of the rehearsal that has an address, the targets discovery must
    find: one per selected pod and container port of the endpoint's name (pods of operators that do not run here
    never exist). The monitors this counts for select by labels in their own namespace (asserted)."""
    pods = [p for p in api.listed(kube, "v1", "Pod") if (p.get("status") or {}).get("podIP")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    found: dict[str, int] = {}
    for monitor in monitors:
        assert set(monitor["spec"]["selector"]) == {"matchLabels"} and "namespaceSelector" not in monitor["spec"], \
            f"{monitor['metadata']['name']}: a selector this count does not model"
        namespace, labels = monitor["metadata"]["namespace"], monitor["spec"]["selector"]["matchLabels"]
        chosen = [p for p in pods if p["metadata"]["namespace"] == namespace
                  and labels.items() <= (p["metadata"].get("labels") or {}).items()]
        for index, endpoint in enumerate(monitor["spec"]["podMetricsEndpoints"]):
            targets = sum(1 for pod in chosen for c in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]
                          for port in c.get("ports") or [] if port.get("name") == endpoint.get("port"))
            if targets:
                found[f"podMonitor/{namespace}/{monitor['metadata']['name']}/{index}"] = targets
    return found


def discovered_once_settled(url: str, expected: dict[str, int], timeout: float = 90.0) -> dict[str, Target]:
    """Service discovery's targets once they are what is expected (or the time is up), read again after two of
    the scrape manager's 5 s updates so that nothing more turns up."""
    deadline = time.monotonic() + timeout
    while True:
        pools = discovered(url)
        if {pool: found.count for pool, found in pools.items()} == expected:
            break
        if time.monotonic() > deadline:
            return pools
        time.sleep(2)
    time.sleep(11)
    return discovered(url)


def keeps_port(job: dict[str, Any], port: str) -> bool:
    """The job keeps only the targets on the container port named `port`."""
    return any(r.get("action") == "keep" and r.get("source_labels") == [PORT_NAME_LABEL] and r.get("regex") == port
               for r in job.get("relabel_configs") or [])


def rule_files(kube: Client) -> dict[str, str]:
    """Every rule file the operator wrote for the Prometheus, over all its ConfigMaps (it splits them by size)."""
    maps = [m for m in api.listed(kube, "v1", "ConfigMap", MONITORING.namespace)
            if (m["metadata"].get("labels") or {}).get("prometheus-name") == PROMETHEUS]
    assert maps, f"no rule files for Prometheus {PROMETHEUS}"
    return {name: text for m in maps for name, text in (m.get("data") or {}).items()}


def out_of_cluster(config: dict[str, Any], kubeconfig: Path, rules: Path) -> dict[str, Any]:
    """The configuration as the pod's Prometheus reads it, from this machine: `$(NAME)` expanded as the operator's
    config reloader expands it from its environment (thanos pkg/reloader: SHARD, 0 for one shard, and POD_NAME;
    other names stay), service discovery through the rehearsal's kubeconfig in place of the pod's service account,
    the rule files where they are written here."""
    text = re.sub(r"\$\(([a-zA-Z_0-9]+)\)", lambda m: RELOADER_ENV.get(m.group(1), m.group(0)), yaml.safe_dump(config))
    expanded = yaml.safe_load(text)
    jobs = [{**job, "kubernetes_sd_configs": [{**sd, "kubeconfig_file": str(kubeconfig)}
                                              for sd in job.get("kubernetes_sd_configs") or []],
             # no scrape reaches KWOK's made-up pod addresses (they may be real hosts of this machine's network)
             "relabel_configs": [*(job.get("relabel_configs") or []), NOWHERE]}
            for job in expanded.get("scrape_configs") or []]
    return {**expanded, "scrape_configs": jobs, "rule_files": [str(rules / "*.yaml")]}


@contextmanager
def serving(config: dict[str, Any], rules: dict[str, str], kubeconfig: Path, directory: Path) -> Iterator[str]:
    """A real Prometheus on the generated configuration and rule files; yields its URL once ready."""
    (directory / "rules").mkdir(parents=True)
    for name, text in rules.items():
        (directory / "rules" / name).write_text(text)
    local = out_of_cluster(config, kubeconfig, directory / "rules")
    (directory / "prometheus.yaml").write_text(yaml.safe_dump(local))
    port = free_port()
    with (directory / "prometheus.log").open("wb") as log:
        process = subprocess.Popen([str(prometheus()), f"--config.file={directory / 'prometheus.yaml'}",
                                    f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Prometheus did not start:\n{(directory / 'prometheus.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        kill_tree(process.pid)
        process.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def loaded_groups(url: str) -> Counter[str]:
    with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=10) as answer:
        return Counter(group["name"] for group in json.load(answer)["data"]["groups"])


def errors(directory: Path) -> list[str]:
    return [line for line in (directory / "prometheus.log").read_text().splitlines() if "level=ERROR" in line]


@dataclass
class Target:
    count: int = 0
    jobs: set[str] = field(default_factory=set)   # the `job` label the targets' series carry


def discovered(url: str) -> dict[str, Target]:
    """Each scrape pool's targets that service discovery found (never scraped: out_of_cluster points them away)."""
    with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=10) as answer:
        pools: dict[str, Target] = {}
        for target in json.load(answer)["data"]["activeTargets"]:
            pool = pools.setdefault(target["scrapePool"], Target())
            pool.count += 1
            pool.jobs.add(target["labels"].get("job", ""))
        return pools
