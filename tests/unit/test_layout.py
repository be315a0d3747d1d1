"""The layout is the architecture: a package per plane, no file over 400 lines, components fed their own settings."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from pathlib import Path

import components
from foundry.config import StackConfig

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("components", "foundry", "ops", "policies", "tests")
MAX_LINES = 400


def _python_sources() -> list[Path]:
    return sorted(p for root in SOURCE_ROOTS for p in (REPO / root).rglob("*.py"))


def test_no_source_file_is_over_400_lines() -> None:
    sources = _python_sources()
    assert len(sources) > 50, "the source roots moved: update SOURCE_ROOTS"
    too_long = {str(p.relative_to(REPO)): n for p in sources if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}


def test_every_plane_has_its_package() -> None:
    packages = {p.name for p in (REPO / "components").iterdir() if (p / "__init__.py").exists()}
    assert {"storage", "ingestion", "compute", "control", "relational", "edge", "common"} <= packages


def _component_args() -> list[type]:
    found = []
    for module_info in pkgutil.walk_packages(components.__path__, "components."):
        module = importlib.import_module(module_info.name)
        found += [obj for name, obj in vars(module).items()
                  if name.endswith("Args") and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__]
    return found


def test_components_take_their_own_settings_not_the_whole_stack_config() -> None:
    args = _component_args()
    assert len(args) >= 15, [a.__name__ for a in args]
    whole = {a.__name__: f.name for a in args for f in dataclasses.fields(a) if StackConfig.__name__ in str(f.type)}
    assert whole == {}
