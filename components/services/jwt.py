"""The platform's shared JWT secret: the HS256 key OpenFoundry's binaries sign and check user tokens with (each reads
it as JWT_SECRET, OPENFOUNDRY_JWT_SECRET or OF_JWT__SECRET; data/upstream/binaries/). Upstream hands it to every pod
through its `open-foundry-env` and `openfoundry-jwt` Secrets (of:infra/helm/_shared/templates/_helpers.tpl:198-206);
here it is generated once as a Pulumi secret and written to a Secret `openfoundry-jwt` in each namespace whose
services read it, since a pod reads Secrets of its own namespace only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.credentials import GeneratedPassword
from components.services.environment import JWT_KEY, JWT_SECRET
from foundry.labels import common_labels

LENGTH = 64   # letters and digits: about 380 bits, beyond HS256's 256-bit key


@dataclass(frozen=True)
class PlatformJwtArgs:
    planes: Sequence[str]               # the planes whose services read it
    namespaces: dict[str, pulumi.Input[str]]   # by plane
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class PlatformJwt(pulumi.ComponentResource):
    def __init__(self, name: str, args: PlatformJwtArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:platform:Jwt", name, None, opts)
        key = GeneratedPassword(JWT_SECRET, length=LENGTH, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.secrets = {
            plane: k8s.core.v1.Secret(
                f"{plane}-{JWT_SECRET}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=JWT_SECRET, namespace=args.namespaces[plane],
                                                    labels=common_labels(plane)),
                type="Opaque", string_data={JWT_KEY: key.value}, opts=child)
            for plane in args.planes
        }
        self.register_outputs({"namespaces": sorted(self.secrets)})
