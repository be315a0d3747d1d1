"""A rendered workload's pod, as the kubelet would start it: the container's argv, environment (ops/boot/env.py),
mounted files, writable directories and user; or why the kubelet would not start it (a missing Secret,
ConfigMap or key: CreateContainerConfigError for variables, FailedMount for volumes).

Mounts: ConfigMap and Secret volumes (their items, or every key) become files at the mount path; projected
volumes likewise, with a placeholder JWT-shaped string where a service-account token goes (nothing here signs
one); emptyDirs and claims become writable directories; downward API files hold the pod's fields.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.boot.env import ContainerConfigError, PodFacts, declared_env, field_value, pod_facts, service_links
from ops.boot.rendered import Obj, Rendered, name_of, namespace_of
from ops.boot.rootfs import NONROOT

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_NOTE = "service-account token mounted: a placeholder (nothing signs one here)"


@dataclass(frozen=True)
class Image:
    """What the image gives a container that does not set its own: entrypoint, default args, files."""

    entrypoint: str
    args: Sequence[str] = ()
    files: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class PodRun:
    """One container of one pod, ready to start; `problem` set: the kubelet would not start it."""

    workload: str
    namespace: str
    pod: str
    container: str
    image: str
    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes | Path] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    uid: int = NONROOT
    gid: int = NONROOT
    ports: Mapping[str, int] = field(default_factory=dict)
    problem: str = ""
    notes: tuple[str, ...] = ()
    linked: tuple[str, ...] = ()           # variables only the kubelet's service links set


class MountError(Exception):
    """A volume the kubelet cannot set up (FailedMount): the pod never starts."""


def pod_run(workload: Obj, container: Mapping[str, Any], rendered: Rendered, image: Image, pod_name: str,
            ip: str) -> PodRun:
    """The container `container` of `workload`'s pod `pod_name` at address `ip`."""
    pod = pod_facts(workload, pod_name, ip)
    spec = workload["spec"]["template"]["spec"]
    base = PodRun(name_of(workload), namespace_of(workload), pod_name, container["name"], container["image"],
                  ports=container_ports(container))
    try:
        links = service_links(rendered, pod.namespace, spec.get("enableServiceLinks", True) is not False)
        declared = declared_env(container, pod, rendered, links)
        env = {**declared, **{k: v for k, v in links.items() if k not in declared}}
        base = _with(base, linked=tuple(k for k in links if k not in declared))
    except ContainerConfigError as error:
        return _with(base, problem=f"CreateContainerConfigError: {error}")
    try:
        files, dirs, notes = mounted(workload, container, rendered, pod)
    except MountError as error:
        return _with(base, env=env, problem=f"FailedMount: {error}")
    uid, gid = run_as(spec, container)
    argv = command_line(container, image)
    return _with(base, argv=tuple(argv), env=env, files={**image_files(image, argv[0]), **files}, dirs=tuple(dirs),
                 uid=uid, gid=gid, notes=tuple(notes))


def image_files(image: Image, program: str) -> dict[str, bytes | Path]:
    """The image's files, its entrypoint also at the program a `command` names instead (the image's binary is
    what such a command runs in OpenFoundry's images: they hold nothing else)."""
    files: dict[str, bytes | Path] = dict(image.files)
    if program != image.entrypoint and program.startswith("/") and image.entrypoint in image.files:
        files[program] = image.files[image.entrypoint]
    return files


def _with(base: PodRun, **changes: Any) -> PodRun:
    return dataclasses.replace(base, **changes)


def command_line(container: Mapping[str, Any], image: Image) -> list[str]:
    """Kubernetes' rule: `command` replaces the entrypoint, `args` the image's default arguments."""
    command = list(container.get("command") or [image.entrypoint])
    image_args = [] if container.get("command") else list(image.args)
    args = list(container["args"]) if container.get("args") is not None else image_args
    return [*command, *args]


def container_ports(container: Mapping[str, Any]) -> dict[str, int]:
    return {port["name"]: int(port["containerPort"]) for port in container.get("ports") or [] if port.get("name")}


def run_as(spec: Mapping[str, Any], container: Mapping[str, Any]) -> tuple[int, int]:
    """runAsUser/runAsGroup: the container's over the pod's, else the distroless image's nonroot user."""
    pod_context, own = spec.get("securityContext") or {}, container.get("securityContext") or {}
    uid = own.get("runAsUser", pod_context.get("runAsUser", NONROOT))
    return int(uid), int(own.get("runAsGroup", pod_context.get("runAsGroup", uid)))


