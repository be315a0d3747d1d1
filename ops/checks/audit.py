"""The policy audit of a stack: the real `pulumi preview --policy-pack policies/`, written up for an auditor.

The preview runs like `make render`: a scratch project and throwaway state seeded with the stack's own config,
Kubernetes in render mode, so it needs no cluster and never touches the stack's real state. The levels come
from policies/config/<stack>.json. The engine's event log gives every violation; the pack's own catalog gives
every policy evaluated, so a policy without findings is reported as passed, not left out.
Exit status: 1 when a mandatory policy is violated, 2 when the audit could not run (then no report is written,
so nothing downstream mistakes a failed preview for a clean one).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ops.engine import stacks
from ops.engine.toolchain import REPO

POLICIES = REPO / "policies"
REPORTS = REPO / "reports"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"mandatory": "error", "advisory": "warning", "remediate": "warning", "disabled": "none"}


@dataclass(frozen=True)
class Policy:
    name: str
    source: str
    description: str
    group: str
    level: str


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    resource: str      # the resource's URN, or "(stack)"
    source: str        # the ADR or guidance
    message: str


def pack_policies(stack: str) -> list[Policy]:
    """Every policy of the pack with the level the stack's config gives it."""
    sys.path.insert(0, str(POLICIES))
    from openfoundry_policies.catalog import POLICIES as SPECS

    config = json.loads(policy_config(stack).read_text())
    default = config.get("all", "mandatory")
    return [Policy(s.name, s.source, s.description, s.group, _level(config.get(s.name, default))) for s in SPECS]


def _level(entry: Any) -> str:
    return str(entry.get("enforcementLevel") if isinstance(entry, dict) else entry)


def policy_config(stack: str) -> Path:
    return POLICIES / "config" / f"{stack}.json"


def run_preview(stack: str, event_log: Path) -> int:
    stacks.preflight(stack, environ={})
    with tempfile.TemporaryDirectory(prefix="openfoundry-audit-") as render, \
            stacks.scratch_stack(stack, Path(render)) as (scratch, env):
        env["PULUMI_DEBUG_COMMANDS"] = "true"  # enables --event-log, the engine's machine-readable stream
        return stacks.pulumi(["preview", "--stack", stack, "--cwd", str(scratch), "--suppress-outputs",
                              "--policy-pack", str(POLICIES), "--policy-pack-config", str(policy_config(stack)),
                              "--event-log", str(event_log)], env, check=False, quiet_plaintext_warnings=True)


def violations_from(event_log: Path, policies: dict[str, Policy]) -> list[Violation]:
    found = []
    for line in event_log.read_text().splitlines():
        event = json.loads(line).get("policyEvent")
        if not event or event.get("policyPackName") != "openfoundry":
            continue
        policy = policies.get(event["policyName"])
        source = policy.source if policy else ""
        for message in _messages(event.get("message", ""), source):
            found.append(Violation(event["policyName"], event.get("enforcementLevel", "advisory"),
                                   event.get("resourceUrn") or "(stack)", source, message))
    return found


def _messages(text: str, source: str) -> list[str]:
    """The engine prefixes the policy's description to each message and adds colour tags; keep the messages.
    The pack prefixes each message with its source, which the reports carry in a field of its own."""
    plain = re.sub(r"<\{%[a-z]*%\}>", "", text)
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    messages = lines[1:] if len(lines) > 1 else lines
    return [m.removeprefix(f"[{source}] ") for m in messages]


def write_reports(stack: str, policies: list[Policy], violations: list[Violation], preview_exit: int) -> Path:
    target = REPORTS / stack
    target.mkdir(parents=True, exist_ok=True)
    by_policy = Counter(v.policy for v in violations)
    mandatory = [v for v in violations if v.level == "mandatory"]
    document = {
        "stack": stack,
        "policyPack": "openfoundry",
        "previewExitCode": preview_exit,
        "passed": not mandatory and preview_exit == 0,
        "policies": [{**asdict(p), "violations": by_policy[p.name],
                      "result": "pass" if by_policy[p.name] == 0 else "fail"} for p in policies],
        "violations": [asdict(v) for v in violations],
    }
    (target / "policy.json").write_text(json.dumps(document, indent=2) + "\n")
    (target / "policy.sarif").write_text(json.dumps(sarif(policies, violations), indent=2) + "\n")
    (target / "summary.md").write_text(summary(stack, policies, violations, preview_exit))
    return target


