"""Mutation testing with mutmut 3 (`make mutate`, ops/mutate.py): a staging root, the runs, the cached verdicts.

Why a staging root (.mutmut/): mutmut names a mutant after its file path, and its trampoline only switches a
mutant on in a module whose __name__ equals that path. The tests import the pack as `openfoundry_policies.*`
(policies/ on sys.path), so from the repo root every policy mutant would be "no tests"/survived. In .mutmut/
the pack is a top-level package (symlink), everything else is a symlink back to the repo, and policies/ holds
only config/ so tests/unit/test_policies.py's sys.path insert cannot shadow the mutated copy.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / ".mutmut"
MUTANTS = STAGE / "mutants"
STATS = MUTANTS / "mutmut-stats.json"
STATS_SOURCES = STAGE / "stats-sources.sha256"
CALL_GRAPH = ("components", "foundry", "policies/openfoundry_policies", "tests")  # what decides who calls what
SURVIVING = {0, 5, 33}  # mutmut's exit codes for a mutant that survived, or that no test ran

# the security-relevant builders: who may reach what, who may do what on the buses, how clients connect, how pods
# spread, security contexts, credentials, replication and protection, and the policies that judge them. A module
# maps to the functions (globs over `name` or `Class.method`) that build those; None is the whole module.
SECURITY: dict[str, tuple[str, ...] | None] = {
    "components/common/security.py": None,
    "components/common/credentials.py": None,
    "components/cluster/namespaces.py": None,
    "components/common/kube.py": ("spread", "spread_spec", "one_pod_per_node", "peer", "service_peer", "secret_env"),
    "components/control/accounts.py": ("user_permissions", "Account.conf", "account_graph", "jetstream_verbs",
                                       "password_variable", "jetstream_limits"),
    "components/control/nats.py": ("server_config",),
    "components/ingestion/anonymous.py": ("anonymous_grants", "wanted_bindings", "plain_listener", "*._network_policy"),
    "components/ingestion/plane.py": ("*._user", "*._client_peer", "*._broker_egress",
                                      "*._listener_certificate"),
    "components/relational/plane.py": ("*._network_policy", "*._egress_policy", "*._cluster_spec", "*._managed_roles"),
    "components/relational/access.py": ("database_egress",),
    "components/relational/outbox.py": ("relay_role", "relay_parameters", "relay_slots", "publication_spec"),
    "components/ingestion/clients.py": ("acl_rule",),
    "components/ingestion/relay.py": ("relay_grants", "connector_config", "*._egress"),
    "components/services/workload.py": ("*._network_policy", "*._caller_peers", "*._spread", "*._disruption_budget",
                                        "*._container"),
    "policies/openfoundry_policies/resources.py": None,
    "policies/openfoundry_policies/flink.py": None,
    "policies/openfoundry_policies/hygiene.py": (
        "_effective", "_each_container", "run_as_non_root", "drop_all_capabilities", "no_privilege_escalation",
        "no_privileged_containers", "seccomp_runtime_default", "no_host_namespaces", "no_host_path_volumes",
        "no_automounted_service_account_token", "read_only_root_filesystem", "no_secret_env_literals",
        "no_secrets_in_config_maps", "network_policy_per_namespace", "spread_for_replicated_workloads",
        "disruption_budgets_for_replicated_workloads", "_replicated"),
    "policies/openfoundry_policies/contracts.py": (
        "kafka_no_wildcard_acls", "kafka_listeners_authenticated", "bus_credentials_follow_the_contract",
        "postgres_synchronous_replicas", "kafka_topic_replicas", "jetstream_replicas", "ceph_replicated_pools",
        "stateful_resources_protected", "trino_never_exposed", "edge_sql_only_through_sql_bi_gateway", "_int"),
}
# every top-level entry is linked into the staging root and copied next to the mutants (tests read data/, crds/,
# Pulumi.*.yaml, requirements*.txt, toolchain/ ... relative to the repo), except these
NOT_STAGED = {"policies", "pyproject.toml", "rendered", "reports", "docs"}


def staged_entries() -> list[str]:
    return sorted(p.name for p in REPO.iterdir() if not p.name.startswith(".") and p.name not in NOT_STAGED)


MUTMUT_CONFIG = """
[tool.mutmut]
source_paths = ["components/", "openfoundry_policies/"]
also_copy = {also_copy}
# the fast tier, minus the one test a trampolined copy must fail (files over 400 lines)
pytest_add_cli_args_test_selection = ["tests/unit", "-m", "not engine",
    "--deselect", "tests/unit/test_layout.py::test_no_source_file_is_over_400_lines"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "tests.mutmut_session_hits"]
