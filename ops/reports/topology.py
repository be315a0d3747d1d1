"""The topology diagram: the planes as clusters, every catalog service, the data stores, the buses and the edge,
joined by the flows `make flows` checks (ops/flowmap.py), drawn by Graphviz. Nothing here is placed by hand: the
nodes are the stack's pods grouped by what they are, the edges its required flows collapsed by their ends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import graphviz

from foundry.catalog import PLANES, Catalog
from ops.checks.flowmap import Flow
from ops.checks.runtime import IDENTITY_PROVIDER_IP, Pod

RELATIONAL = "relational"
# the shared systems the services use: drawn once, reached from a plane as a whole (one edge, "n services")
SHARED = {"Postgres": RELATIONAL, "Kafka": "ingestion", "NATS JetStream": "control", "Lakekeeper": "storage",
          "Ceph RGW": "storage", "Vespa": "storage", "Valkey": "edge", "OpenFGA": "storage", "Trino": "compute"}
# ports worth reading on the picture: the edge's and the buses'
LABELLED_KINDS = {"edge", "sql", "kafka", "nats"}
LEGEND = ("boxes: catalog services; cylinders: data stores and buses; dashed: outside the stack.\n"
          "An edge from a plane's frame: that many of its services connect. Not drawn: every pod to the cluster's DNS, "
          "Prometheus to every metrics port, the operators to their pods (make flows checks all of them).")


@dataclass(frozen=True)
class Box:
    name: str
    plane: str      # a plane, "relational", or "outside"
    shared: bool = False


def box_of(end: Pod | str) -> Box | None:
    """What a flow's end is on the picture, or None when it is not drawn."""
    if isinstance(end, str):
        return Box("Identity provider", "outside") if end == IDENTITY_PROVIDER_IP else None
    kind, _, rest = end.name.partition(" ")
    namespace, _, name = rest.partition("/")
    name = name.split(":")[0]
    plane = namespace.removeprefix("openfoundry-")
    grouped = [("pg-", "Postgres"), ("trino-", "Trino"), ("vespa", "Vespa"), ("lakekeeper", "Lakekeeper")]
    if kind in ("Cluster", "Pooler") or kind == "Kafka" or kind == "CephObjectStore":
        label = {"Cluster": "Postgres", "Pooler": "Postgres", "Kafka": "Kafka", "CephObjectStore": "Ceph RGW"}[kind]
        return Box(label, SHARED[label], shared=True)
    if end.name == "the ingress controller":
        return Box("Ingress controller", "outside")
    if kind == "FlinkDeployment":
        return Box("Iceberg writers" if name.startswith("iceberg-writer") else "Iceberg maintenance", plane)
    if kind not in ("Deployment", "StatefulSet", "Job", "NACK"):
        return None
    for prefix, label in grouped:
        if name.startswith(prefix):
            return Box(label, SHARED[label], shared=True)
    named = {"nats": "NATS JetStream", "valkey": "Valkey", "openfga": "OpenFGA", "nack": "NACK"}
    if name in named:
        label = named[name]
        return Box(label, SHARED.get(label, plane), shared=label in SHARED)
    return Box(name, plane)


@dataclass(frozen=True)
class End:
    """An end of a drawn edge: one box, or a plane's services as a group (`services` set to the plane)."""

    box: Box | None = None
    services: str = ""


def edges(flows: list[Flow], services: set[str], fan_out: set[str]) -> dict[tuple[End, End], set[str]]:
    """Required flows collapsed by their ends. A service's flows to a shared system leave from its plane's services
    as a group; the flows of a box in `fan_out` (the gateway) to services arrive at each plane's services as a group."""
    found: dict[tuple[End, End], set[str]] = defaultdict(set)
    grouped: dict[tuple[End, End], set[str]] = defaultdict(set)
    for flow in (f for f in flows if f.required):
        source, destination = box_of(flow.source), box_of(flow.destination)
        if source is None or destination is None or source == destination:
            continue
        label = _label(flow)
        if destination.shared and source.name in services:
            key = (End(services=source.plane), End(destination))
            grouped[key].add(source.name)
        elif source.name in fan_out and destination.name in services:
            key = (End(source), End(services=destination.plane))
            grouped[key].add(destination.name)
        else:
            key = (End(source), End(destination))
        found[key].add(label)
    for key, names in grouped.items():
        found[key].add(f"{len(names)} service{'s' if len(names) > 1 else ''}")
    return found


