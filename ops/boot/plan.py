"""What to boot: every rendered Deployment container that runs an OpenFoundry image, with its binary's contract,
and whether it starts (a Deployment scaled to 0 and annotated openfoundry.dev/waiting-for waits; a static image
or an image with no binary is skipped)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundry.catalog import Catalog
from foundry.upstream import Binary, Contracts
from ops.boot.build import BuildSpec
from ops.boot.images import binary_of, image_name, is_openfoundry
from ops.boot.pods import Image
from ops.boot.rendered import Obj, Rendered, annotations_of, name_of, namespace_of

WAITING_FOR = "openfoundry.dev/waiting-for"
BINARY_DIR = "/usr/local/bin"


@dataclass(frozen=True)
class Target:
    """One container of one Deployment: its binary (None: skipped) and why it does not start, if it does not."""

    workload: Obj
    container: Mapping[str, Any]
    binary: Binary | None
    waiting: str = ""           # the store it waits for
    skipped: str = ""           # why this command does not run it

    @property
    def deployment(self) -> str:
        return name_of(self.workload)

    @property
    def namespace(self) -> str:
        return namespace_of(self.workload)

    @property
    def binary_name(self) -> str:
        return self.binary.name if self.binary else f"({image_name(self.container['image'])}: no binary)"

    @property
    def starts(self) -> bool:
        return self.binary is not None and not self.waiting and not self.skipped


def catalog_entries(catalog: Catalog) -> dict[str, list[str]]:
    """Catalog entry -> its upstream services (the first is the binary an older render's image runs)."""
    return {service.name: list(service.upstream.services) for service in catalog.services}


def targets(rendered: Rendered, contracts: Contracts, entries: Mapping[str, list[str]]) -> list[Target]:
    found = []
    for deployment in rendered.of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            if is_openfoundry(container["image"]):
                found.append(target(deployment, container, contracts, entries))
    return found


def target(deployment: Obj, container: Mapping[str, Any], contracts: Contracts,
           entries: Mapping[str, list[str]]) -> Target:
    mapped = binary_of(container["image"], contracts.binaries, entries)
    if mapped.binary is None:
        return Target(deployment, container, None, skipped=mapped.why)
    binary = contracts.of(mapped.binary)
    if binary.kind == "static":
        return Target(deployment, container, binary, skipped="a static image (not a Go binary): not booted")
    replicas = deployment["spec"].get("replicas", 1)
    waiting_for = annotations_of(deployment).get(WAITING_FOR, "")
    if replicas == 0:
        why = waiting_for or "scaled to 0 without openfoundry.dev/waiting-for"
        return Target(deployment, container, binary, waiting=why)
    return Target(deployment, container, binary)


def build_specs(planned: list[Target]) -> list[BuildSpec]:
    """One build per binary that starts (a binary under two Deployments is built once)."""
    binaries = {t.binary.name: t.binary for t in planned if t.starts and t.binary}
    return [BuildSpec(name, binary.build.package) for name, binary in sorted(binaries.items())]


def image_of(binary: Binary, built: Mapping[str, Path], source: Path) -> Image:
    """The binary's image: the built binary as entrypoint, its Dockerfile's args, its files from the checkout."""
    entrypoint = f"{BINARY_DIR}/{binary.name}"
    files: dict[str, Path] = {entrypoint: built[binary.name]}
    files.update({target: source / path for target, path in binary.build.files.items()})
    return Image(entrypoint, tuple(binary.build.args), files)
