"""Names and labels every plane agrees on."""

from __future__ import annotations

PART_OF = "openfoundry"
PLANE_LABEL = "openfoundry.io/plane"
FAMILY_LABEL = "openfoundry.io/family"
NAME_LABEL = "app.kubernetes.io/name"


def namespace_for(plane: str) -> str:
    return f"openfoundry-{plane}"


def common_labels(plane: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "pulumi", PLANE_LABEL: plane}


BUSES_LABEL = "openfoundry.io/buses"


def service_labels(name: str, plane: str, family: str, version: str, buses: list[str]) -> dict[str, str]:
    """`buses` joined by dots (a label value holds no commas): what the bus-contract policy checks credentials against."""
    return {**common_labels(plane), NAME_LABEL: name, FAMILY_LABEL: family, "app.kubernetes.io/version": version,
            BUSES_LABEL: ".".join(sorted(buses))}


def selector_labels(name: str) -> dict[str, str]:
    return {NAME_LABEL: name, "app.kubernetes.io/part-of": PART_OF}
