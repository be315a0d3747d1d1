"""Run the program's components under Pulumi mocks and record every resource they register."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pulumi

from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import load_streams
from foundry.topics import TopicRegistry, load_registry
from foundry.upstream import load_contracts

STACK = "pulumi:pulumi:Stack"  # the parent of whatever the program registers without one


@dataclass(frozen=True)
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    protected: bool = False
    parent: str = ""  # the parent's type token: a component's, or pulumi:pulumi:Stack
    outputs: dict[str, Any] | None = None  # a component's register_outputs, once the program has finished
    depends_on: frozenset[tuple[str, str]] = frozenset()  # (type, name) of each resource the engine creates first


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[Registered] = []
        self.protected: set[tuple[str, str]] = set()
        self.parents: dict[tuple[str, str], str] = {}
        self.outputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.depends_on: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}  # filled by record_dependencies

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        key = (args.typ, args.name)
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs), args.provider or "",
                                          key in self.protected, self.parents.get(key, STACK),
                                          depends_on=self.depends_on.get(key, frozenset())))
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource" and ("length" in outputs or "format" in outputs):
            outputs["value"] = f"generated-{args.name}"   # a GeneratedPassword or GeneratedKey: as its create
        return f"{args.name}-id", outputs

    def record_options(self, args: pulumi.ResourceTransformationArgs) -> None:
        """A stack transformation sees each resource's options before it is registered."""
        if args.opts is not None and args.opts.protect and args.opts.retain_on_delete:
            self.protected.add((args.type_, args.name))
        if args.opts is not None and args.opts.parent is not None:
            self.parents[(args.type_, args.name)] = args.opts.parent.pulumi_resource_type

    def record_dependencies(self, monitor: Any) -> None:
        """What the SDK tells the engine to create first: the explicit `depends_on` and every resource an input's
        Output comes from. The engine orders creation by exactly this list."""
        def register_resource(request: Any) -> Any:
            self.depends_on[(request.type, request.name)] = frozenset(map(type_and_name, request.dependencies))
            return original(request)

        original = monitor.RegisterResource
        monitor.RegisterResource = register_resource

    def record_outputs(self, monitor: Any) -> None:
        """The mock monitor drops what a component passes to register_outputs; keep it, by the component's URN."""
        def register_outputs(request: Any) -> Any:
            self.outputs[type_and_name(request.urn)] = pulumi.runtime.rpc.deserialize_properties(request.outputs)
            return original(request)

        original = monitor.RegisterResourceOutputs
        monitor.RegisterResourceOutputs = register_outputs

    def with_outputs(self) -> list[Registered]:
        return [replace(r, outputs=self.outputs.get((r.type, r.name))) for r in self.registered]

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def type_and_name(urn: str) -> tuple[str, str]:
    """`urn:pulumi:<stack>::<project>::<parent types $ type>::<name>` as (type, name)."""
    _, _, qualified_type, name = urn.rsplit("::", 3)
    return qualified_type.split("$")[-1], name


def register(stack: str, program: Callable[[], object]) -> list[Registered]:
    """Run `program` under the recording mocks; return what it registered, in order."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="openfoundry", stack=stack, preview=False)
    mocks.record_dependencies(pulumi.runtime.settings.SETTINGS.monitor)
    mocks.record_outputs(pulumi.runtime.settings.SETTINGS.monitor)

    @pulumi.runtime.test
    def build() -> None:
        pulumi.runtime.register_stack_transformation(mocks.record_options)
        program()

    build()
    return mocks.with_outputs()


def register_platform(config: StackConfig, catalog: Catalog, registry: TopicRegistry | None = None) -> list[Registered]:
    """Build the platform under mocks; return what was registered, in order."""
    from components.platform import build_platform

    return register(config.environment,
                    lambda: build_platform(config, catalog, registry or load_registry(), load_streams(), load_contracts()))


def of_type(registered: list[Registered], type_: str) -> dict[str, Registered]:
    return {r.name: r for r in registered if r.type == type_}


def by_metadata_name(registered: list[Registered], type_: str) -> dict[str, Registered]:
    return {r.inputs["metadata"]["name"]: r for r in registered if r.type == type_}


NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"


def by_namespaced_name(registered: list[Registered], type_: str) -> dict[tuple[str, str], Registered]:
    """Objects of a kind by (namespace, name): names repeat across namespaces (default-deny, a service's Secret)."""
    return {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r for r in registered if r.type == type_}


SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"   # Pulumi's RPC marks a secret value with this key


def revealed(value: Any) -> Any:
    """A value with every Pulumi secret in it unwrapped: the mocks see a secret as the RPC's {signature, value}."""
    if isinstance(value, dict):
        if SECRET_SIGNATURE in value:
            return revealed(value.get("value"))
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    return value
