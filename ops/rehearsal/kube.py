"""The rehearsal cluster's API through lightkube (PyPI): a client from the cluster's kubeconfig, the custom resources'
kinds learnt from the CRDs it serves (API discovery), server-side apply of plain documents, objects read back as
plain documents (what the harness and the cluster tier compare with the rendered manifests), and waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import yaml
from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube.core.exceptions import LoadResourceError
from lightkube.core.resource import NamespacedResource
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import load_in_cluster_generic_resources
from lightkube.resources.core_v1 import Namespace

FIELD_MANAGER = "openfoundry-cluster"
KubeError = ApiError


def connect(kubeconfig: Path) -> Client:
    """A client of the API server the kubeconfig's current context names, with the kinds of the CRDs it serves."""
    client = Client(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER, trust_env=False)
    learn_custom_kinds(client)
    return client


def learn_custom_kinds(client: Client) -> None:
    """Register every kind the cluster's CRDs define, so their objects load, list and apply like built-in ones."""
    load_in_cluster_generic_resources(client)


def server(client: Client) -> str:
    return str(client.config.cluster.server)


def answers(client: Client) -> bool:
    """The API server serves requests (its `default` namespace is there)."""
    try:
        client.get(Namespace, "default")
    except (ApiError, httpx2.HTTPError, OSError):
        return False
    return True


def kind(api_version: str, kind_name: str) -> Any:
    """The lightkube class of a kind: built in, or learnt from a CRD (`learn_custom_kinds`)."""
    return resource_registry.load(api_version, kind_name)


def apply(client: Client, document: dict[str, Any]) -> None:
    """Server-side apply of one plain document, taking over fields other managers set (as `kubectl apply
    --server-side --force-conflicts`)."""
    client.apply(codecs.from_dict(document), force=True)


def listed(client: Client, api_version: str, kind_name: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every object of a kind (in one namespace, or in all when none is named), as plain documents."""
    resource = kind(api_version, kind_name)
    if issubclass(resource, NamespacedResource):
        return [obj.to_dict() for obj in client.list(resource, namespace=namespace or "*")]
    return [obj.to_dict() for obj in client.list(resource)]


def refused_pods(client: Client) -> list[str]:
    """Every pod a controller asked for and the API server refused (admission's FailedCreate events)."""
    return [f"{e['involvedObject']['name']}: {e['message']}" for e in listed(client, "v1", "Event")
            if e["reason"] == "FailedCreate"]


def fetched(client: Client, api_version: str, kind_name: str, name: str,
            namespace: str | None = None) -> dict[str, Any] | None:
    """The object as a plain document; None when it is not there, or when the API server no longer serves its kind."""
    try:
        resource = kind(api_version, kind_name)
    except LoadResourceError:
        return None
    try:
        found: dict[str, Any] = client.get(resource, name, namespace=namespace).to_dict()
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return found


def exists(client: Client, api_version: str, kind_name: str, name: str, namespace: str | None = None) -> bool:
    """The object is there; False too when the API server no longer serves its kind at all."""
    return fetched(client, api_version, kind_name, name, namespace) is not None


def wait(what: str, ready: Callable[[], bool], timeout: float = 120, pause: float = 1) -> None:
    """Until `ready()` holds; an answer of the API server that is an error counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (ApiError, httpx2.HTTPError, OSError):
            pass
        time.sleep(pause)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document
