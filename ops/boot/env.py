"""A container's environment exactly as the kubelet builds it (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables,
Kubernetes v1.31): envFrom first, then env in order, each `value` expanded with `$(VAR)` from what is defined so
far and the service links; a reference to a missing Secret, ConfigMap or key stops the container
(CreateContainerConfigError) unless it is optional; then the service links of the pod's namespace (and the API
server's) that the container did not set itself.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ops.boot.rendered import Rendered, labels_of, name_of

ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")     # IsEnvVarName
SERVICE_RANGE = ipaddress.IPv4Network("10.96.0.0/12")     # placeholder ClusterIPs: a render has none
API_SERVER = {"metadata": {"name": "kubernetes", "namespace": "default"},
              "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}


class ContainerConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError: the container is never started."""


@dataclass(frozen=True)
class PodFacts:
    """What fieldRef and resourceFieldRef read of the pod being booted."""

    name: str
    namespace: str
    ip: str
    node: str = "boot"
    service_account: str = "default"
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None


def expand(value: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): `$$` is `$`, `$(NAME)` is NAME's value
    or stays as written when NAME is undefined, any other `$` is literal."""
    out, cursor = [], 0
    while cursor < len(value):
        char = value[cursor]
        if char != "$" or cursor + 1 == len(value):
            out.append(char)
            cursor += 1
            continue
        following = value[cursor + 1]
        if following == "$":
            out.append("$")
            cursor += 2
        elif following == "(" and ")" in value[cursor + 2:]:
            end = value.index(")", cursor + 2)
            name = value[cursor + 2:end]
            found = lookup(name)
            out.append(found if found is not None else f"$({name})")
            cursor = end + 1
        else:
            out.append("$" + following)
            cursor += 2
    return "".join(out)


def container_env(container: Mapping[str, Any], pod: PodFacts, rendered: Rendered,
                  service_env: Mapping[str, str]) -> dict[str, str]:
    """The container's environment, in the kubelet's order. Raises ContainerConfigError as the kubelet would."""
    env = declared_env(container, pod, rendered, service_env)
    return {**env, **{k: v for k, v in service_env.items() if k not in env}}


def declared_env(container: Mapping[str, Any], pod: PodFacts, rendered: Rendered,
                 service_env: Mapping[str, str]) -> dict[str, str]:
    """The variables the container declares (envFrom, then env), resolved; without the service links it leaves."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, pod.namespace, rendered))

    def lookup(name: str) -> str | None:
        return env.get(name, service_env.get(name))

    for variable in container.get("env") or []:
        value = variable.get("value") or ""
        if value:
            env[variable["name"]] = expand(value, lookup)
        elif variable.get("valueFrom"):
            resolved = _value_from(variable["valueFrom"], container, pod, rendered)
            if resolved is not None:
                env[variable["name"]] = resolved
        else:
            env[variable["name"]] = ""
    return env


def _env_from(source: Mapping[str, Any], namespace: str, rendered: Rendered) -> dict[str, str]:
    kind, ref = ("ConfigMap", source["configMapRef"]) if source.get("configMapRef") else ("Secret", source["secretRef"])
    data = rendered.source_data(kind, namespace, ref["name"])
    if data is None:
        if ref.get("optional"):
            return {}
        raise ContainerConfigError(f'{kind.lower()} "{ref["name"]}" not found')
    prefix = source.get("prefix") or ""
    named = {prefix + key: value.decode(errors="replace") for key, value in data.items()}
    return {key: value for key, value in named.items() if ENV_NAME.match(key)}


def _value_from(source: Mapping[str, Any], container: Mapping[str, Any], pod: PodFacts,
                rendered: Rendered) -> str | None:
    """A valueFrom's value; None: an optional reference to something missing (the variable is left out)."""
    if source.get("fieldRef"):
        return field_value(source["fieldRef"]["fieldPath"], pod)
    if source.get("resourceFieldRef"):
        return resource_value(source["resourceFieldRef"], container)
    kind, ref = ("ConfigMap", source["configMapKeyRef"]) if source.get("configMapKeyRef") else \
        ("Secret", source["secretKeyRef"])
    data = rendered.source_data(kind, pod.namespace, ref["name"])
    optional = bool(ref.get("optional"))
    if data is None:
        if optional:
            return None
        raise ContainerConfigError(f'{kind.lower()} "{ref["name"]}" not found')
    if ref["key"] not in data:
        if optional:
            return None
        raise ContainerConfigError(f"couldn't find key {ref['key']} in {kind} {pod.namespace}/{ref['name']}")
    return data[ref["key"]].decode(errors="replace")


