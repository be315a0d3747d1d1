"""The operational store (OpenFoundry ADR-0020: Cassandra by k8ssandra-operator) as plain checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openfoundry_policies.resources import Resource

K8SSANDRA = "kubernetes:k8ssandra.io/v1alpha1:K8ssandraCluster"
ZONE_LABEL = "topology.kubernetes.io/zone"
# what Cassandra lets anyone in with (cassandra.yaml's defaults when k8ssandra's `auth` is off)
OPEN_DOORS = {"authenticator": "AllowAllAuthenticator", "authorizer": "AllowAllAuthorizer",
              "role_manager": None}


def _yaml(r: Resource) -> dict[str, Any]:
    return dict(((r.spec.get("cassandra") or {}).get("config") or {}).get("cassandraYaml") or {})


def cassandra_authenticated(r: Resource) -> Iterator[str]:
    """A login and grants for every client: k8ssandra's `auth` (PasswordAuthenticator, CassandraAuthorizer; its
    default is true) never off, and no cassandra.yaml that opens the door again."""
    if r.type != K8SSANDRA:
        return
    if r.spec.get("auth") is False:
        yield f"{r.label} turns authentication off (spec.auth: false)"
    settings = _yaml(r)
    for key, open_value in OPEN_DOORS.items():
        value = str(settings.get(key, ""))
        if open_value and value.rpartition(".")[2] == open_value:
            yield f"{r.label} sets {key}: {value}, which admits anyone"


def cassandra_zone_racks(r: Resource) -> Iterator[str]:
    """Each datacenter holds 3+ nodes in a rack per zone, each rack bound to its zone (NetworkTopologyStrategy puts
    one replica per rack: RF 3 at LOCAL_QUORUM then survives a zone)."""
    if r.type != K8SSANDRA:
        return
    for dc in (r.spec.get("cassandra") or {}).get("datacenters") or []:
        name = (dc.get("metadata") or {}).get("name", "?")
        racks = dc.get("racks") or []
        zones = {(rack.get("nodeAffinityLabels") or {}).get(ZONE_LABEL) for rack in racks}
        size = int(float(dc.get("size") or 0))   # numbers reach a policy as floats through the engine
        if size < 3:
            yield f"{r.label} datacenter {name} runs {size} node(s); production needs 3 or more"
        if len(racks) < 3 or None in zones or len(zones) != len(racks):
            yield f"{r.label} datacenter {name} has no rack per zone (3+ racks, each bound by {ZONE_LABEL})"


# --- the pods cass-operator makes ------------------------------------------------------------------------------
# cass-operator v1.30.3 (the k8ssandra-operator 1.32.5 chart's): GetContainerPorts (cassandradatacenter_types.go),
# the datacenter and rack labels (GetDatacenterLabels, GetRackLabels), the containers it makes for Cassandra >= 4.1
# (construct_podtemplatespec.go: cassandra, server-system-logger; init server-config-init-base, server-config-init),
# whose security contexts are the K8ssandraCluster's `containers`/`initContainers` entries of the same name
CASSANDRA_PORTS = {"native": 9042, "tls-native": 9142, "internode": 7000, "tls-internode": 7001, "jmx": 7199,
                   "mgmt-api-http": 8080, "prometheus": 9103, "metrics": 9000}
MEDUSA_GRPC = 50051
CASS_CONTAINERS = ("cassandra", "server-system-logger")
CASS_INIT_CONTAINERS = ("server-config-init-base", "server-config-init")
# cass-operator's pod context when the template sets none (construct_podtemplatespec.go: no seccomp profile)
CASS_DEFAULT_POD_SECURITY = {"runAsUser": 999, "runAsGroup": 999, "fsGroup": 999, "runAsNonRoot": True}


def clean_name(name: str) -> str:
    """cass-operator's CleanupForKubernetes: lower case, `_` as `-`."""
    return name.lower().replace("_", "-")


def cassandra_pod_specs(r: Resource) -> Iterator[tuple[str, str, dict[str, str], dict[str, int], dict[str, Any]]]:
    """(name, namespace, labels, ports, pod spec) of each rack's pods of a K8ssandraCluster."""
    cassandra = r.spec.get("cassandra") or {}
    cluster = clean_name(str(cassandra.get("clusterName") or r.metadata.get("name", "")))
    namespace = str(r.metadata.get("namespace", ""))

    def containers(entries: list[dict[str, Any]], names: tuple[str, ...], ports: bool) -> list[dict[str, Any]]:
        given = {e.get("name"): e for e in entries}
        made = []
        for name in names:
            container: dict[str, Any] = {"name": name}
            if (given.get(name) or {}).get("securityContext"):
                container["securityContext"] = dict(given[name]["securityContext"])
            if ports and name == "cassandra":
                container["ports"] = [{"name": n, "containerPort": p} for n, p in CASSANDRA_PORTS.items()]
            made.append(container)
        return made

    made = containers(cassandra.get("containers") or [], CASS_CONTAINERS, True)
    made_init = containers(cassandra.get("initContainers") or [], CASS_INIT_CONTAINERS, False)
    ports = dict(CASSANDRA_PORTS)
    medusa = r.spec.get("medusa")
    if medusa is not None:
        # k8ssandra-operator's sidecar and restore init container, whose security context is `medusa.securityContext`
        # (pkg/medusa/reconcile.go: the operator rebuilds both, so `containers` entries do not reach them)
        security = dict(medusa.get("securityContext") or {})
        sidecar: dict[str, Any] = {"name": "medusa", "ports": [{"name": "grpc", "containerPort": MEDUSA_GRPC}]}
        restore: dict[str, Any] = {"name": "medusa-restore"}
        if security:
            sidecar["securityContext"], restore["securityContext"] = security, dict(security)
        made.append(sidecar)
        made_init.append(restore)
        ports["grpc"] = MEDUSA_GRPC
    spec = {"securityContext": dict(cassandra.get("podSecurityContext") or CASS_DEFAULT_POD_SECURITY),
            "containers": made, "initContainers": made_init}
    for dc in cassandra.get("datacenters") or []:
        datacenter = clean_name(str((dc.get("metadata") or {}).get("name", "")))
        for rack in dc.get("racks") or [{"name": "default"}]:
            labels = {"app.kubernetes.io/managed-by": "cass-operator", "app.kubernetes.io/name": "cassandra",
                      "cassandra.datastax.com/cluster": cluster, "cassandra.datastax.com/datacenter": datacenter,
                      "cassandra.datastax.com/rack": str(rack.get("name"))}
            yield (f"K8ssandraCluster {namespace}/{r.metadata.get('name')}: {datacenter} rack {rack.get('name')}",
                   namespace, labels, ports, spec)
