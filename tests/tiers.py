"""The suite's time, per tier, printed at the end of every run (docs/testing.md has the budgets): each tier's wall
time (its first test's start to its last test's end) and its ten slowest tests (set-up, call and tear-down)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

TIERS = ("fast", "engine", "cluster")
SLOWEST = 10


def tier_of(item: pytest.Item) -> str:
    if item.get_closest_marker("cluster"):
        return "cluster"
    return "engine" if item.get_closest_marker("engine") else "fast"


def tier_of_keywords(keywords: Mapping[str, object]) -> str:
    return next((name for name in ("cluster", "engine") if name in keywords), "fast")


@dataclass
class Tier:
    start: float = float("inf")
    stop: float = 0.0
    tests: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def wall(self) -> float:
        return max(0.0, self.stop - self.start)


class TierClock:
    """A pytest plugin: the tier of each collected test, then its phases' times."""

    def __init__(self) -> None:
        self.tier_of: dict[str, str] = {}
        self.tiers: dict[str, Tier] = {name: Tier() for name in TIERS}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.tier_of = {item.nodeid: tier_of(item) for item in items}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # under pytest-xdist the controller collects nothing: a worker's report carries the test's markers
        tier = self.tiers[self.tier_of.get(report.nodeid) or tier_of_keywords(report.keywords)]
        tier.start, tier.stop = min(tier.start, report.start), max(tier.stop, report.stop)
        tier.tests[report.nodeid] += report.duration

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        ran = {name: tier for name, tier in self.tiers.items() if tier.tests}
        if not ran:
            return
        terminalreporter.write_sep("=", "time per tier")
        for name, tier in ran.items():
            terminalreporter.write_line(f"{name}: {len(tier.tests)} tests, {tier.wall / 60:.1f} min wall")
            for nodeid, seconds in sorted(tier.tests.items(), key=lambda t: -t[1])[:SLOWEST]:
                terminalreporter.write_line(f"  {seconds:7.1f} s  {nodeid}")
