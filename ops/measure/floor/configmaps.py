"""The floor both benchmarks measure against: a provider and plain ConfigMaps, `count` resources in all."""

import pulumi
import pulumi_kubernetes as k8s


def register_floor(count: int, render_directory: str) -> None:
    provider = k8s.Provider("kubernetes", render_yaml_to_directory=render_directory)
    for index in range(count - 1):
        k8s.core.v1.ConfigMap(
            f"floor-{index}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"floor-{index}", namespace="default"),
            data={"index": str(index)},
            opts=pulumi.ResourceOptions(provider=provider),
        )