# fork-per-mutant straight from a process that already ran Pulumi mocks hangs (dead executor threads)
process_isolation = "forkserver"
# mutmut's estimate sums test *call* times; the ~4 s platform builds happen in session-fixture setup, so the
# default limit ((estimate + 1 s) x 15, wall) flags slow survivors as timeouts on a busy 2-core machine
timeout_multiplier = 3.0
timeout_constant = 30.0
use_git_change_detection = false
cache_invalidation_files = ["data/*", "policies/config/*", "crds/*/*"]
"""


def repo_path(stage_path: str) -> str:
    return stage_path.replace("openfoundry_policies/", "policies/openfoundry_policies/", 1) \
        if stage_path.startswith("openfoundry_policies/") else stage_path


def stage() -> None:
    STAGE.mkdir(exist_ok=True)
    links = {name: Path("..") / name for name in staged_entries()}
    links["openfoundry_policies"] = Path("../policies/openfoundry_policies")
    links["policies/config"] = Path("../../policies/config")
    links["policies/PulumiPolicy.yaml"] = Path("../../policies/PulumiPolicy.yaml")
    (STAGE / "policies").mkdir(exist_ok=True)
    for name, target in links.items():
        link = STAGE / name
        if not link.is_symlink():
            link.symlink_to(target)
    also_copy = json.dumps([*(n for n in staged_entries() if n not in ("components", "tests")), "policies/"])
    pyproject = (REPO / "pyproject.toml").read_text().split("\n[tool.mutmut]")[0].rstrip() + "\n" \
        + MUTMUT_CONFIG.replace("{also_copy}", also_copy)
    target = STAGE / "pyproject.toml"
    if not target.exists() or target.read_text() != pyproject:
        target.write_text(pyproject)


def generate() -> None:
    """Write (or refresh) every module's trampolined copy and .meta: changed functions lose their verdicts."""
    code = ("import sys, warnings; warnings.simplefilter('ignore');"
            "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, create_mutants;"
            "from mutmut.mutation.trampoline import set_mutant_under_test;"
            "set_mutant_under_test('mutant_generation');"
            "from pathlib import Path; Path('mutants').mkdir(exist_ok=True);"
            "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(2)")
    subprocess.run([sys.executable, "-c", code], cwd=STAGE, check=True, stdout=subprocess.DEVNULL)


def metas() -> dict[str, dict]:
    found = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        rel = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        if rel.startswith(("components/", "openfoundry_policies/")):
            found[repo_path(rel)] = json.loads(meta.read_text())
    return found


Selection = dict[str, tuple[str, ...] | None]


def function_name(key: str) -> str:
    """`components.x.plane.xǁPlaneǁ_user__mutmut_3` -> `Plane._user`; `...x_spread__mutmut_1` -> `spread`."""
    mangled = key.partition("__mutmut_")[0].rsplit(".", 1)[1]
    return mangled[2:] if mangled.startswith("x_") else ".".join(mangled.split("ǁ")[1:])


def selected(patterns: list[str], everything: bool) -> Selection:
    """Repo-path globs, each optionally `::function-glob` (e.g. `components/relational/plane.py::*._network_policy`)."""
    files = sorted(metas())
    if everything:
        return dict.fromkeys(files)
    whole: set[str] = set()
    functions: dict[str, list[str]] = {}
    for pattern in patterns:
        path, _, function = pattern.partition("::")
        for f in (f for f in files if fnmatch.fnmatch(f, path)):
            if function:
                functions.setdefault(f, []).append(function)
            else:
                whole.add(f)
    return {f: None if f in whole else tuple(functions[f]) for f in sorted(whole | functions.keys())}

def security_patterns() -> list[str]:
    return [path if functions is None else f"{path}::{function}"
            for path, functions in SECURITY.items() for function in functions or ("",)]


def verdicts(selection: Selection) -> dict[str, dict[str, int | None]]:
    """Each selected module's mutants (restricted to its selected functions) and their exit codes."""
    data = metas()
    return {f: {key: code for key, code in data[f]["exit_code_by_key"].items()
                if functions is None or any(fnmatch.fnmatch(function_name(key), g) for g in functions)}
            for f, functions in selection.items()}


