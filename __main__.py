"""OpenFoundry's runtime topology as one Pulumi program: read the stack config, then build every plane."""

from __future__ import annotations

import pulumi

from components.platform import build_platform
from foundry.catalog import CatalogError, load_catalog
from foundry.config import ConfigErrors, load_stack_config, parse_raw_config
from foundry.consistency import check_config_against_catalog
from foundry.guard import refuse_development_passphrase
from foundry.streams import load_streams
from foundry.topics import load_registry
from foundry.upstream import load_contracts


def raw_config() -> dict[str, str]:
    """Every config value of the stack, including keys no code asks for (so unknown keys can be refused)."""
    from pulumi.runtime.config import CONFIG

    return {**pulumi.runtime.get_config_env(), **CONFIG.get()}


def main() -> None:
    try:
        config = load_stack_config(parse_raw_config(raw_config()), pulumi.get_stack())
        catalog = load_catalog()
        registry, streams, contracts = load_registry(), load_streams(), load_contracts()
        check_config_against_catalog(config, catalog, registry, streams, contracts)
        refuse_development_passphrase(config)
    except ConfigErrors as err:
        for problem in err.problems:
            pulumi.log.error(str(problem))
        raise pulumi.RunError(f"{len(err.problems)} configuration problem(s); nothing was deployed") from None
    except CatalogError as err:
        raise pulumi.RunError(f"invalid service catalog; nothing was deployed:\n{err}") from None
    build_platform(config, catalog, registry, streams, contracts)


main()
