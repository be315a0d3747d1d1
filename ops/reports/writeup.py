"""The reports `make report` writes (ops/report.py): the topology diagram, capacity.md/.json and zone-loss.md/.json
under reports/<stack>/, and the pull request's summary of them."""

from __future__ import annotations

import json
from pathlib import Path

from foundry.catalog import load_catalog
from foundry.config import StackConfig
from ops.checks.flowmap import flows_of
from ops.checks.runtime import Runtime, load_manifests
from ops.engine.toolchain import REPO
from ops.reports import topology
from ops.reports.capacity import Capacity, capacity_of
from ops.reports.units import human_bytes
from ops.reports.zoneloss import Site, Verdict, verdicts


def capacity_markdown(capacity: Capacity) -> str:
    nodes = capacity.nodes
    lines = [f"# Capacity of {capacity.stack}", "",
             f"Nodes (`topology.node`): {nodes.count} x {nodes.cpu:g} cores, {human_bytes(nodes.memory)}, "
             f"{nodes.pods} pods; disks per node: " + ", ".join(
                 f"{d.count} x {human_bytes(d.size)} {c}" for c, d in nodes.disks.items()), "",
             "## CPU and memory (steady state: autoscalers at their minimum; Jobs and CronJobs apart)", "",
             "| plane | pods | CPU requested | memory requested | CPU limits | memory limits | pods without requests |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for plane in [*capacity.planes(), None]:
        t = capacity.totals(plane)
        lines.append(f"| {plane or '**total**'} | {t['pods']} | {t['cpu']:.2f} | {human_bytes(t['memory'])} | "
                     f"{t['cpu_limit']:.2f}{' +' if t['no_cpu_limit'] else ''} | {human_bytes(t['memory_limit'])} | "
                     f"{t['no_requests']} |")
    total, ceiling = capacity.totals(), capacity.totals(at_max=True)
    have_cpu, have_memory = nodes.cpu * nodes.count, nodes.memory * nodes.count
    lines += ["", f"Requested {total['cpu']:.1f} of {have_cpu:g} cores ({total['cpu'] / have_cpu:.0%}), "
              f"{human_bytes(total['memory'])} of {human_bytes(have_memory)} ({total['memory'] / have_memory:.0%}); "
              f"with every autoscaler at its ceiling {ceiling['cpu']:.1f} cores ({ceiling['cpu'] / have_cpu:.0%}) and "
              f"{human_bytes(ceiling['memory'])} ({ceiling['memory'] / have_memory:.0%}). "
              "`+`: some containers have no CPU limit (by design: they may burst).", "",
              "## Storage (Ceph)", "", "| device class | usable claimed | raw (after replication / EC) | raw available |",
              "| --- | ---: | ---: | ---: |"]
    for device_class, need in capacity.storage().items():
        have = nodes.offered(device_class) * nodes.count
        lines.append(f"| {device_class} | {human_bytes(need['usable'])} | {human_bytes(need['raw'])} | "
                     f"{human_bytes(have)} ({need['raw'] / have:.0%} used) |" if have else
                     f"| {device_class} | {human_bytes(need['usable'])} | {human_bytes(need['raw'])} | none |")
    lines += ["", "Per zone (raw held, and the raw its nodes offer):", "", "| zone | nodes | "
              + " | ".join(capacity.storage()) + " |", "| --- | ---: |" + " ---: |" * len(capacity.storage())]
    for zone, held in capacity.per_zone().items():
        count = nodes.zones[zone]
        cells = [f"{human_bytes(held.get(c, 0.0))} of {human_bytes(nodes.offered(c) * count)}"
                 for c in capacity.storage()]
        lines.append(f"| {zone} | {count} | " + " | ".join(cells) + " |")
    lines += ["", "| claim | plane | pool | copies | size each | raw |", "| --- | --- | --- | ---: | ---: | ---: |"]
    for claim in sorted(capacity.claims, key=lambda c: -c.size * c.count * c.raw_factor):
        lines.append(f"| {claim.owner} | {claim.plane} | {claim.pool} ({claim.spread}) | {claim.count} | "
                     f"{human_bytes(claim.size)} | {human_bytes(claim.size * claim.count * claim.raw_factor)} |")
    if capacity.unbounded_buckets:
        lines += ["", f"Buckets without a quota ({len(capacity.unbounded_buckets)}, not counted above): "
                  + ", ".join(capacity.unbounded_buckets)]
    lines += ["", "## Operator-run workloads", "", "| what | runs it | pods | CPU each | memory each |",
              "| --- | --- | ---: | ---: | ---: |"]
    for w in (w for w in capacity.workloads if w.runs != "program"):
        lines.append(f"| {w.kind} {w.name} | {w.runs} | {w.replicas} | "
                     f"{f'{w.cpu:g}' if w.declared else 'not declared'} | "
                     f"{human_bytes(w.memory) if w.declared else 'not declared'} |")
    lines += ["", "## Problems", ""] + ([f"- {p}" for p in capacity.problems] or ["none: the stack fits its nodes"])
    lines += ["", "## Notes", ""] + ([f"- {n}" for n in capacity.notes] or ["none"])
    return "\n".join(lines) + "\n"


def zone_loss_markdown(stack: str, config: StackConfig, found: list[Verdict]) -> str:
    zones = config.topology.zones
    lines = [f"# Zone loss: {stack}", "",
             f"Zones: {', '.join(zones)}; racks {config.topology.racks}; nodes {config.topology.nodes} "
             "(placed as `Topology.layout` places them). Each verdict is for the worst zone to lose.", ""]
    if len(zones) == 1:
        lines += [f"{stack} has one zone: losing it loses everything. The verdicts below are what a multi-zone "
                  "layout of the same stack would not change.", ""]
    failing = [v for v in found if not v.survives]
    lines += [f"{len(found) - len(failing)} of {len(found)} systems survive.", "",
              "| system | kind | plane | survives | why |", "| --- | --- | --- | --- | --- |"]
    for v in sorted(found, key=lambda v: (v.survives, v.plane, v.system)):
        mark = "yes" if v.survives else ("no, accepted" if v.accepted else "**no**")
        lines.append(f"| {v.system} | {v.kind} | {v.plane} | {mark} | {v.reason} |")
    accepted = [v for v in failing if v.accepted]
    if accepted:
        lines += ["", "## Accepted, and why", ""] + [f"- **{v.system}**: {v.accepted}" for v in accepted]
    return "\n".join(lines) + "\n"


def room_after_zone_loss(capacity: Capacity, lost_nodes: int) -> Verdict:
    after = capacity.after_losing(lost_nodes)
    fits = after["cpu"] <= after["cpu_room"] and after["memory"] <= after["memory_room"]
    return Verdict("node capacity", "room to reschedule", "all", fits,
                   f"the fullest zone's {lost_nodes} nodes lost: {after['cpu']:.0f} of {after['cpu_room']:.0f} cores "
                   f"and {human_bytes(after['memory'])} of {human_bytes(after['memory_room'])} requested on the "
                   "nodes left (their OSDs included, the lost ones' gone)")


def write(stack: str, config: StackConfig, directory: Path, target: Path) -> tuple[Capacity, list[Verdict]]:
    """The three reports; nothing is written when the stack does not fit its nodes (the problems say why)."""
    documents = load_manifests(directory)
    capacity = capacity_of(stack, config, documents)
    if capacity.problems:
        return capacity, []
    catalog = load_catalog()
    target.mkdir(parents=True, exist_ok=True)
    runtime = Runtime.of(config, directory)
    topology.draw(stack, catalog, flows_of(runtime, catalog), target)
    (target / "capacity.json").write_text(json.dumps(capacity.as_json(), indent=1) + "\n")
    (target / "capacity.md").write_text(capacity_markdown(capacity))
    found = verdicts(config, documents)
    if len(config.topology.zones) > 1:
        found.append(room_after_zone_loss(capacity, Site.of(config.topology).nodes_per_zone))
    (target / "zone-loss.json").write_text(json.dumps({"stack": stack, "zones": config.topology.zones,
                                                       "verdicts": [v.__dict__ for v in found]}, indent=1) + "\n")
    (target / "zone-loss.md").write_text(zone_loss_markdown(stack, config, found))
    return capacity, found


def summary(stack: str) -> str:
    """A few lines for the pull request, from the reports `make report` wrote."""
    target = REPO / "reports" / stack
    capacity = json.loads((target / "capacity.json").read_text())
    zone = json.loads((target / "zone-loss.json").read_text())
    total, nodes = capacity["total"], capacity["nodes"]
    failing = [v for v in zone["verdicts"] if not v["survives"]]
    lines = [f"### Reports of `{stack}` (topology, capacity, zone loss: the `reports-{stack}` artifact)", "",
             f"- **capacity**: {total['pods']} pods request {total['cpu']:.1f} of {nodes['cpu'] * nodes['count']:g} "
             f"cores and {human_bytes(total['memory'])} of {human_bytes(nodes['memory'] * nodes['count'])}; storage "
             + ", ".join(f"{c} {human_bytes(v['raw'])} raw" for c, v in capacity["storage"].items())
             + (f"; **{len(capacity['problems'])} problem(s)**" if capacity["problems"] else "")]
    if len(zone["zones"]) > 1:
        lines.append(f"- **zone loss**: {len(zone['verdicts']) - len(failing)} of {len(zone['verdicts'])} systems "
                     "survive; " + (", ".join(f"{v['system']} ({'accepted' if v['accepted'] else 'NOT accepted'})"
                                             for v in failing) or "all do"))
    else:
        lines.append("- **zone loss**: one zone")
    lines += [f"- problem: {p['path']}: found {p['found']}; allowed: {p['allowed']}" for p in capacity["problems"]]
    return "\n".join(lines) + "\n"
