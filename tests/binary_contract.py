"""The oracle of tests/unit/test_binary_contracts.py: does a rendered container give its OpenFoundry binary what the
binary's contract (data/upstream/binaries/) says it reads, on the ports and probes the catalog and the contract
agree on? Each problem is one line naming the service and the variable, port or probe."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from foundry.binaries import Running
from tests.mocks import Registered, revealed

REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

# Secrets and ConfigMaps an operator writes from what the stack declares, with the keys a pod may read from them; the
# contract test accepts a reference into one only for an object the stack declares: CloudNativePG's `<cluster>-app`
# for a Cluster (its docs, "Application secrets"); a Secret and a ConfigMap named after each ObjectBucketClaim
# (lib-bucket-provisioner's keys, which Rook writes).
CNPG_APP_KEYS = {"username", "password", "host", "port", "dbname", "uri", "jdbc-uri", "pgpass"}
OBC_SECRET_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
OBC_CONFIG_MAP_KEYS = {"BUCKET_NAME", "BUCKET_HOST", "BUCKET_PORT", "BUCKET_REGION"}


@dataclass(frozen=True)
class Stack:
    """What the program registered: Secrets and ConfigMaps by (namespace, name), with their keys; bucket claims."""

    secrets: Mapping[tuple[str, str], set[str]]
    config_maps: Mapping[tuple[str, str], set[str]]
    claims: set[tuple[str, str]]
    clusters: set[tuple[str, str]]       # CloudNativePG Clusters

    @classmethod
    def of(cls, resources: list[Registered]) -> Stack:
        def keys(kind: str) -> dict[tuple[str, str], set[str]]:
            found: dict[tuple[str, str], set[str]] = {}
            for r in resources:
                if r.type == f"kubernetes:core/v1:{kind}":
                    inputs = revealed(r.inputs)
                    meta = inputs["metadata"]
                    found[(meta.get("namespace", ""), meta["name"])] = {
                        *(inputs.get("stringData") or {}), *(inputs.get("data") or {})}
            return found

        def named(suffix: str) -> set[tuple[str, str]]:
            return {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in resources
                    if r.type.endswith(suffix)}

        return cls(keys("Secret"), keys("ConfigMap"), named(":ObjectBucketClaim"), named("postgresql.cnpg.io/v1:Cluster"))


def container_of(resources: list[Registered], service: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The namespace, Deployment spec and (only) container of a service."""
    for r in resources:
        if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["name"] == service:
            spec = r.inputs["spec"]
            (container,) = spec["template"]["spec"]["containers"]
            return r.inputs["metadata"]["namespace"], spec, container
    raise KeyError(service)


def contract_problems(run: Running, namespace: str, container: Mapping[str, Any], stack: Stack,
                      image: str) -> Iterator[str]:
    """What the container gets wrong about its binary."""
    service, binary = run.service, run.binary
    env = [revealed(e) for e in container.get("env") or []]
    defined: dict[str, int] = {}
    for index, variable in enumerate(env):
        if variable["name"] in defined:
            yield f"{service.name}: {variable['name']} is set twice"
        defined.setdefault(variable["name"], index)
    if container.get("image") != image:
        yield f"{service.name}: runs {container.get('image')}, not {image}"
    yield from _port_problems(run, container, env, defined)
    if not run.waiting:
        for variable in binary.needed():
            name = next((n for n in variable.names if n in defined), None)
            if name is None:
                yield f"{service.name}: {binary.name} needs {' or '.join(variable.names)} ({variable.missing or variable.need})"
            else:
                yield from _resolution_problems(service.name, name, env, defined, namespace, stack,
                                                binary.platform.sets.get(name, ""))


def _port_problems(run: Running, container: Mapping[str, Any], env: list[dict[str, Any]],
                   defined: Mapping[str, int]) -> Iterator[str]:
    service, binary = run.service, run.binary
    ports = {p["name"]: p["containerPort"] for p in container.get("ports") or []}
    if ports != service.ports.all():
        yield f"{service.name}: container ports {ports}, the catalog's {service.ports.all()}"
    for listener in binary.listens:
        port = service.ports.all().get(listener.port)
        if port is None:
            yield f"{service.name}: {binary.name} listens on {listener.port}, which the catalog does not give it"
            continue
        if listener.env is None:
            if port != listener.default:
                yield f"{service.name}: {listener.port} is {port}, but nothing moves {binary.name} off {listener.default}"
            continue
        value = env[defined[listener.env]].get("value") if listener.env in defined else None
        wanted = f"0.0.0.0:{port}" if listener.form == "address" else str(port)
        if value != wanted and not (listener.form == "address" and value == f":{port}"):
            yield f"{service.name}: {listener.env} is {value!r}: {binary.name} must bind its {listener.port} port {wanted}"
    for probe in ("readinessProbe", "livenessProbe"):
        get = (container.get(probe) or {}).get("httpGet") or {}
        if (get.get("path"), get.get("port")) != (binary.health.path, binary.health.port):
            yield (f"{service.name}: {probe} GET {get.get('path')} on {get.get('port')}, not "
                   f"{binary.health.path} on {binary.health.port}")


def _resolution_problems(service: str, name: str, env: list[dict[str, Any]], defined: Mapping[str, int],
                         namespace: str, stack: Stack, source: str, depth: int = 0) -> Iterator[str]:
    variable = env[defined[name]]
    if "value" in variable:
        value = str(variable["value"])
        if not value and source != "value:":
            yield f"{service}: {name} is empty"
        for reference in REFERENCE.findall(value):
            if reference not in defined or defined[reference] > defined[name]:
                yield f"{service}: {name} refers to $({reference}), which is not defined before it"
            elif depth < 5:
                yield from _resolution_problems(service, reference, env, defined, namespace, stack, "", depth + 1)
        return
    reference = variable.get("valueFrom") or {}
    if "secretKeyRef" in reference:
        secret, key = reference["secretKeyRef"]["name"], reference["secretKeyRef"]["key"]
        if not _secret_has(stack, namespace, secret, key):
            yield f"{service}: {name} reads key {key} of Secret {namespace}/{secret}, which nothing creates"
    elif "configMapKeyRef" in reference:
        config_map, key = reference["configMapKeyRef"]["name"], reference["configMapKeyRef"]["key"]
        made = key in stack.config_maps.get((namespace, config_map), set()) or (
            (namespace, config_map) in stack.claims and key in OBC_CONFIG_MAP_KEYS)
        if not made:
            yield f"{service}: {name} reads key {key} of ConfigMap {namespace}/{config_map}, which nothing creates"
    else:
        yield f"{service}: {name} has neither a value nor a reference"


def _secret_has(stack: Stack, namespace: str, secret: str, key: str) -> bool:
    if key in stack.secrets.get((namespace, secret), set()):
        return True
    if (namespace, secret) in stack.claims:
        return key in OBC_SECRET_KEYS
    return secret.endswith("-app") and (namespace, secret.removesuffix("-app")) in stack.clusters and key in CNPG_APP_KEYS