def field_value(path: str, pod: PodFacts) -> str:
    """The downward API's fields (pkg/kubelet podFieldSelectorRuntimeValue and the API server's defaults)."""
    simple = {"metadata.name": pod.name, "metadata.namespace": pod.namespace, "metadata.uid": _uid(pod),
              "spec.nodeName": pod.node, "spec.serviceAccountName": pod.service_account,
              "status.podIP": pod.ip, "status.podIPs": pod.ip, "status.hostIP": pod.ip, "status.hostIPs": pod.ip}
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        values = (pod.labels if match[1] == "labels" else pod.annotations) or {}
        return values.get(match[2], "")
    raise ContainerConfigError(f"unsupported fieldRef fieldPath {path}")


def resource_value(ref: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    """limits/requests of cpu or memory, divided by the divisor and rounded up, as the kubelet exposes them; an
    unset limit is the node's allocatable, which this machine's stands for."""
    section, resource = ref["resource"].split(".", 1)
    quantity = ((container.get("resources") or {}).get(section) or {}).get(resource)
    if quantity is None:
        quantity = str(_machine_allocatable(resource)) if section == "limits" else "0"
    divisor = parse_quantity(str(ref.get("divisor") or "1"))
    return str(max(math.ceil(parse_quantity(str(quantity)) / divisor), 1 if resource == "cpu" else 0))


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity (`250m`, `2Gi`, `1e3`) as a number."""
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
                "Ti": 2**40}
    match = re.fullmatch(r"([0-9.eE+-]+?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", text.strip())
    if not match:
        raise ContainerConfigError(f"cannot parse quantity {text!r}")
    return float(match[1]) * suffixes.get(match[2] or "", 1)


def _machine_allocatable(resource: str) -> int:
    if resource == "cpu":
        return os.cpu_count() or 1
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _uid(pod: PodFacts) -> str:
    digest = hashlib.sha256(f"{pod.namespace}/{pod.name}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def service_links(rendered: Rendered, namespace: str, enabled: bool = True) -> dict[str, str]:
    """The variables the kubelet derives from Services (pkg/kubelet/envvars FromServices): the API server's always,
    every Service with a ClusterIP in the pod's namespace when enableServiceLinks (the default). A render has no
    ClusterIPs: each gets a placeholder address, stable per Service."""
    services: dict[str, Mapping[str, Any]] = {"kubernetes": API_SERVER}
    if enabled:
        for service in rendered.of_kind("Service", namespace):
            if (service.get("spec") or {}).get("clusterIP") != "None" and (service.get("spec") or {}).get("ports"):
                services[name_of(service)] = service
    env: dict[str, str] = {}
    for name in sorted(services):
        env.update(_link_variables(name, services[name]["spec"].get("clusterIP") or placeholder_ip(namespace, name),
                                   services[name]["spec"]["ports"]))
    return env


def placeholder_ip(namespace: str, name: str) -> str:
    offset = int(hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest(), 16) % (SERVICE_RANGE.num_addresses - 2)
    return str(SERVICE_RANGE.network_address + 2 + offset)


def _link_variables(name: str, ip: str, ports: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    prefix = name.upper().replace("-", "_")
    env = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
    for index, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        url = f"{protocol.lower()}://{ip}:{port['port']}"
        if index == 0:
            env[f"{prefix}_PORT"] = url
        base = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        env.update({base: url, f"{base}_PROTO": protocol.lower(), f"{base}_PORT": str(port["port"]),
                    f"{base}_ADDR": ip})
    return env


def pod_facts(workload: Mapping[str, Any], pod_name: str, ip: str) -> PodFacts:
    template = workload["spec"]["template"]
    return PodFacts(pod_name, workload["metadata"].get("namespace", "default"), ip,
                    service_account=template["spec"].get("serviceAccountName") or "default",
                    labels=labels_of(template), annotations=(template.get("metadata") or {}).get("annotations"))
