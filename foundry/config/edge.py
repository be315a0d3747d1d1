"""The edge's settings: the public host, the ingress, the gateway's limits and its Valkey."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field, StringConstraints

from foundry.config.base import ConfigProblem, Count, DnsLabel, Quantity, Section
from foundry.config.platform import Topology


class Cache(Section):
    """Valkey for the gateway's caching and coordination: one node, or a primary, replicas and Sentinels."""

    nodes: Count
    memory: Quantity


class Edge(Section):
    host: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    ingress_class: DnsLabel
    ingress_namespace: DnsLabel = "ingress-nginx"
    cors_origins: list[Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+$")]]
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)]
    tls_cluster_issuer: DnsLabel | None = None   # cert-manager ClusterIssuer; None: self-signed (dev only)
    cache: Cache


def edge_problems(edge: Edge, prod: bool) -> Iterable[ConfigProblem]:
    if len(edge.cors_origins) > 1:
        # OpenFoundry's gateway reads them as OF_CORS_ORIGINS through koanf, whose decoder turns one string into a
        # one-element list: "a,b" would be one origin that matches none (koanf v2.3.4 koanf.go:264-272)
        yield ConfigProblem("openfoundry:edge.corsOrigins", str(edge.cors_origins),
                            "at most one origin (the gateway at the pinned commit takes one from its environment)")
    if prod and edge.tls_cluster_issuer is None:
        yield ConfigProblem("openfoundry:edge.tlsClusterIssuer", "nothing",
                            "the cert-manager ClusterIssuer of the edge certificates, in prod (self-signed is dev only)")


def cache_problems(cache: Cache, topology: Topology, prod: bool) -> Iterable[ConfigProblem]:
    nodes = cache.nodes
    path = "openfoundry:edge.cache.nodes"
    if prod and nodes < 3:
        yield ConfigProblem(path, str(nodes), "3 or more in prod (a primary, replicas and a Sentinel majority)")
    elif nodes == 2:
        yield ConfigProblem(path, "2", "1, or 3 or more: two Sentinels cannot elect a leader once one is gone")
    if nodes > topology.nodes:
        yield ConfigProblem(path, str(nodes), f"at most topology.nodes ({topology.nodes}): one per node")
