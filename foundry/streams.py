"""The stream registry (data/streams.yaml): the control bus's JetStream streams, checked against the catalog.

Like the topic registry, its problems are configuration problems naming the entry, raised before anything is
registered; the consumers and every user's permissions derive from it and from the catalog's `nats` needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from foundry import registry, upstream
from foundry.catalog import Catalog
from foundry.config import ConfigProblem

REGISTRY_PATH = registry.DATA / "streams.yaml"
STREAMS_ACCOUNT = "STREAMS"   # the platform's JetStream account: the streams no binary ensures itself
SOURCE = registry.source_of(REGISTRY_PATH)
GoDuration = Annotated[str, StringConstraints(pattern=r"^[0-9]+(h|m|s)$")]
StreamName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")]
Subject = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$")]
StreamSubject = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*(\.>|(\.[a-z0-9-]+))$")]


def covers(pattern: str, subject: str) -> bool:
    """NATS subject matching for the forms the registry allows: exact, or `<prefix>.>` (one token or more)."""
    if pattern.endswith(".>"):
        return subject.startswith(pattern[:-1]) and len(subject) > len(pattern) - 1
    return pattern == subject


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


def resource_name(stream: str) -> str:
    """A stream's Kubernetes name: custom resources take DNS subdomain names, without `_` (OF_EVENTS → of-events)."""
    return stream.lower().replace("_", "-")


class StreamDefaults(_Model):
    max_age: GoDuration = "168h"
    max_msgs: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1_000_000


class Stream(_Model):
    name: StreamName
    owner: str | None = None     # the catalog service whose binary ensures it; None: the platform keeps it
    subjects: Annotated[list[StreamSubject], Field(min_length=1)]

    def covers(self, subject: str) -> bool:
        return any(covers(pattern, subject) for pattern in self.subjects)


class StreamRegistry(_Model):
    defaults: StreamDefaults = StreamDefaults()
    streams: list[Stream]
    core: list[Subject] = []

    def stream_of(self, subject: str) -> Stream | None:
        """The stream that keeps `subject`, or None for a core subject."""
        return next((s for s in self.streams if s.covers(subject)), None)


@dataclass(frozen=True)
class DurableConsumer:
    """One per subscribing service and stream whose binary does not consume it itself: its durable name is the
    service's. A push consumer in the stream's account: its messages go to a deliver subject the subscriber's account
    imports (a consumer lookup through an import is not answered reliably on a routed cluster: docs/control.md)."""

    service: str
    stream: str
    subjects: tuple[str, ...]
    home: str = STREAMS_ACCOUNT     # the account the stream lives in

    @property
    def name(self) -> str:
        return f"{resource_name(self.stream)}-{self.service}"

    @property
    def deliver_subject(self) -> str:
        """Where JetStream pushes its messages; in no stream (`deliver.` is no registry root), so no cycle."""
        return f"deliver.{self.stream}.{self.service}"

    @property
    def ack_subjects(self) -> str:
        return f"$JS.ACK.{self.stream}.{self.service}.>"


@dataclass(frozen=True)
class HeldStream:
    """A stream a binary creates or updates itself at start (its contract's `nats.streams`): it lives in the account
    of the service running that binary, with exactly the configuration the binary sends."""

    service: str
    config: upstream.Stream
    consumers: tuple[upstream.Consumer, ...]    # the binary's own pull consumers on it


@dataclass(frozen=True)
class ControlBus:
    """The registry's streams placed in accounts, and the durable consumers the platform keeps for subscribers."""

    registry: StreamRegistry
    held: dict[str, HeldStream]
    consumers: list[DurableConsumer]

    @classmethod
    def of(cls, registry: StreamRegistry, catalog: Catalog, contracts: upstream.Contracts) -> ControlBus:
        held = held_streams(registry, catalog, contracts)
        return cls(registry, held, durable_consumers(registry, catalog, held, binary_reads(catalog, contracts)))

    def home(self, stream: str) -> str:
        """The account a stream lives in."""
        found = self.held.get(stream)
        return found.service if found else STREAMS_ACCOUNT

    def home_of(self, subject: str) -> str | None:
        """The account of the stream that keeps `subject`, or None for a core subject."""
        stream = self.registry.stream_of(subject)
        return self.home(stream.name) if stream else None


def held_streams(registry: StreamRegistry, catalog: Catalog, contracts: upstream.Contracts) -> dict[str, HeldStream]:
    """The registry's streams whose owner runs a binary that ensures them."""
    held: dict[str, HeldStream] = {}
    names = {s.name for s in catalog.services}
    for stream in registry.streams:
        if stream.owner is None or stream.owner not in names:
            continue
        binary = catalog.by_name(stream.owner).binary
        nats = contracts.binaries[binary].nats if binary in contracts.binaries else None
        config = next((s for s in nats.streams if s.name == stream.name), None) if nats else None
        if nats and config:
            held[stream.name] = HeldStream(stream.owner, config, tuple(c for c in nats.consumers if c.stream == stream.name))
    return held


