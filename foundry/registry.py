"""Reading a registry file (data/*.yaml: topics, streams, SLOs, lakehouse tables, OpenFoundry's binaries): YAML, then
the registry's pydantic model, every problem reported as one `ConfigProblem` named by the file, the entry (by its
`name`) and the field, never a traceback; a registry's own cross-checks run after it loads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from foundry.config import ConfigErrors, ConfigProblem

DATA = Path(__file__).resolve().parent.parent / "data"
Registry = TypeVar("Registry", bound=BaseModel)


def source_of(path: Path) -> str:
    """How a problem names the file: its path in the repository (data/topics.yaml), else the path as given."""
    return str(path.relative_to(DATA.parent)) if path.is_relative_to(DATA.parent) else str(path)


def entry_problem(source: str, collection: str, data: Any, issue: Any) -> ConfigProblem:
    """A pydantic issue in a registry file, named by the entry's `name`: `<source>: <collection>[name].field`."""
    loc = list(issue["loc"])
    where = source
    if len(loc) >= 2 and loc[0] == collection and isinstance(loc[1], int):
        entries = data.get(collection) if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where += f": {collection}[{name if name else f'#{loc[1] + 1}'}]"
        loc = loc[2:]
    elif loc:
        where += f": {loc[0]}"
        loc = loc[1:]
    if loc:
        where += "." + ".".join(str(p) for p in loc)
    found = "nothing" if issue["type"] == "missing" else repr(issue.get("input"))
    return ConfigProblem(where, found, re.sub(r"^(Value error, |Input should be )", "", issue["msg"]))


def parse(model: type[Registry], data: Any, source: str, collection: str) -> Registry:
    """`data` as the registry `model`, whose entries are the list under `collection`."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigErrors([entry_problem(source, collection, data, issue)
                            for issue in err.errors(include_url=False)]) from None


def load(model: type[Registry], path: Path, collection: str) -> Registry:
    """The registry file at `path`, parsed as `model`."""
    source = source_of(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigErrors([ConfigProblem(source, "text that is not YAML", f"YAML ({err})")]) from None
    return parse(model, data, source, collection)
