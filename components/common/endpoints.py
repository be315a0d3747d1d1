"""Platform components a catalog service may call (Lakekeeper, Vespa): where they run and what callers get."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.common.kube import peer, secret_env


@dataclass(frozen=True)
class PlatformEndpoint:
    """A caller's view of a platform component: environment variables, and the egress rule to reach it."""

    namespace: str
    pods: tuple[tuple[str, str], ...]     # the component's pod labels
    ports: tuple[int, ...]                # its pods' ports (NetworkPolicies see pod ports, not Service ports)
    env: tuple[tuple[str, str], ...]
    secret: str | None = None                         # a Secret in the caller's namespace, with
    secret_env: tuple[tuple[str, str], ...] = ()      # (variable, key) pairs read from it

    def env_vars(self) -> list[k8s.core.v1.EnvVarArgs]:
        plain = [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in self.env]
        return plain + [secret_env(name, str(self.secret), key) for name, key in self.secret_env]

    def egress_rule(self) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
        return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[peer(self.namespace, dict(self.pods))],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in self.ports],
        )
