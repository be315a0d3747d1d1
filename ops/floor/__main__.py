"""The benchmark's floor: N plain ConfigMaps through the same engine and render-mode provider."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config("floor")
provider = k8s.Provider("kubernetes", render_yaml_to_directory=config.require("renderDirectory"))
for index in range(config.require_int("count")):
    k8s.core.v1.ConfigMap(
        f"floor-{index}",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"floor-{index}", namespace="default"),
        data={"index": str(index)},
        opts=pulumi.ResourceOptions(provider=provider),
    )
