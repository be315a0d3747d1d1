"""Platform components a catalog service may call (Lakekeeper, Vespa): where they run and what callers get."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.common.kube import peer, secret_env

TOKEN_DIRECTORY = "/var/run/secrets/openfoundry"


@dataclass(frozen=True)
class ServiceAccountToken:
    """A token of the pod's own ServiceAccount for one audience, in a file the kubelet renews before it expires;
    its path is in `variable`, and a client reads the file again for every request it signs with it."""

    audience: str
    variable: str
    expiration_seconds: int = 3600

    @property
    def directory(self) -> str:
        return f"{TOKEN_DIRECTORY}/{self.audience}"

    @property
    def path(self) -> str:
        return f"{self.directory}/token"

    def volume(self) -> k8s.core.v1.VolumeArgs:
        return k8s.core.v1.VolumeArgs(name=f"token-{self.audience}", projected=k8s.core.v1.ProjectedVolumeSourceArgs(
            sources=[k8s.core.v1.VolumeProjectionArgs(service_account_token=k8s.core.v1.ServiceAccountTokenProjectionArgs(
                audience=self.audience, expiration_seconds=self.expiration_seconds, path="token"))]))

    def mount(self) -> k8s.core.v1.VolumeMountArgs:
        return k8s.core.v1.VolumeMountArgs(name=f"token-{self.audience}", mount_path=self.directory, read_only=True)

    def env(self) -> k8s.core.v1.EnvVarArgs:
        return k8s.core.v1.EnvVarArgs(name=self.variable, value=self.path)


@dataclass(frozen=True)
class PlatformEndpoint:
    """A caller's view of a platform component: environment variables, and the egress rule to reach it."""

    namespace: str
    pods: tuple[tuple[str, str], ...]     # the component's pod labels
    ports: tuple[int, ...]                # its pods' ports (NetworkPolicies see pod ports, not Service ports)
    env: tuple[tuple[str, str], ...]
    secret: str | None = None                         # a Secret in the caller's namespace, with
    secret_env: tuple[tuple[str, str], ...] = ()      # (variable, key) pairs read from it
    token: ServiceAccountToken | None = None          # how the caller proves who it is, when the component asks
    also_egress: tuple[k8s.networking.v1.NetworkPolicyEgressRuleArgs, ...] = ()   # what else a call leads to
    composed: tuple[tuple[str, str], ...] = ()        # values built from the Secret's variables, `$(NAME)`

    def env_vars(self) -> list[k8s.core.v1.EnvVarArgs]:
        plain = [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in self.env]
        token = [self.token.env()] if self.token else []
        secrets = [secret_env(name, str(self.secret), key) for name, key in self.secret_env]
        # Kubernetes expands `$(NAME)` only from variables defined before: the composed ones come last
        composed = [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in self.composed]
        return plain + token + secrets + composed

    def egress_rule(self) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
        return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[peer(self.namespace, dict(self.pods))],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in self.ports],
        )

    def egress_rules(self) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]:
        return [self.egress_rule(), *self.also_egress]