def sarif(policies: list[Policy], violations: list[Violation]) -> dict[str, Any]:
    index = {p.name: i for i, p in enumerate(policies)}
    rules = [{
        "id": p.name,
        "name": p.name,
        "shortDescription": {"text": p.description},
        "fullDescription": {"text": f"[{p.source}] {p.description}"},
        "defaultConfiguration": {"level": SARIF_LEVEL.get(p.level, "warning")},
        "properties": {"source": p.source, "group": p.group, "enforcementLevel": p.level},
    } for p in policies]
    results = [{
        "ruleId": v.policy,
        "ruleIndex": index[v.policy],
        "level": SARIF_LEVEL.get(v.level, "warning"),
        "message": {"text": f"[{v.source}] {v.message}"},
        # the program is the artifact: every resource is declared through __main__.py
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "__main__.py"}},
                       "logicalLocations": [{"fullyQualifiedName": v.resource, "kind": "resource"}]}],
    } for v in violations if v.policy in index]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "openfoundry-policy-pack", "informationUri":
                                      "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/", "rules": rules}},
                  # the policies ran; the exit code is the audit's (1: a mandatory violation)
                  "invocations": [{"executionSuccessful": True,
                                   "exitCode": int(any(v.level == "mandatory" for v in violations))}],
                  "results": results}],
    }


def summary(stack: str, policies: list[Policy], violations: list[Violation], preview_exit: int) -> str:
    by_policy = Counter(v.policy for v in violations)
    mandatory = sum(1 for v in violations if v.level == "mandatory")
    verdict = "PASS" if mandatory == 0 and preview_exit == 0 else "FAIL"
    lines = [f"# Policy audit of stack `{stack}`: {verdict}", "",
             f"{len(policies)} policies evaluated by `pulumi preview --policy-pack policies/` with "
             f"`policies/config/{stack}.json`; {mandatory} mandatory and {len(violations) - mandatory} advisory "
             "violations.", "", "| policy | enforces | level | violations |", "| --- | --- | --- | --- |"]
    lines += [f"| `{p.name}` | {p.source} | {p.level} | {by_policy[p.name]} |" for p in policies]
    if violations:
        lines += ["", "## Violations", ""]
        lines += [f"- **{v.policy}** ({v.level}, {v.source}): {v.message}" for v in violations[:200]]
        if len(violations) > 200:
            lines.append(f"- … {len(violations) - 200} more in policy.json")
    return "\n".join(lines) + "\n"


def audit(stack: str) -> int:
    policies = pack_policies(stack)
    with tempfile.TemporaryDirectory(prefix="openfoundry-events-") as scratch:
        event_log = Path(scratch) / "events.jsonl"
        preview_exit = run_preview(stack, event_log)
        if not event_log.exists():
            print(f"error: the preview of {stack} wrote no events (exit {preview_exit})", file=sys.stderr)
            return 2
        violations = violations_from(event_log, {p.name: p for p in policies})
    mandatory = sum(1 for v in violations if v.level == "mandatory")
    if preview_exit != 0 and not mandatory:
        # the preview failed for another reason: no report, so nothing downstream reads "no findings"
        shutil.rmtree(REPORTS / stack, ignore_errors=True)
        print(f"error: the preview of {stack} failed (exit {preview_exit}) before the policies could judge it; "
              "no report written", file=sys.stderr)
        return 2
    target = write_reports(stack, policies, violations, preview_exit)
    print(f"audit of {stack}: {len(policies)} policies, {mandatory} mandatory and "
          f"{len(violations) - mandatory} advisory violations; reports in {target.relative_to(REPO)}/ "
          "(policy.json, policy.sarif, summary.md)")
    return 1 if mandatory or preview_exit != 0 else 0
