"""The operators' real CRDs, generated from their published Go API modules, and a validator that applies them
the way the API server does.

    python3 -m ops.crds        # generate (cached), print where

Each operator has a wrapper module under `crds/<name>/` (its go.mod/go.sum pin the API module at the version
in foundry/versions.py, next to controller-gen). `controller-gen crd` runs on the API package into a cache
outside the repository; nothing generated is committed.

Validation semantics (structural schemas): an unknown field is an error unless the schema says
`x-kubernetes-preserve-unknown-fields`; `x-kubernetes-int-or-string` accepts both; required, enum, pattern,
min/max and nullable as declared; the declared version must be served by the CRD. CEL rules are not evaluated.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from foundry import versions
from ops.toolchain import REPO, ToolchainError, cache_dir, go_env, log, step

WRAPPERS = REPO / "crds"
_KEYWORDS = ("type", "required", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
             "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties")


def crd_key() -> str:
    digest = hashlib.sha256(versions.CONTROLLER_TOOLS_VERSION.encode())
    for path in sorted(WRAPPERS.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(WRAPPERS).as_posix().encode())
            digest.update(path.read_bytes())
    for name, source in sorted(versions.CRD_SOURCES.items()):
        digest.update(f"{name}={source}".encode())
    return digest.hexdigest()[:16]


def crd_dir() -> Path:
    return cache_dir() / f"crds-{crd_key()}"


def ensure_crds() -> Path:
    """Generate every operator's CRDs once per pin set; later calls return the cached directory."""
    target = crd_dir()
    if (target / "complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    for name, source in versions.CRD_SOURCES.items():
        work = target / "build" / name
        shutil.copytree(WRAPPERS / name, work)
        with step(f"generating the {name} CRDs from {source.module}@{source.version}"):
            result = subprocess.run(
                ["go", "run", "sigs.k8s.io/controller-tools/cmd/controller-gen", "crd",
                 f"paths={source.package}", f"output:crd:dir={target / name}"],
                cwd=work, env=go_env(), capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"controller-gen failed for {name}:\n{result.stderr[-3000:]}")
    shutil.rmtree(target / "build", ignore_errors=True)
    (target / "complete").write_text("")
    return target


@dataclass(frozen=True)
class CrdVersion:
    served: bool
    schema: dict[str, Any]


@dataclass
class CrdRegistry:
    """(group, kind) → {version: CrdVersion}."""

    kinds: dict[tuple[str, str], dict[str, CrdVersion]]
    _validators: dict[tuple[str, str, str], jsonschema.Draft7Validator] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> CrdRegistry:
        kinds: dict[tuple[str, str], dict[str, CrdVersion]] = {}
        for path in sorted(directory.rglob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                kinds[(spec["group"], spec["names"]["kind"])] = {
                    v["name"]: CrdVersion(v.get("served", False), v.get("schema", {}).get("openAPIV3Schema", {}))
                    for v in spec["versions"]
                }
        return cls(kinds)

    def knows(self, group: str, kind: str) -> bool:
        return (group, kind) in self.kinds

    def problems(self, document: dict[str, Any]) -> Iterator[str]:
        group, _, version = str(document.get("apiVersion", "")).rpartition("/")
        crd_versions = self.kinds[(group, document["kind"])]
        declared = crd_versions.get(version)
        if declared is None or not declared.served:
            served = sorted(v for v, c in crd_versions.items() if c.served)
            yield f"at apiVersion: version {version} is not served by the CRD (served: {', '.join(served)})"
            return
        body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind", "metadata")}
        key = (group, document["kind"], version)
        if key not in self._validators:
            self._validators[key] = jsonschema.Draft7Validator(_validator_schema(declared.schema))
        validator = self._validators[key]
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in error.absolute_path) or "(root)"
            yield f"at {path}: {error.message}"


def _validator_schema(schema: dict[str, Any]) -> dict[str, Any]:
    root = structural_to_json_schema(schema)
    # metadata is checked by the API server's ObjectMeta rules, not the CRD schema
    envelope = ("apiVersion", "kind", "metadata")
    for key in envelope:
        root.get("properties", {}).pop(key, None)
    if "required" in root:
        root["required"] = [key for key in root["required"] if key not in envelope]
    return root


def structural_to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Translate a structural OpenAPI v3 schema to JSON Schema with the API server's pruning made strict."""
    out: dict[str, Any] = {k: schema[k] for k in _KEYWORDS if k in schema}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in schema:
        out["properties"] = {k: structural_to_json_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = structural_to_json_schema(schema["items"])
    for combinator in ("anyOf", "allOf", "oneOf"):
        if combinator in schema:
            out[combinator] = [structural_to_json_schema(s) for s in schema[combinator]]
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = structural_to_json_schema(additional)
    elif additional is not None:
        out["additionalProperties"] = additional
    elif schema.get("type") == "object" and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def main() -> int:
    try:
        print(ensure_crds())
    except ToolchainError as err:
        log(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
