"""The operators' real CRDs, generated with their ordinary tools from published artifacts, and a validator
that applies them the way the API server does.

Per source in foundry/versions.py (CRD_SOURCES):
  GoApiCrds       controller-gen over the operator's Go API module; wrapper module crds/<name>/ (go.mod/go.sum)
  StrimziApiCrds  Strimzi's own generator (io.strimzi:crd-generator over io.strimzi:api), resolved by Maven, on Java 21+
  JarCrds         the CRD files a published jar ships (resolved by Maven)
Everything lands in a cache outside the repository keyed by the pins; nothing generated is committed.

Validation semantics (structural schemas): an unknown field is an error unless the schema says
`x-kubernetes-preserve-unknown-fields`; `x-kubernetes-int-or-string` accepts both; required, enum, pattern,
min/max and nullable as declared; the declared version must be served by the CRD. CEL rules are not evaluated.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from foundry import versions
from ops.engine.java import java_at_least
from ops.engine.toolchain import REPO, ToolchainError, cache_dir, go_env, step

WRAPPERS = REPO / "crds"
# libyaml's loader when PyYAML has it (the wheels do): the CRDs are megabytes of YAML
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEYWORDS = ("type", "required", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
             "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties")
_DEPENDENCY_PLUGIN = f"org.apache.maven.plugins:maven-dependency-plugin:{versions.MAVEN_DEPENDENCY_PLUGIN_VERSION}"


def crd_key() -> str:
    digest = hashlib.sha256(versions.CONTROLLER_TOOLS_VERSION.encode())
    digest.update(versions.MAVEN_DEPENDENCY_PLUGIN_VERSION.encode())
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
        work.mkdir(parents=True)
        with step(f"generating the {name} CRDs from {describe(source)}"):
            generate(name, source, work, target / name)
    shutil.rmtree(target / "build", ignore_errors=True)
    (target / "complete").write_text("")
    return target


def describe(source: versions.CrdSource) -> str:
    if isinstance(source, versions.GoApiCrds):
        return f"{source.module}@{source.version}"
    if isinstance(source, versions.StrimziApiCrds):
        return f"io.strimzi:api:{source.version}"
    if isinstance(source, versions.ModuleFileCrds):
        return f"{source.module}@{source.version}"
    return source.coordinates


def generate(name: str, source: versions.CrdSource, work: Path, out: Path) -> None:
    if isinstance(source, versions.GoApiCrds):
        generate_with_controller_gen(name, source, work, out)
    elif isinstance(source, versions.StrimziApiCrds):
        generate_with_strimzi(source, work, out)
    elif isinstance(source, versions.ModuleFileCrds):
        copy_from_module(source, work, out)
    else:
        extract_from_jar(source, work, out)


def copy_from_module(source: versions.ModuleFileCrds, work: Path, out: Path) -> None:
    listing = subprocess.run(["go", "mod", "download", "-json", f"{source.module}@{source.version}"], cwd=work,
                             env=go_env(), capture_output=True, text=True, check=True).stdout
    module = Path(json.loads(listing)["Dir"])
    out.mkdir(parents=True)
    for path in source.files:
        shutil.copyfile(module / path, out / Path(path).name)


def generate_with_controller_gen(name: str, source: versions.GoApiCrds, work: Path, out: Path) -> None:
    shutil.copytree(WRAPPERS / name, work, dirs_exist_ok=True)
    _run(["go", "run", "sigs.k8s.io/controller-tools/cmd/controller-gen", source.options,
          f"paths={source.package}", f"output:crd:dir={out}"], work, go_env(), f"controller-gen for {name}")


def generate_with_strimzi(source: versions.StrimziApiCrds, work: Path, out: Path) -> None:
    classpath = maven_classpath(work, [f"io.strimzi:api:{source.version}", f"io.strimzi:crd-generator:{source.version}"])
    out.mkdir(parents=True)
    targets = [f"io.strimzi.api.kafka.model.{model}={out / (model.rpartition('.')[2].lower() + '.yaml')}"
               for model in source.models]
    generator = java_at_least(versions.STRIMZI_GENERATOR_JAVA, "Strimzi's CRD generator")
    _run([str(generator), "-cp", classpath, "io.strimzi.crdgenerator.CrdGenerator",
          *source.arguments, *targets], work, None, "Strimzi's CRD generator")


def extract_from_jar(source: versions.JarCrds, work: Path, out: Path) -> None:
    group, artifact, version = source.coordinates.split(":")
    _maven(work, [f"{_DEPENDENCY_PLUGIN}:copy", f"-Dartifact={source.coordinates}", f"-DoutputDirectory={work}"])
    out.mkdir(parents=True)
    prefix = source.directory.rstrip("/") + "/"
    with zipfile.ZipFile(work / f"{artifact}-{version}.jar") as jar:
        for member in jar.namelist():
            if member.startswith(prefix) and member.endswith((".yml", ".yaml")):
                (out / f"{Path(member).stem}.yaml").write_bytes(jar.read(member))


def maven_classpath(work: Path, coordinates: list[str]) -> str:
    """Resolve artifacts and their dependencies with Maven through a throwaway pom; returns the classpath."""
    dependencies = "".join(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>".format(
            *c.split(":")) for c in coordinates)
    (work / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>openfoundry.local</groupId><artifactId>crds</artifactId><version>0</version>"
        f"<packaging>pom</packaging><dependencies>{dependencies}</dependencies></project>")
    _maven(work, [f"{_DEPENDENCY_PLUGIN}:build-classpath", f"-Dmdep.outputFile={work / 'classpath.txt'}"])
    return (work / "classpath.txt").read_text().strip()


def _maven(work: Path, arguments: list[str]) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolchainError("`mvn` is not on PATH: install Maven (this machine kind ships Maven 3.8).")
    _run([mvn, "-B", "-q", *arguments], work, None, "mvn " + arguments[0].rpartition(":")[2])


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None, what: str) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"{what} failed:\n{(result.stderr or result.stdout)[-3000:]}")


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
            for crd in yaml.load_all(path.read_text(), Loader=FAST_LOADER):
                # Kubernetes >= 1.22 serves only apiextensions.k8s.io/v1; fabric8 also ships the v1beta1 form
                if not crd or crd.get("kind") != "CustomResourceDefinition" \
                        or crd.get("apiVersion") != "apiextensions.k8s.io/v1":
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
