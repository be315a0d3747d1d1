"""Which OpenFoundry binary a container image runs.

A render of this platform names each image after its binary (`ghcr.io/unnamedlab/openfoundry/<binary>:sha-…`).
An older render named it after the catalog entry (`ghcr.io/openfoundry/<entry>:0.1.0`): that entry's binary is
its first upstream service in data/services.yaml, so such a tree can be booted for a before/after comparison.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

OPENFOUNDRY_IMAGE = "openfoundry/"       # every OpenFoundry image's repository path holds this segment


@dataclass(frozen=True)
class ImageBinary:
    """The binary an image runs, or why none (`binary` None and `why` said)."""

    image: str
    binary: str | None
    why: str = ""


def image_name(image: str) -> str:
    """The repository's last path segment, without tag or digest."""
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].split(":", 1)[0]


def is_openfoundry(image: str) -> bool:
    return OPENFOUNDRY_IMAGE in image.split("@", 1)[0]


def binary_of(image: str, binaries: Collection[str], entries: Mapping[str, list[str]]) -> ImageBinary:
    """The binary of an OpenFoundry image: its name when a contract has it, else the catalog entry of that name's
    first upstream service (`entries`: entry name -> upstream services)."""
    name = image_name(image)
    if name in binaries:
        return ImageBinary(image, name)
    if name not in entries:
        return ImageBinary(image, None, f"{name} is neither a binary with a contract nor a catalog entry")
    upstream = entries[name]
    if not upstream:
        return ImageBinary(image, None, f"catalog entry {name} has no OpenFoundry binary (upstream relation none)")
    if upstream[0] not in binaries:
        return ImageBinary(image, None, f"catalog entry {name} names {upstream[0]}, which has no contract")
    return ImageBinary(image, upstream[0])
