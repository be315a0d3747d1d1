from __future__ import annotations

from dataclasses import dataclass

import pytest

from foundry.binaries import running
from foundry.catalog import Catalog, Service, load_catalog
from foundry.config import StackConfig, load_stack_config
from foundry.upstream import load_contracts
from ops.engine.stacks import read_stack_values
from tests.mocks import Registered, register_platform
from tests.processes import LeftoverCheck
from tests.tiers import TierClock


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TierClock(), "tier-clock")
    config.pluginmanager.register(LeftoverCheck(), "leftover-check")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def deployed(catalog: Catalog) -> list[Service]:
    """The catalog entries that run pods: each runs its OpenFoundry binary (foundry/binaries.py); a surface merged into
    another binary, an entry with no live binary, and a one-shot job run none."""
    return [run.service for run in running(catalog, load_contracts())]


@pytest.fixture(scope="session")
def prod_config() -> StackConfig:
    return load_stack_config(read_stack_values("prod"), "prod")


@pytest.fixture(scope="session")
def dev_config() -> StackConfig:
    return load_stack_config(read_stack_values("dev"), "dev")


@pytest.fixture(scope="session")
def prod_resources(prod_config: StackConfig, catalog: Catalog) -> list[Registered]:
    return register_platform(prod_config, catalog)


@pytest.fixture(scope="session")
def dev_resources(dev_config: StackConfig, catalog: Catalog) -> list[Registered]:
    return register_platform(dev_config, catalog)


@dataclass(frozen=True)
class BuiltStack:
    name: str
    config: StackConfig
    resources: list[Registered]


@pytest.fixture(params=["prod", "dev"])
def built(request: pytest.FixtureRequest) -> BuiltStack:
    """Each committed stack in turn: its config and what the program registers for it."""
    stack = request.param
    return BuiltStack(stack, request.getfixturevalue(f"{stack}_config"), request.getfixturevalue(f"{stack}_resources"))
