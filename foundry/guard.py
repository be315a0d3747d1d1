"""Safety rails that do not fit a field: prod never runs on the development passphrase."""

from __future__ import annotations

import os

from foundry.config import ConfigErrors, ConfigProblem, StackConfig

# Documented in docs/state-and-secrets.md: it protects dev's local state only, so it is no secret.
DEVELOPMENT_PASSPHRASE = "openfoundry-dev-only"


def refuse_development_passphrase(config: StackConfig, environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    if config.is_prod and env.get("PULUMI_CONFIG_PASSPHRASE") == DEVELOPMENT_PASSPHRASE:
        raise ConfigErrors([ConfigProblem(
            "PULUMI_CONFIG_PASSPHRASE", "the development passphrase",
            "a team secrets provider for prod (docs/state-and-secrets.md)")])
