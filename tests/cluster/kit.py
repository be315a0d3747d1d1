"""What the rehearsal-cluster tier drives: the real Pulumi CLI on a stack aimed at a cluster of its own, and what
the API server then holds."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lightkube import Client

from foundry.versions import OPENFOUNDRY_REGISTRY
from ops.engine import toolchain
from ops.engine.stacks import local_backend_path
from ops.rehearsal import kube, stacks
from ops.rehearsal.cluster import Rehearsal
from ops.rehearsal.upgrade import events_in
from tests.processes import kill_tree


@dataclass
class Run:
    code: int
    output: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Warnings and errors the engine kept (the API server's warnings among them), not its progress lines."""
        found = []
        for event in self.events:
            diagnostic = event.get("diagnosticEvent")
            if diagnostic and diagnostic.get("severity") in ("warning", "error") and not diagnostic.get("ephemeral"):
                found.append(f"{diagnostic.get('urn', '')}: {diagnostic['message'].strip()}")
        return found

    @property
    def steps(self) -> list[dict[str, Any]]:
        return [e["resourcePreEvent"]["metadata"] for e in self.events if "resourcePreEvent" in e]

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


class Stack:
    """A stack of a Pulumi project on the rehearsal cluster's backend."""

    def __init__(self, name: str, project: Path, env: dict[str, str], tmp: Path) -> None:
        self.name, self.project, self.env, self.tmp = name, project, env, tmp

    @classmethod
    def of_repository(cls, name: str, rehearsal: Rehearsal, tmp: Path) -> Stack:
        """One of the repository's stacks, aimed at the cluster by the project's own `ops.stack`."""
        project, env = stacks.local_stack(name, rehearsal)
        return cls(name, project, env, tmp)

    @classmethod
    def of_program(cls, name: str, program: str, rehearsal: Rehearsal, tmp: Path) -> Stack:
        """A one-file Python program of its own, on the same backend, run by the project's virtualenv."""
        project = tmp / name
        project.mkdir()
        (project / "Pulumi.yaml").write_text(yaml.safe_dump({"name": name, "runtime": {
            "name": "python", "options": {"virtualenv": str(toolchain.REPO / ".venv")}}}))
        (project / "__main__.py").write_text(program)
        _, env = stacks.local_stack("prod", rehearsal)
        created = cls(name, project, env, tmp)
        subprocess.run([str(toolchain.ensure().pulumi), "stack", "init", name, "--secrets-provider", "passphrase",
                        "--cwd", str(project), "--non-interactive"], env=env, check=True, capture_output=True)
        return created

    @property
    def backend(self) -> Path:
        """The directory of the stack's file backend."""
        return local_backend_path(self.env["PULUMI_BACKEND_URL"])

    @property
    def config_file(self) -> Path:
        return self.project / f"Pulumi.{self.name}.yaml"

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        document = yaml.safe_load(self.config_file.read_text())
        change(document["config"])
        self.config_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def command(self, *args: str) -> list[str]:
        return [str(toolchain.ensure().pulumi), *args, "--stack", self.name, "--cwd", str(self.project),
                "--non-interactive"]

    def environment(self, checkpoints: bool) -> dict[str, str]:
        """A file backend has no journal (Pulumi journals to its Cloud only): each step rewrites the whole state, so an
        update of ~1,200 resources spends most of its time in checkpoints. Only the test of an interrupted update needs
        them; every other run saves its state once, at the end (PULUMI_SKIP_CHECKPOINTS, as ops/stack.py's render)."""
        return self.env if checkpoints else {**self.env, "PULUMI_SKIP_CHECKPOINTS": "true"}

    def run(self, *args: str, timeout: float = 1800, checkpoints: bool = False,
            extra_env: dict[str, str] | None = None) -> Run:
        log = self.tmp / f"events-{time.monotonic_ns()}.json"
        # the engine's event log is offered with its debug commands
        env = {**self.environment(checkpoints), "PULUMI_DEBUG_COMMANDS": "true", **(extra_env or {})}
        result = subprocess.run(self.command(*args, "--event-log", str(log)), env=env,
                                capture_output=True, text=True, timeout=timeout)
        return Run(result.returncode, result.stdout + result.stderr, events_in(log))

    def killed_during(self, *args: str, after: Callable[[], bool], timeout: float = 600) -> None:
        """Start the command (checkpointing each step, as a real update does), and SIGKILL the engine and everything it
        started once `after()` holds."""
        process = subprocess.Popen(self.command(*args), env=self.environment(True), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not after():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the update ended before it could be interrupted")
            time.sleep(0.5)
        kill_tree(process.pid)   # the CLI, and the language host and providers it started in groups of their own
        process.wait()

    def exported(self) -> dict[str, Any]:
        result = subprocess.run(self.command("stack", "export"), env=self.env, capture_output=True, text=True, check=True)
        found: dict[str, Any] = json.loads(result.stdout)["deployment"]
        return found


def kubernetes_objects(deployment: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(apiVersion, kind, namespace/name) of every Kubernetes object a stack's state holds."""
    found = []
    for resource in deployment.get("resources") or []:
        token = resource["type"]
        if not token.startswith("kubernetes:") or token.startswith("kubernetes:helm") or "id" not in resource:
            continue
        _, api, kind = token.split(":")
        api_version = api.removeprefix("core/")
        found.append((api_version, kind, resource["id"]))
    return found


def present(client: Client, api_version: str, kind: str, identity: str) -> bool:
    """The object a stack's state names (`namespace/name`, or `name`) is in the cluster."""
    namespace, _, name = identity.rpartition("/")
    return kube.exists(client, api_version, kind, name, namespace or None)


def refused_program(rehearsal: Rehearsal, tmp_path: Path) -> Stack:
    program = textwrap.dedent(f"""\
        import pulumi
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("rehearsal", kubeconfig={str(rehearsal.kubeconfig)!r}, context={rehearsal.context!r},
                                enable_server_side_apply=True)
        k8s.apiextensions.CustomResource(
            "refused", api_version="postgresql.cnpg.io/v1", kind="Cluster",
            metadata={{"name": "refused", "namespace": "openfoundry-storage"}},
            spec={{"instances": 1, "imageName": "ghcr.io/cloudnative-pg/postgresql:18.4-standard-trixie",
                   "imageCatalogRef": {{"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "pg",
                                        "major": 18}},
                   "storage": {{"size": "1Gi"}}}},
            opts=pulumi.ResourceOptions(provider=provider))
        """)
    return Stack.of_program("refused", program, rehearsal, tmp_path)


def images_with_tag(client: Client, planes: list[str], tag: str) -> int:
    """The Deployments of the planes running an OpenFoundry image of this tag."""
    deployments = [d for ns in planes for d in kube.listed(client, "apps/v1", "Deployment", ns)]
    return sum(1 for d in deployments if any(c["image"].startswith(f"{OPENFOUNDRY_REGISTRY}/") and c["image"].endswith(f":{tag}")
                                             for c in d["spec"]["template"]["spec"]["containers"]))


def resource_versions(client: Client, planes: list[str]) -> dict[str, str]:
    versions: dict[str, str] = defaultdict(str)
    for ns in planes:
        for kind in ("Deployment", "StatefulSet"):
            for item in kube.listed(client, "apps/v1", kind, ns):
                versions[f"{ns}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return dict(versions)
