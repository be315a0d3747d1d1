"""Run the program's components under Pulumi mocks and record every resource they register."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import load_streams
from foundry.topics import TopicRegistry, load_registry


@dataclass(frozen=True)
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    protected: bool = False


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[Registered] = []
        self.protected: set[tuple[str, str]] = set()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        protected = (args.typ, args.name) in self.protected
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs), args.provider or "", protected))
        return f"{args.name}-id", dict(args.inputs)

    def record_protection(self, args: pulumi.ResourceTransformationArgs) -> None:
        """A stack transformation sees each resource's options before it is registered."""
        if args.opts is not None and args.opts.protect and args.opts.retain_on_delete:
            self.protected.add((args.type_, args.name))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def register_platform(config: StackConfig, catalog: Catalog, registry: TopicRegistry | None = None) -> list[Registered]:
    """Build the platform under mocks; return what was registered, in order."""
    from components.platform import build_platform

    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="openfoundry", stack=config.environment, preview=False)

    @pulumi.runtime.test
    def build() -> None:
        pulumi.runtime.register_stack_transformation(mocks.record_protection)
        build_platform(config, catalog, registry or load_registry(), load_streams())

    build()
    return mocks.registered


def of_type(registered: list[Registered], type_: str) -> dict[str, Registered]:
    return {r.name: r for r in registered if r.type == type_}


def by_metadata_name(registered: list[Registered], type_: str) -> dict[str, Registered]:
    return {r.inputs["metadata"]["name"]: r for r in registered if r.type == type_}
