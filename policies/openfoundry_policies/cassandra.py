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
        if int(dc.get("size") or 0) < 3:
            yield f"{r.label} datacenter {name} runs {dc.get('size')} node(s); production needs 3 or more"
        if len(racks) < 3 or None in zones or len(zones) != len(racks):
            yield f"{r.label} datacenter {name} has no rack per zone (3+ racks, each bound by {ZONE_LABEL})"