def _label(flow: Flow) -> str:
    return f":{flow.port}" if flow.kind in LABELLED_KINDS else ""


def diagram(stack: str, catalog: Catalog, flows: list[Flow]) -> graphviz.Digraph:
    services = {s.name for s in catalog.services}
    joined = edges(flows, services, fan_out={"gateway"})
    boxes = {end.box for pair in joined for end in pair if end.box is not None}
    boxes |= {Box(s.name, s.plane) for s in catalog.services}
    graph = graphviz.Digraph(f"openfoundry-{stack}", graph_attr={
        "rankdir": "LR", "compound": "true", "fontname": "Helvetica", "ranksep": "1.2", "nodesep": "0.2",
        "label": f"OpenFoundry {stack}: planes, services, stores and flows\n{LEGEND}", "labelloc": "b", "fontsize": "11"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"}, edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    anchors: dict[str, str] = {}
    for plane in [*PLANES, RELATIONAL, "outside"]:
        members = sorted((b for b in boxes if b.plane == plane), key=lambda b: b.name)
        if members:
            _plane_frame(graph, plane, members, services, anchors)
    for (source, destination), labels in sorted(joined.items(), key=lambda item: _edge_key(*item[0])):
        attributes = {"label": " ".join(sorted(label for label in labels if label)), "color": "gray55"}
        if source.services:
            attributes.update(ltail=f"cluster_{source.services}_services", color="gray25", penwidth="1.5")
        if destination.services:
            attributes.update(lhead=f"cluster_{destination.services}_services", color="gray25", penwidth="1.5")
        graph.edge(_end_id(source, anchors), _end_id(destination, anchors), **attributes)
    return graph


def _plane_frame(graph: graphviz.Digraph, plane: str, members: list[Box], services: set[str],
                 anchors: dict[str, str]) -> None:
    """A plane as a frame: its shared systems (cylinders) beside an inner frame of its services and workers."""
    outside = plane == "outside"
    with graph.subgraph(name=f"cluster_{plane}") as frame:
        frame.attr(label="outside the stack" if outside else f"{plane} plane", style="rounded,dashed" if outside
                   else "rounded", color="gray40", fontsize="12")
        inner = [b for b in members if not b.shared]
        for box in (b for b in members if b.shared):
            frame.node(_node_id(box), box.name, shape="cylinder")
        if outside or not inner:
            for box in inner:
                frame.node(_node_id(box), box.name, shape="ellipse", style="dashed")
            return
        with frame.subgraph(name=f"cluster_{plane}_services") as group:
            group.attr(label="", style="rounded,dotted", color="gray60")
            anchors[plane] = _node_id(next((b for b in inner if b.name in services), inner[0]))
            for box in inner:
                group.node(_node_id(box), box.name, shape="box", style="" if box.name in services else "rounded")


def _end_id(end: End, anchors: dict[str, str]) -> str:
    return anchors[end.services] if end.services else _node_id(end.box)  # type: ignore[arg-type]


def _edge_key(source: End, destination: End) -> tuple[str, str]:
    return (source.services or (source.box.name if source.box else ""),
            destination.services or (destination.box.name if destination.box else ""))


def _node_id(box: Box) -> str:
    return f"{box.plane}/{box.name}"


def draw(stack: str, catalog: Catalog, flows: list[Flow], target: Path) -> list[Path]:
    graph = diagram(stack, catalog, flows)
    written = []
    for fmt in ("svg", "png"):
        path = target / f"topology.{fmt}"
        path.write_bytes(graph.pipe(format=fmt))
        written.append(path)
    (target / "topology.dot").write_text(graph.source)
    return written