def binary_reads(catalog: Catalog, contracts: upstream.Contracts) -> dict[str, set[str]]:
    """The subjects each service's binary subscribes to (its contract's `nats.subscribes`)."""
    reads: dict[str, set[str]] = {}
    for service in catalog.services:
        nats = contracts.binaries[service.binary].nats if service.binary in contracts.binaries else None
        reads[service.name] = set(nats.subscribes) if nats else set()
    return reads


def durable_consumers(registry: StreamRegistry, catalog: Catalog, held: dict[str, HeldStream] | None = None,
                      reads: dict[str, set[str]] | None = None) -> list[DurableConsumer]:
    """A push consumer per subscribing service and stream, for the subjects its binary reads (`reads`; all the
    catalog's when not given); none where the binary consumes the stream it holds with consumers of its own. A
    consumer nobody reads would fill and alert for ever (components/control/jetstream.py)."""
    held = held or {}
    consumers = []
    for service in catalog.services:
        by_stream: dict[str, list[str]] = {}
        for subject in service.nats.subscribes:
            stream = registry.stream_of(subject)
            own = held.get(stream.name) if stream else None
            read = reads is None or subject in reads.get(service.name, set())
            if stream is not None and read and not (own and own.service == service.name and own.consumers):
                by_stream.setdefault(stream.name, []).append(subject)
        consumers += [DurableConsumer(service.name, stream, tuple(subjects),
                                      held[stream].service if stream in held else STREAMS_ACCOUNT)
                      for stream, subjects in by_stream.items()]
    return consumers


@cache
def load_streams(path: Path = REGISTRY_PATH) -> StreamRegistry:
    return registry.load(StreamRegistry, path, "streams")


def stream_problems(registry: StreamRegistry, catalog: Catalog,
                    contracts: upstream.Contracts | None = None) -> Iterable[ConfigProblem]:
    control = {s.name for s in catalog.services if s.uses_nats}
    used = {subject for s in catalog.services for subject in (*s.nats.publishes, *s.nats.subscribes)}
    published = {subject for s in catalog.services for subject in s.nats.publishes}
    names: set[str] = set()
    for stream in registry.streams:
        where = f"{SOURCE}: streams[{stream.name}]"
        if stream.name in names:
            yield ConfigProblem(f"{where}.name", repr(stream.name), "each stream listed once")
        names.add(stream.name)
        if stream.owner is not None and stream.owner not in control:
            yield ConfigProblem(f"{where}.owner", repr(stream.owner), "a catalog service whose buses include control")
        if not any(stream.covers(subject) for subject in published):
            yield ConfigProblem(f"{where}.subjects", str(stream.subjects), "subjects some catalog service publishes")
    for subject in sorted(used):
        homes = [s.name for s in registry.streams if s.covers(subject)] + (["core"] if subject in registry.core else [])
        if len(homes) != 1:
            found = f"{subject!r} in " + (", ".join(homes) if homes else "no stream and not core")
            yield ConfigProblem(f"{SOURCE}: streams", found,
                                "every subject the catalog's services use in exactly one stream, or core")
    for subject in registry.core:
        if subject not in published:
            yield ConfigProblem(f"{SOURCE}: core", repr(subject), "a subject some catalog service publishes")
    if contracts is not None:
        yield from _held_problems(registry, catalog, contracts)


def _held_problems(registry: StreamRegistry, catalog: Catalog, contracts: upstream.Contracts) -> Iterable[ConfigProblem]:
    """A stream a binary ensures is its owner's, on exactly the binary's subjects: the binary's STREAM.UPDATE at start
    would replace any other subject list (nats.go CreateOrUpdateStream)."""
    held = held_streams(registry, catalog, contracts)
    for stream in registry.streams:
        where = f"{SOURCE}: streams[{stream.name}]"
        if stream.name in held and sorted(stream.subjects) != sorted(held[stream.name].config.subjects):
            yield ConfigProblem(f"{where}.subjects", str(stream.subjects),
                                f"the subjects its binary ensures ({', '.join(held[stream.name].config.subjects)})")
    registered = {s.name: s for s in registry.streams}
    for service in catalog.services:
        nats = contracts.binaries[service.binary].nats if service.binary in contracts.binaries else None
        for config in (nats.streams if nats else []):
            if registered.get(config.name) is None or registered[config.name].owner != service.name:
                yield ConfigProblem(f"{SOURCE}: streams[{config.name}].owner", repr(
                    registered[config.name].owner if config.name in registered else None),
                    f"{service.name}: its binary ensures {config.name} at start")