def pending_globs(selection: Selection, retest_survivors: bool) -> list[str]:
    """A glob per function with an unchecked mutant (mutmut re-runs whatever a name matches, cached or not), and
    with --retest-survivors each survivor by its own name: mutmut never notices a changed *test*."""
    found = verdicts(selection)
    functions = {key.partition("__mutmut_")[0] for codes in found.values() for key, code in codes.items() if code is None}
    survivors = {key for codes in found.values() for key, code in codes.items() if code in SURVIVING} \
        if retest_survivors else set()
    return sorted(f"{fn}__mutmut_*" for fn in functions) \
        + sorted(key for key in survivors if key.partition("__mutmut_")[0] not in functions)


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for top in CALL_GRAPH for p in (REPO / top).rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def forget_stale_stats() -> None:
    """mutmut maps each function to the tests that called it, and on a re-run collects that only for tests it has
    not seen: a function new or newly called since is credited to new tests alone, so its mutants run against too
    few tests and survive. Once any source or test changes, the next run collects the map afresh (a few minutes)."""
    digest = sources_digest()
    if STATS.exists() and (not STATS_SOURCES.exists() or STATS_SOURCES.read_text() != digest):
        print("[mutate] sources or tests changed since mutmut mapped tests to functions: mapping them again")
        STATS.unlink()
    STATS_SOURCES.write_text(digest)


def run(globs: list[str], budget_min: float | None) -> None:
    if not globs:
        print("[mutate] every selected mutant has a cached verdict")
        return
    forget_stale_stats()
    mutmut = [sys.executable, "-c", "import sys; from mutmut.__main__ import cli; sys.exit(cli())"]
    log = (STAGE / "mutmut.log").open("w")
    print(f"[mutate] mutmut run over {len(globs)} function(s) or survivor(s) to check; log: .mutmut/mutmut.log")
    started = time.monotonic()
    proc = subprocess.Popen([*mutmut, "run", "--max-children", str(os.cpu_count() or 2), *globs],
                            cwd=STAGE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proc.wait(timeout=budget_min * 60 if budget_min else None)
    except subprocess.TimeoutExpired:
        print(f"[mutate] budget of {budget_min} min spent: stopping; a re-run resumes with the rest")
        proc.send_signal(signal.SIGINT)
        proc.wait()
    print(f"[mutate] mutmut ran {time.monotonic() - started:.0f}s, exit {proc.returncode}")


KILLED = {1, 3, -24, 24, 152, 255, 36}  # mutmut: killed, pytest internal error, timeouts
STATUS = {None: "not checked", 0: "survived", 33: "no tests", 5: "no tests", 34: "skipped"}


def report(selection: Selection, security: bool) -> None:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    found = verdicts(selection)
    print(f"\n{'module (* = its selected functions only)':50} {'mutants':>7} {'checked':>7} {'killed':>6} {'surv':>5} "
          f"{'notest':>6} {'score':>6}")
    totals: Counter[str] = Counter()
    for f, by_key in found.items():
        codes = list(by_key.values())
        c = Counter("killed" if code in KILLED else STATUS.get(code, "other") for code in codes)
        checked = len(codes) - c["not checked"] - c["skipped"]
        score = f"{100 * c['killed'] / checked:5.1f}%" if checked else "   -  "
        label = f if selection[f] is None else f + " *"
        print(f"{label:50} {len(codes):7} {checked:7} {c['killed']:6} {c['survived']:5} {c['no tests']:6} {score:>6}")
        totals.update(c)
        totals["mutants"] += len(codes)
        totals["checked"] += checked
    if totals["checked"]:
        print(f"{'TOTAL':50} {totals['mutants']:7} {totals['checked']:7} {totals['killed']:6} {totals['survived']:5} "
              f"{totals['no tests']:6} {100 * totals['killed'] / totals['checked']:5.1f}%")
    os.chdir(MUTANTS.parent)
    for f in (f for f in found if security or f in SECURITY):
        survivors = [k for k, code in found[f].items() if code in SURVIVING]
        if not survivors:
            continue
        print(f"\n--- surviving mutants of {f} ({len(survivors)})")
        stage_path = Path(f.replace("policies/openfoundry_policies/", "openfoundry_policies/", 1))
        for key in survivors:
            diff = get_diff_for_mutant(key, path=stage_path)
            changes = [line for line in diff.splitlines() if re.match(r"^[-+](?![-+])", line)]
            print(f"{key} [{STATUS[found[f][key]]}]")
            print("    " + "\n    ".join(changes))
