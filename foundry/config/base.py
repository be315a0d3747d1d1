"""What every settings module shares: the problem type, the base model, value types and small rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

NAMESPACE = "openfoundry"

Environment = Literal["dev", "prod"]
Count = Annotated[int, Field(ge=1, le=99)]
Quantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")]
DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
FailureDomain = Literal["host", "rack", "zone"]
Cron5 = Annotated[str, StringConstraints(pattern=r"^\S+( \S+){4}$")]
Cron6 = Annotated[str, StringConstraints(pattern=r"^\S+( \S+){5}$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$")]
Days = Annotated[int, Field(ge=1, le=3650)]


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    found: str
    allowed: str

    def __str__(self) -> str:
        return f"{self.path}: found {self.found}; allowed: {self.allowed}"


class ConfigErrors(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(f"{len(problems)} configuration problem(s)")
        self.problems = problems

    def report(self) -> str:
        lines = [f"invalid stack configuration ({len(self.problems)} problem(s)); nothing was deployed:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


class Section(BaseModel):
    """A part of the stack config: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


def odd_quorum(path: str, count: int, quorum: str) -> list[ConfigProblem]:
    if count % 2 == 0:
        return [ConfigProblem(path, str(count), f"an odd number ({quorum} needs a strict majority)")]
    return []


_UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def millicores(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(m?)", quantity)
    if match is None:
        return float("inf")
    return float(match.group(1)) * (1 if match.group(2) else 1000)


def quantity_bytes(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti)?", quantity)
    return float(match.group(1)) * _UNITS[match.group(2) or ""] if match else float("inf")


class CatalogClient(Section):
    """A query engine's login at Lakekeeper when it requires OIDC: OAuth2 client credentials at the issuer's token
    endpoint (the client id and secret are issued by the identity team, never generated here)."""

    # the OAuth2 token endpoint the engine gets its catalog token from
    catalog_token_uri: HttpsUrl | None = None
    # the client scope it asks for (one the identity provider defines; Lakekeeper's examples use `lakekeeper`)
    catalog_scope: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$")] = "lakekeeper"
    # its identity in Lakekeeper: `oidc~` and the `sub` of the tokens its client gets (Lakekeeper names OIDC users
    # so; an issuer may give a client a generated subject, so it is stated, not guessed); granted `select`
    catalog_principal: Annotated[str, StringConstraints(pattern=r"^oidc~[^\s~]{1,127}$")] | None = None


def catalog_client_problems(path: str, client: CatalogClient, openid_provider_uri: str | None,
                            engine: str) -> list[ConfigProblem]:
    """What an enabled engine's catalog login lacks: Lakekeeper authenticates every caller, an engine as its
    OAuth2 client at the issuer Lakekeeper trusts."""
    if openid_provider_uri is None:
        return [ConfigProblem("openfoundry:storage.lakehouse.openidProviderUri", "nothing",
                              f"an OIDC issuer's URL while {path.removeprefix('openfoundry:')} is enabled (Lakekeeper "
                              f"authenticates every caller; {engine}'s is its OAuth2 client at that issuer)")]
    problems = []
    if client.catalog_token_uri is None:
        problems.append(ConfigProblem(f"{path}.catalogTokenUri", "nothing",
                                      "the OAuth2 token endpoint of storage.lakehouse.openidProviderUri's issuer "
                                      f"(Lakekeeper requires OIDC, so {engine} needs a token)"))
    if client.catalog_principal is None:
        problems.append(ConfigProblem(f"{path}.catalogPrincipal", "nothing",
                                      f"oidc~<the sub of {engine}'s client tokens> (the warehouse grants it read "
                                      f"access; without it Lakekeeper refuses {engine})"))
    return problems


class Resources(Section):
    """What a pod an operator makes asks for: `cpu` and `memory` requested, and a memory limit (`memoryLimit`,
    default the request); no CPU limit: it may burst into idle cores, and a throttled database or broker is worse
    than a busy node."""

    cpu: Quantity
    memory: Quantity
    # where memory may grow past the request before the kernel kills the pod; default: the request
    memory_limit: Quantity | None = None

    def as_requirements(self) -> dict[str, dict[str, str]]:
        return {"requests": {"cpu": self.cpu, "memory": self.memory},
                "limits": {"memory": self.memory_limit or self.memory}}

