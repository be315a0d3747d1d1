"""The flows of a stack (ops/checks/flowmap.py) evaluated against its rendered NetworkPolicies (and the ones Strimzi
writes) by cyclonus' policy matcher (engines/netpol): the verdicts, their matrix and the report `make flows` writes
(reports/<stack>/flows.json)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundry.catalog import load_catalog
from foundry.config import StackConfig
from ops.checks import engines
from ops.checks.flowmap import Flow, empty_kinds, flows_of
from ops.checks.runtime import Pod, Runtime
from ops.engine.toolchain import REPO, ToolchainError


@dataclass(frozen=True)
class Verdict:
    flow: Flow
    allowed: bool
    detail: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.allowed == self.flow.required


def pod_address(pod: Pod) -> str:
    """A pod's address in the pod network (cyclonus compares it with ipBlocks): fixed per pod, within 10.244.0.0/16
    (implied: any pod network; the stack's ipBlocks name addresses outside the cluster)."""
    digest = hashlib.sha256(f"{pod.namespace}/{pod.name}".encode()).digest()
    return f"10.244.{digest[0]}.{digest[1] % 254 + 1}"


def _peer(end: Pod | str) -> dict[str, Any]:
    if isinstance(end, Pod):
        return {"namespace": end.namespace, "labels": dict(end.labels), "ip": pod_address(end)}
    return {"ip": end}


def evaluate(runtime: Runtime, flows: list[Flow]) -> list[Verdict]:
    request = {"policies": runtime.policies,
               "flows": [{"id": str(i), "from": _peer(f.source), "to": _peer(f.destination), "port": f.port,
                          "portName": f.port_name, "protocol": f.protocol} for i, f in enumerate(flows)]}
    results = engines.call("netpol", request)["results"]
    verdicts = []
    for flow, result in zip(flows, results, strict=True):
        if result.get("error"):
            raise ToolchainError(f"cyclonus could not evaluate {flow.describe()}: {result['error']}")
        verdicts.append(Verdict(flow, bool(result["allowed"]), result))
    return verdicts


def check(config: StackConfig, directory: Path) -> list[Verdict]:
    runtime = Runtime.of(config, directory)
    flows = flows_of(runtime, load_catalog())
    missing = list(empty_kinds(flows))
    if missing:
        raise ToolchainError(f"no flow of kind {', '.join(missing)} was derived: the stack's pods changed shape")
    return evaluate(runtime, flows)


def matrix(verdicts: list[Verdict]) -> list[str]:
    counts: Counter[tuple[str, bool, bool]] = Counter((v.flow.kind, v.flow.required, v.allowed) for v in verdicts)
    kinds = sorted({v.flow.kind for v in verdicts})
    lines = [f"{'flow':<28}{'required':>10}{'req. denied':>13}{'forbidden':>11}{'forb. allowed':>15}"]
    for kind in kinds:
        lines.append(f"{kind:<28}{counts[(kind, True, True)]:>10}{counts[(kind, True, False)]:>13}"
                     f"{counts[(kind, False, False)]:>11}{counts[(kind, False, True)]:>15}")
    return lines


def report(stack: str, verdicts: list[Verdict]) -> Path:
    target = REPO / "reports" / stack
    target.mkdir(parents=True, exist_ok=True)
    path = target / "flows.json"
    path.write_text(json.dumps([{
        "kind": v.flow.kind, "flow": v.flow.describe(), "required": v.flow.required, "allowed": v.allowed,
        "ok": v.ok, "ingress": v.detail.get("ingress"), "egress": v.detail.get("egress")} for v in verdicts],
        indent=1) + "\n")
    return path
