"""pytest plugin for `mutmut run` (loaded with `-p tests.mutmut_session_hits`; inert without mutmut).

mutmut 3 maps each mutated function to the tests that called it during its "stats" pass, crediting every
call to the test being torn down. A session fixture such as `prod_resources` builds the whole platform once,
inside the first test that needs it, so every component function would be credited to that one test and
each mutant run against it alone. This plugin records which functions each non-function-scoped fixture
called and credits them again to every later test that uses that fixture (directly or via getfixturevalue).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from mutmut.mutation.trampoline import get_mutant_under_test
    from mutmut.state import state
except ImportError:  # plain pytest runs
    state = None  # type: ignore[assignment]

_hits_by_fixture: dict[str, set[str]] = {}


def _collecting_stats() -> bool:
    return state is not None and get_mutant_under_test() == "stats"


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Iterator[None]:
    if not _collecting_stats() or fixturedef.scope == "function":
        yield
        return
    hits = state()._stats
    outer = set(hits)
    hits.clear()
    try:
        yield
    finally:
        _hits_by_fixture[fixturedef.argname] = set(hits)
        hits |= outer


# The test files that state a package's behaviour whole, so most likely to kill its mutants: a mutant run stops at
# its first failing test (-x), and mutmut hands pytest the tests in no particular order.
FIRST_FILES = {
    "components.relational.": ("test_database_access", "test_relational", "test_wiring", "test_creation_order"),
    "components.ingestion.": ("test_ingestion", "test_trust", "test_wiring"),
    "components.services.": ("test_workloads", "test_service_policies", "test_wiring"),
    "components.control.": ("test_control", "test_wiring"),
    "components.common.": ("test_service_policies", "test_database_access", "test_workloads", "test_components"),
    "components.cluster.": ("test_workloads", "test_components"),
    "openfoundry_policies.": ("test_flink_pods", "test_policies", "test_pack"),
}


def _first_files(mutant: str) -> tuple[str, ...]:
    return next((files for package, files in FIRST_FILES.items() if mutant.startswith(package)), ())


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """A mutant run leaves out the tests that build a platform variant of their own (`own_platform`, ~8 s each):
    every mutant already rebuilds both stacks' platforms, and these three would triple a survivor's cost. It runs
    first the files most likely to fail (FIRST_FILES): the order changes how soon a mutant is killed, not whether."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if state is None or "__mutmut_" not in mutant:
        return
    left_out = [item for item in items if item.get_closest_marker("own_platform")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
    first = _first_files(mutant)
    items.sort(key=lambda item: next((rank for rank, name in enumerate(first) if item.path.stem == name), len(first)))


def pytest_collection_finish(session: Any) -> None:
    """mutmut's fork server warms up with --collect-only; importing the whole (trampolined, uncompiled) program
    here saves every forked mutant run ~3 s of compiling it again."""
    if state is not None and "MUTANT_UNDER_TEST" in os.environ:
        import openfoundry_policies.catalog  # noqa: F401

        import components.platform  # noqa: F401


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    if not _collecting_stats():
        return
    used = set(item.fixturenames) | set(getattr(getattr(item, "_request", None), "_fixture_defs", {}) or {})
    for name in used:
        state()._stats.update(_hits_by_fixture.get(name, ()))
