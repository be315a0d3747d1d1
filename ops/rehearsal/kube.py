"""A small client for the Kubernetes API: what the local cluster's harness and its tests need, over HTTPS with the
kubeconfig's certificates. Server-side apply for objects, plain GET/POST/DELETE for the rest.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

FIELD_MANAGER = "openfoundry-cluster"
# kind -> (API path prefix, plural, namespaced) for the kinds the harness and tests touch by name
CORE_KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "Pod": ("/api/v1", "pods", True),
    "Event": ("/api/v1", "events", True),
    "Secret": ("/api/v1", "secrets", True),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "SubjectAccessReview": ("/apis/authorization.k8s.io/v1", "subjectaccessreviews", False),
}


class KubeError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Kube:
    """The API server a kubeconfig names (its current context)."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        context_name = config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self.server = cluster["server"].rstrip("/")
        self._tls = ssl.create_default_context(cafile=_file(cluster, "certificate-authority", kubeconfig))
        self._tls.load_cert_chain(_file(user, "client-certificate", kubeconfig), _file(user, "client-key", kubeconfig))
        self.warnings: list[str] = []

    # --- requests --------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                timeout: float = 30) -> Any:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.server + path, data=data, method=method,
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._tls, timeout=timeout) as response:
                self.warnings += response.headers.get_all("Warning") or []
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            with contextlib.suppress(ValueError):
                detail = json.loads(detail).get("message", detail)
            raise KubeError(error.code, detail) from None
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode(errors="replace")   # /readyz and friends answer in plain text

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def items(self, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(path)["items"]
        return found

    def apply(self, document: dict[str, Any]) -> Any:
        """Server-side apply of one object whose path the API discovery tells (built-in or custom kind)."""
        path = self.object_path(document)
        query = urllib.parse.urlencode({"fieldManager": FIELD_MANAGER, "force": "true"})
        return self.request("PATCH", f"{path}?{query}", body=yaml.safe_dump(document).encode(),
                            content_type="application/apply-patch+yaml")

    def create(self, collection: str, document: dict[str, Any]) -> Any:
        return self.request("POST", collection, document)

    # --- paths -----------------------------------------------------------------------------------------

    def object_path(self, document: dict[str, Any]) -> str:
        kind, name = document["kind"], document["metadata"]["name"]
        namespace = document["metadata"].get("namespace")
        if kind in CORE_KINDS:
            prefix, plural, namespaced = CORE_KINDS[kind]
        else:
            prefix, plural, namespaced = self._discover(document["apiVersion"], kind)
        scope = f"/namespaces/{namespace}" if namespaced and namespace else ""
        return f"{prefix}{scope}/{plural}/{name}"

    def _discover(self, api_version: str, kind: str) -> tuple[str, str, bool]:
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        for resource in self.get(prefix)["resources"]:
            if resource["kind"] == kind and "/" not in resource["name"]:
                return prefix, resource["name"], bool(resource["namespaced"])
        raise KubeError(404, f"the API server serves no {kind} in {api_version}")

    def wait(self, what: str, ready: Any, timeout: float = 120, pause: float = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except (KubeError, OSError, urllib.error.URLError):
                pass
            time.sleep(pause)
        raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")


def _file(section: dict[str, Any], key: str, kubeconfig: Path) -> str:
    """A certificate or key the kubeconfig names by path, or embeds (`<key>-data`, base64)."""
    if key in section:
        path = Path(section[key])
        return str(path if path.is_absolute() else kubeconfig.parent / path)
    handle = tempfile.NamedTemporaryFile(prefix="kube-", delete=False)   # noqa: SIM115 - lives as long as the process
    handle.write(base64.b64decode(section[f"{key}-data"]))
    handle.close()
    Path(handle.name).chmod(0o600)
    return handle.name


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document
