"""A stack's render tree (rendered/<stack>/1-manifest/*.yaml) as the API server would hold it once applied, plus
the objects operators would add (ops/boot/operators.py): looked up by kind, namespace and name, the way the kubelet
finds a pod's Secrets and ConfigMaps.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ops.engine.toolchain import ToolchainError

Obj = dict[str, Any]
Key = tuple[str, str, str]      # kind, namespace ("" for cluster-scoped), name


@dataclass
class Rendered:
    """Every object of a render tree, and the synthesized ones layered over them (`add`)."""

    directory: Path
    objects: dict[Key, Obj] = field(default_factory=dict)
    synthesized: set[Key] = field(default_factory=set)

    def add(self, obj: Obj, synthesized: bool = True) -> None:
        key = key_of(obj)
        self.objects[key] = obj
        if synthesized:
            self.synthesized.add(key)

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((kind, namespace, name))

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Every object of `kind` (in `namespace` if given), sorted by namespace and name."""
        found = [obj for (k, ns, _), obj in self.objects.items() if k == kind and namespace in (None, ns)]
        return sorted(found, key=lambda obj: (namespace_of(obj), name_of(obj)))

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """A Secret's keys as the kubelet hands them over (data decoded, stringData merged over it); None: no such
        Secret."""
        secret = self.get("Secret", namespace, name)
        if secret is None:
            return None
        data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
        data.update({key: str(value).encode() for key, value in (secret.get("stringData") or {}).items()})
        return data

    def config_map_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        config_map = self.get("ConfigMap", namespace, name)
        if config_map is None:
            return None
        data = {key: str(value).encode() for key, value in (config_map.get("data") or {}).items()}
        data.update({key: base64.b64decode(value) for key, value in (config_map.get("binaryData") or {}).items()})
        return data

    def source_data(self, kind: str, namespace: str, name: str) -> dict[str, bytes] | None:
        """A Secret's or ConfigMap's keys, by kind."""
        return self.secret_data(namespace, name) if kind == "Secret" else self.config_map_data(namespace, name)


def load_rendered(directory: Path) -> Rendered:
    """The objects of `directory`/1-manifest. Raises ToolchainError when it holds none."""
    manifests = directory / "1-manifest"
    files = sorted(manifests.glob("*.yaml")) if manifests.is_dir() else []
    if not files:
        raise ToolchainError(f"{directory} holds no rendered manifests (1-manifest/*.yaml): run `make render` first")
    rendered = Rendered(directory)
    for obj in _documents(files):
        rendered.add(obj, synthesized=False)
    return rendered


def _documents(files: Iterable[Path]) -> Iterator[Obj]:
    for path in files:
        for obj in yaml.safe_load_all(path.read_text()):
            if isinstance(obj, dict) and obj.get("kind"):
                yield obj


def key_of(obj: Mapping[str, Any]) -> Key:
    return str(obj["kind"]), namespace_of(obj), name_of(obj)


def name_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("namespace") or "")


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations") or {})


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def secret(namespace: str, name: str, data: Mapping[str, str | bytes]) -> Obj:
    """A Secret object (data base64-encoded) as an operator would create it."""
    encoded = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "data": encoded}


def config_map(namespace: str, name: str, data: Mapping[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": dict(data)}


def service_names(service: str, namespace: str) -> list[str]:
    """Every form a pod may dial a Service by: short (its own namespace), .ns, .ns.svc, .ns.svc.cluster.local."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def names_of_host(host: str) -> list[str]:
    """The forms of a dialed host name `<svc>.<ns>[.svc[.cluster.local]]` (a short or foreign name: itself)."""
    parts = host.split(".")
    if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc"):
        return service_names(parts[0], parts[1])
    return [host]
