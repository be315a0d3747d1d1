"""The operational store as a real server: Cassandra at the pin (ops/engine/cassandra.py) on the bridge's host
address and CQL's port, with the rendered K8ssandraCluster's cassandra.yaml settings (its `cassandraYaml`, the
authentication `auth` adds, internode TLS with stores issued here as cert-manager would); the superuser
k8ssandra-operator makes from its Secret; then the rendered schema Job's own container run as its pod would run it
(its script and statements from its ConfigMap, its environment resolved from the rendered Secrets as the kubelet
would), with Cassandra 5.0's cqlsh. Its Service names reach the server.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster

from foundry.versions import CASSANDRA_VERSION
from ops.boot.env import PodFacts, declared_env
from ops.boot.operators import new_password
from ops.boot.rendered import Rendered, name_of, namespace_of, service_names
from ops.engine import cassandra
from ops.engine.toolchain import ToolchainError, log

CQL_PORT = 9042
SCHEMA_JOB = "cassandra-schema-"
BOOT_HEAP = "1Gi"   # one machine for every pod: the rendered heap is the pod's, sized for a node of its own


@dataclass
class CassandraStandIn:
    hosts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _heap(spec: dict[str, Any]) -> str:
    wanted = str(((spec.get("cassandra") or {}).get("config") or {}).get("jvmOptions", {}).get("heap_max_size") or BOOT_HEAP)
    return wanted if wanted.endswith("Mi") else BOOT_HEAP


def _superuser(rendered: Rendered, namespace: str, spec: dict[str, Any], node: cassandra.Node) -> tuple[str, str]:
    """The superuser k8ssandra-operator makes from the rendered Secret (its management API does it in the pod)."""
    name = ((spec.get("cassandra") or {}).get("superuserSecretRef") or {}).get("name", "")
    data = rendered.secret_data(namespace, name) or {}
    user, password = data.get("username", b"").decode(), data.get("password", b"").decode()
    if not user or not password:
        raise ToolchainError(f"the K8ssandraCluster's superuser Secret {namespace}/{name} has no username and password")
    cluster = Cluster([node.address], port=node.port, auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
                      protocol_version=5)
    try:
        session = cluster.connect()
        session.execute(f"CREATE ROLE IF NOT EXISTS {user} WITH SUPERUSER = true AND LOGIN = true AND PASSWORD = %s",
                        (password,))
    finally:
        cluster.shutdown()
    return user, password


def run_schema_job(rendered: Rendered, namespace: str, node: cassandra.Node, work: Path) -> str:
    """The rendered schema Job's container, run on this machine against `node`; '' when it succeeded."""
    jobs = [job for job in rendered.of_kind("Job", namespace) if name_of(job).startswith(SCHEMA_JOB)]
    if len(jobs) != 1:
        return f"{len(jobs)} schema Jobs rendered in {namespace}: nothing applied"
    pod = jobs[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = declared_env(container, PodFacts(name_of(jobs[0]), namespace, node.address), rendered, {})
    volume = next(v for v in pod["volumes"] if v.get("configMap"))
    files = rendered.config_map_data(namespace, volume["configMap"]["name"]) or {}
    for key, text in files.items():
        (work / key).write_bytes(text)
    # the Job dials the cluster's Service; here its name would need the pod's /etc/hosts, so the address itself
    env.update({"CQL_HOST": node.address, "CQL_DIR": str(work), "HOME_DIR": str(work),
                "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin"})
    script = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume["name"])
    command = [str(work / Path(part).name) if part.startswith(script + "/") else part for part in container["command"]]
    result = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=300)
    return "" if result.returncode == 0 else f"exit {result.returncode}: {(result.stdout + result.stderr)[-800:]}"


@contextlib.contextmanager
def cassandra_server(rendered: Rendered, address: str) -> Iterator[CassandraStandIn]:
    """The rendered K8ssandraCluster's one datacenter as one node, its keyspaces and roles applied; nothing when
    the render has none."""
    clusters = rendered.of_kind("K8ssandraCluster")
    if not clusters:
        yield CassandraStandIn()
        return
    (found,) = clusters
    spec, namespace = dict(found["spec"]), namespace_of(found)
    offered = CassandraStandIn()
    heap = _heap(spec)
    if heap == BOOT_HEAP:
        offered.notes.append(f"Cassandra: heap {BOOT_HEAP} here, not the rendered one (a node's own machine)")
    with tempfile.TemporaryDirectory(prefix="boot-cassandra-") as work:
        root = Path(work)
        # cert-manager's stores for the internode Certificate, stood in (a render holds no issued certificate)
        stores = cassandra.issue_stores(root / "stores", new_password())
        settings = cassandra.k8ssandra_settings(spec, stores)
        with cassandra.Node(root / "node", settings, heap, address, CQL_PORT) as node:
            _superuser(rendered, namespace, spec, node)
            (root / "job").mkdir()
            failed = run_schema_job(rendered, namespace, node, root / "job")
            offered.notes.append(f"Cassandra schema Job: {failed}" if failed else
                                 f"Cassandra {CASSANDRA_VERSION}: schema Job applied")
            log(offered.notes[-1], "boot")
            cluster = str((spec.get("cassandra") or {}).get("clusterName") or name_of(found))
            for dc in (spec.get("cassandra") or {}).get("datacenters") or []:
                service = f"{cluster}-{dc['metadata']['name']}-service"
                offered.hosts.update({name: address for name in service_names(service, namespace)})
            yield offered