def mounted(workload: Obj, container: Mapping[str, Any], rendered: Rendered, pod: PodFacts
            ) -> tuple[dict[str, bytes | Path], list[str], list[str]]:
    """The container's mounts: files (in-pod path -> content), writable directories and notes on stand-ins."""
    spec = workload["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in spec.get("volumes") or []}
    claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates") or []}
    files: dict[str, bytes | Path] = {}
    dirs: list[str] = []
    notes: list[str] = []
    for mount in container.get("volumeMounts") or []:
        if mount["name"] in claims:
            dirs.append(mount["mountPath"])
            continue
        volume = volumes.get(mount["name"])
        if volume is None:
            raise MountError(f"volume {mount['name']} is mounted but not declared")
        content = volume_files(volume, rendered, pod, notes)
        if content is None:
            dirs.append(mount["mountPath"])
        else:
            files.update(at_mount_path(content, mount))
    if token_automounted(spec, rendered, pod.namespace):
        files.update(default_token_files(pod.namespace))
        notes.append(TOKEN_NOTE)
    return files, dirs, list(dict.fromkeys(notes))


def at_mount_path(content: Mapping[str, bytes], mount: Mapping[str, Any]) -> dict[str, bytes | Path]:
    """A volume's files under the mount path, or only its subPath at the mount path."""
    root, sub = mount["mountPath"].rstrip("/"), (mount.get("subPath") or "").strip("/")
    if sub:
        return {root + relative[len(sub):]: data for relative, data in content.items()
                if relative == sub or relative.startswith(sub + "/")}
    return {f"{root}/{relative}": data for relative, data in content.items()}


def volume_files(volume: Mapping[str, Any], rendered: Rendered, pod: PodFacts, notes: list[str]
                 ) -> dict[str, bytes] | None:
    """The files a volume holds (path relative to its root -> content); None: a writable directory."""
    if "emptyDir" in volume or "persistentVolumeClaim" in volume or "ephemeral" in volume:
        return None
    if "secret" in volume:
        source = volume["secret"]
        return keyed_files("Secret", source.get("secretName", ""), source, rendered, pod.namespace)
    if "configMap" in volume:
        return keyed_files("ConfigMap", volume["configMap"]["name"], volume["configMap"], rendered, pod.namespace)
    if "projected" in volume:
        return projected_files(volume["projected"], rendered, pod, notes)
    if "downwardAPI" in volume:
        return downward_files(volume["downwardAPI"].get("items") or [], pod)
    raise MountError(f"volume {volume['name']}: its kind ({', '.join(k for k in volume if k != 'name')}) "
                     "is not one `make boot` can stand in for")


def keyed_files(kind: str, name: str, source: Mapping[str, Any], rendered: Rendered, namespace: str
                ) -> dict[str, bytes]:
    """A Secret's or ConfigMap's keys as files: its `items` (key -> path) or every key under its own name."""
    data = rendered.source_data(kind, namespace, name)
    optional = bool(source.get("optional"))
    if data is None:
        if optional:
            return {}
        raise MountError(f'{kind.lower()} "{name}" not found')
    items = source.get("items")
    if not items:
        return dict(data)
    files = {}
    for item in items:
        if item["key"] in data:
            files[item["path"]] = data[item["key"]]
        elif not optional:
            raise MountError(f"{kind.lower()} {namespace}/{name} references non-existent key: {item['key']}")
    return files


def projected_files(projected: Mapping[str, Any], rendered: Rendered, pod: PodFacts, notes: list[str]
                    ) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for source in projected.get("sources") or []:
        if "secret" in source:
            files.update(keyed_files("Secret", source["secret"]["name"], source["secret"], rendered, pod.namespace))
        elif "configMap" in source:
            files.update(keyed_files("ConfigMap", source["configMap"]["name"], source["configMap"], rendered,
                                     pod.namespace))
        elif "serviceAccountToken" in source:
            files[source["serviceAccountToken"]["path"]] = placeholder_token(pod.namespace, pod.service_account)
            notes.append(TOKEN_NOTE)
        elif "downwardAPI" in source:
            files.update(downward_files(source["downwardAPI"].get("items") or [], pod))
    return files


def downward_files(items: Sequence[Mapping[str, Any]], pod: PodFacts) -> dict[str, bytes]:
    try:
        return {item["path"]: field_value(item["fieldRef"]["fieldPath"], pod).encode()
                for item in items if item.get("fieldRef")}
    except ContainerConfigError as error:
        raise MountError(str(error)) from None


def token_automounted(spec: Mapping[str, Any], rendered: Rendered, namespace: str) -> bool:
    """The kubelet mounts the service account's token unless the pod, or else its ServiceAccount, says not to."""
    if "automountServiceAccountToken" in spec:
        return bool(spec["automountServiceAccountToken"])
    account = rendered.get("ServiceAccount", namespace, spec.get("serviceAccountName") or "default")
    return not (account and account.get("automountServiceAccountToken") is False)


def default_token_files(namespace: str) -> dict[str, bytes]:
    return {f"{SERVICE_ACCOUNT_DIR}/token": placeholder_token(namespace, "default"),
            f"{SERVICE_ACCOUNT_DIR}/namespace": namespace.encode(),
            f"{SERVICE_ACCOUNT_DIR}/ca.crt": b""}


def placeholder_token(namespace: str, account: str) -> bytes:
    """Three base64url parts, as a bound token has; its signature signs nothing."""
    def part(obj: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    claims = {"iss": "https://kubernetes.default.svc", "sub": f"system:serviceaccount:{namespace}:{account}",
              "aud": ["https://kubernetes.default.svc"], "exp": 4102444800}
    return f"{part({'alg': 'RS256', 'kid': 'make-boot'})}.{part(claims)}.{part({'placeholder': True})}".encode()
