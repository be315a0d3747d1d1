"""The root of the stack config: one model composed of every plane's settings, and how a stack's values are read.

`load_stack_config(raw, stack)` merges the environment's defaults (foundry/defaults.py) under the stack's
own values, validates types and ranges with pydantic and the cross-field rules of each plane's module, and
either returns a `StackConfig` or raises `ConfigErrors` holding one `ConfigProblem` per problem, each naming
the full config path (`openfoundry:storage.objectStore.dataChunks`), what was found and what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from foundry.config.backups import backups_problems
from foundry.config.base import NAMESPACE, ConfigErrors, ConfigProblem, Environment, Section
from foundry.config.compute import Compute, trino_problems
from foundry.config.control import Control, nats_problems
from foundry.config.edge import Edge, cache_problems, edge_problems
from foundry.config.ingestion import Ingestion, kafka_problems, relay_problems
from foundry.config.platform import (
    Images,
    KubernetesTarget,
    Monitoring,
    Operators,
    Topology,
    Workloads,
    image_problems,
    kubernetes_target_problems,
    workload_problems,
)
from foundry.config.relational import Relational, cassandra_problems, postgres_problems
from foundry.config.storage import Storage, ceph_problems, lakehouse_problems, pool_problems, vespa_problems
from foundry.defaults import ENVIRONMENTS, deep_merge, defaults_for


class StackConfig(Section):
    environment: Environment
    kubernetes: KubernetesTarget
    operators: Operators
    images: Images
    topology: Topology
    workloads: Workloads
    storage: Storage
    ingestion: Ingestion
    control: Control
    relational: Relational
    compute: Compute = Compute()
    edge: Edge
    monitoring: Monitoring = Monitoring()

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def workloads_for(self, plane: str) -> Workloads:
        """A plane's own workload sizing where it has one, else the platform-wide one."""
        if plane == "compute" and self.compute.workloads is not None:
            return self.compute.workloads
        return self.workloads


def cross_field_problems(cfg: StackConfig) -> Iterable[ConfigProblem]:
    """Every rule that relates one field to another, handed the fields it reads (each names the paths it checks);
    the order is the order problems are reported in."""
    prod, topology, storage = cfg.is_prod, cfg.topology, cfg.storage
    yield from kubernetes_target_problems(cfg.kubernetes)
    yield from image_problems(cfg.images)
    yield from workload_problems(cfg.workloads, cfg.compute.workloads, prod)
    yield from ceph_problems(storage.ceph, topology, prod)
    yield from pool_problems(storage, topology, prod)
    yield from backups_problems(storage.backups, prod)
    yield from kafka_problems(cfg.ingestion.kafka, prod)
    yield from relay_problems(cfg.ingestion.outbox_relay, prod)
    yield from lakehouse_problems(storage.lakehouse, topology, prod)
    yield from vespa_problems(storage.vespa, topology, prod)
    yield from edge_problems(cfg.edge, prod)
    yield from cache_problems(cfg.edge.cache, topology, prod)
    yield from trino_problems(cfg.compute.trino, storage.lakehouse.openid_provider_uri, prod)
    yield from nats_problems(cfg.control.nats)
    yield from postgres_problems(cfg.relational.postgres, prod)
    yield from cassandra_problems(cfg.relational.cassandra, len(cfg.topology.zones), prod)


def parse_raw_config(raw: Mapping[str, str]) -> dict[str, Any]:
    """Pulumi hands structured values to the program as JSON strings: decode those of our namespace."""
    values: dict[str, Any] = {}
    prefix = f"{NAMESPACE}:"
    for key, text in raw.items():
        if not key.startswith(prefix):
            continue
        try:
            values[key[len(prefix):]] = json.loads(text)
        except (TypeError, ValueError):
            values[key[len(prefix):]] = text
    return values


def load_stack_config(values: Mapping[str, Any], stack: str) -> StackConfig:
    environment = values.get("environment", stack if stack in ENVIRONMENTS else None)
    if environment not in ENVIRONMENTS:
        raise ConfigErrors([ConfigProblem(f"{NAMESPACE}:environment", _show(environment),
                                          " or ".join(repr(e) for e in ENVIRONMENTS))])
    merged = deep_merge(defaults_for(str(environment)), {**values, "environment": environment})
    try:
        config = StackConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigErrors(list(_problems_from_pydantic(err))) from None
    problems = list(cross_field_problems(config))
    if problems:
        raise ConfigErrors(problems)
    return config


def _problems_from_pydantic(err: ValidationError) -> Iterable[ConfigProblem]:
    for issue in err.errors(include_url=False):
        path = _config_path(issue["loc"])
        if issue["type"] == "extra_forbidden":
            yield ConfigProblem(path, f"unknown key {issue['loc'][-1]!s}", _allowed_keys(issue["loc"]))
        elif issue["type"] == "missing":
            yield ConfigProblem(path, "nothing (the key is required)", "a value for this key")
        else:
            yield ConfigProblem(path, _show(issue.get("input")), _lowercase_first(issue["msg"]))


def _config_path(loc: tuple[int | str, ...]) -> str:
    head, *rest = [str(part) for part in loc] or [""]
    path = f"{NAMESPACE}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _allowed_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = StackConfig
    for part in loc[:-1]:
        field = next((f for name, f in model.model_fields.items() if f.alias == part or name == part), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "the documented keys (docs/configuration.md)"
        model = annotation
    return "one of " + ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]
