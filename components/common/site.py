"""The site a part of the platform is built for: its environment and the failure domains it spreads over."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from foundry.config import Environment, Monitoring, StackConfig, Topology


@dataclass(frozen=True)
class Site:
    """Stack config `environment` and `topology`. Production spreads hard, budgets disruptions and protects state;
    development relaxes all three."""

    environment: Environment
    topology: Topology
    monitoring: Monitoring = field(default_factory=Monitoring)

    @classmethod
    def of(cls, cfg: StackConfig) -> Site:
        return cls(cfg.environment, cfg.topology, cfg.monitoring)

    @property
    def scrape_labels(self) -> dict[str, str]:
        """What makes the cluster's Prometheus pick up a PodMonitor."""
        return dict(self.monitoring.selector_labels)

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    @property
    def zone_label(self) -> str:
        return self.topology.zone_label

    def keeps(self, stateful: bool) -> bool:
        """Whether a resource is protected and retained on delete: stateful ones, in production."""
        return stateful and self.prod


def child_options(parent: pulumi.Resource, provider: pulumi.ProviderResource, depends_on: list[pulumi.Resource],
                  keep: bool = False) -> pulumi.ResourceOptions:
    """A component's child: its parent, the explicit provider, what it waits for, and protection when kept."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on, protect=keep,
                                  retain_on_delete=keep)
