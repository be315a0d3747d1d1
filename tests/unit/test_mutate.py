"""`make mutate`'s selection of the security-relevant builders must keep naming code that exists."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

from ops.measure.mutation import SECURITY, function_name

REPO = Path(__file__).resolve().parents[2]


def _functions(path: Path) -> set[str]:
    """`name` for module-level functions, `Class.method` for methods: the names mutmut's mutants carry."""
    tree = ast.parse(path.read_text())
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        names |= {f"{cls.name}.{node.name}" for node in cls.body if isinstance(node, ast.FunctionDef)}
    return names


def _source(module: str) -> Path:
    """The module in this checkout; under `make mutate`'s staging root the pack sits at the top level."""
    path = REPO / module
    return path if path.exists() else REPO / module.removeprefix("policies/")


@pytest.mark.parametrize("module", sorted(SECURITY))
def test_each_selected_function_glob_names_a_function_of_its_module(module: str) -> None:
    functions = _functions(_source(module))
    assert functions
    assert [g for g in SECURITY[module] or () if not fnmatch.filter(functions, g)] == []


@pytest.mark.parametrize(("key", "name"), [
    ("components.common.kube.x_spread_spec__mutmut_12", "spread_spec"),
    ("components.relational.plane.xǁRelationalStatePlaneǁ_network_policy__mutmut_3", "RelationalStatePlane._network_policy"),
    ("openfoundry_policies.hygiene.x__effective__mutmut_1", "_effective"),
])
def test_a_mutant_key_names_its_function(key: str, name: str) -> None:
    assert function_name(key) == name


def test_the_files_a_mutant_run_tries_first_exist() -> None:
    from tests.mutmut_session_hits import FIRST_FILES, _first_files

    named = {name for files in FIRST_FILES.values() for name in files}
    assert named and [n for n in sorted(named) if not (REPO / "tests" / "unit" / f"{n}.py").exists()] == []
    assert _first_files("components.relational.plane.xǁRelationalStatePlaneǁ_cluster_spec__mutmut_4")[0] == \
        "test_database_access"
    assert _first_files("openfoundry_policies.hygiene.x__effective__mutmut_1")[0] == "test_flink_pods"
    assert _first_files("components.edge.gateway.x_route__mutmut_1") == ()


def test_the_map_of_tests_to_functions_is_collected_again_once_a_source_changes(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.measure import mutation as mutate

    (tmp_path / "mutants").mkdir()
    monkeypatch.setattr(mutate, "STATS", tmp_path / "mutants" / "mutmut-stats.json")
    monkeypatch.setattr(mutate, "STATS_SOURCES", tmp_path / "stats-sources.sha256")
    digest = iter(["one", "one", "two"])
    monkeypatch.setattr(mutate, "sources_digest", lambda: next(digest))

    mutate.STATS.write_text("{}")
    mutate.forget_stale_stats()          # no digest recorded yet: the map may predate any change
    assert not mutate.STATS.exists()
    mutate.STATS.write_text("{}")        # mutmut collects it afresh
    mutate.forget_stale_stats()          # nothing changed
    assert mutate.STATS.exists()
    mutate.forget_stale_stats()          # a source changed
    assert not mutate.STATS.exists() and mutate.STATS_SOURCES.read_text() == "two"


def test_the_digest_of_the_sources_changes_with_a_test_and_not_with_the_docs(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.measure import mutation as mutate

    for top in mutate.CALL_GRAPH:
        (tmp_path / top).mkdir(parents=True)
    (tmp_path / "tests" / "test_a.py").write_text("def test_a(): pass\n")
    monkeypatch.setattr(mutate, "REPO", tmp_path)
    before = mutate.sources_digest()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a(): assert True\n")
    changed = mutate.sources_digest()
    assert changed != before
    (tmp_path / "README.md").write_text("not code")
    assert mutate.sources_digest() == changed
