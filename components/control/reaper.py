"""Per-session consumers a binary leaves behind, deleted.

notification-alerting makes a durable pull consumer per websocket (`notifications-ws-user-*`) and deletes it when
the socket closes, but not when the process stops: its HTTP shutdown neither closes nor waits for hijacked
connections, and the consumer has no inactivity threshold (of:services/notification-alerting-service/internal/
handlers/ws.go:118-160; internal/server/server.go:98-116). Every rollout, scale-down or crash would leave one per
open socket, each filling with the stream until the account's consumer limit refuses new sockets. A CronJob, as the
stream's account's NACK user, deletes such consumers that no client pulls from: no pull request waiting and nothing
delivered across two looks a minute apart (a live socket keeps a pull request outstanding at all times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import peer, secret_env
from components.common.security import restricted_container, restricted_pod
from foundry.labels import common_labels, selector_labels
from foundry.versions import PYTHON_IMAGE

NAME = "session-consumer-reaper"
NOBODY = 65534
SCHEDULE = "*/10 * * * *"
IDLE_SECONDS = 60      # the pause between the two looks
MIN_AGE_SECONDS = 300  # a consumer younger than this is left alone (a socket still opening)

# Python's standard library alone: NATS' client protocol over a socket, the JetStream API's CONSUMER.LIST (paged)
# and CONSUMER.DELETE (docs.nats.io, "JetStream API Reference").
PROGRAM = r'''
import json, os, socket, sys, time
from datetime import datetime, timezone

class Nats:
    def __init__(self, host, port, user, password):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.file.readline()   # INFO
        self.send("CONNECT " + json.dumps({"user": user, "pass": password, "verbose": False, "pedantic": False,
                                            "headers": True, "no_responders": True}))
        self.sid, self.inbox = 0, "_INBOX.reaper" + os.urandom(6).hex()
        self.send("SUB " + self.inbox + ".* 1")

    def send(self, line, payload=None):
        data = (line + "\r\n").encode() + (payload + b"\r\n" if payload is not None else b"")
        self.sock.sendall(data)

    def request(self, subject, body):
        self.sid += 1
        reply = self.inbox + "." + str(self.sid)
        self.send("PUB %s %s %d" % (subject, reply, len(body)), body)
        while True:
            line = self.file.readline().decode().strip()
            if line == "PING":
                self.send("PONG")
            elif line.startswith("-ERR"):
                raise RuntimeError(line)
            elif line.startswith(("MSG ", "HMSG ")):
                parts = line.split()
                payload = self.file.read(int(parts[-1]) + 2)[:-2]
                if line.startswith("HMSG "):
                    payload = payload[int(parts[-2]):]
                if parts[1] == reply:
                    return json.loads(payload) if payload else {}

def consumers(nats, stream):
    found, offset = [], 0
    while True:
        page = nats.request("$JS.API.CONSUMER.LIST." + stream, json.dumps({"offset": offset}).encode())
        if "error" in page:
            raise RuntimeError(page["error"])
        found += page.get("consumers") or []
        offset += len(page.get("consumers") or [])
        if offset >= page.get("total", 0) or not page.get("consumers"):
            return {c["name"]: c for c in found}

def age(info):
    created = datetime.strptime(info["created"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - created).total_seconds()

def idle(info):
    return info.get("num_waiting", 0) == 0

def main():
    env = os.environ
    nats = Nats(env["NATS_HOST"], int(env["NATS_PORT"]), env["NATS_USER"], env["NATS_PASSWORD"])
    stream, prefixes = env["STREAM"], env["PREFIXES"].split(",")
    first = {n: c for n, c in consumers(nats, stream).items() if n.startswith(tuple(prefixes))}
    time.sleep(int(env["IDLE_SECONDS"]))
    second = consumers(nats, stream)
    deleted = 0
    for name, before in sorted(first.items()):
        after = second.get(name)
        if after is None or age(after) < int(env["MIN_AGE_SECONDS"]):
            continue
        if idle(before) and idle(after) and before["delivered"] == after["delivered"]:
            answer = nats.request("$JS.API.CONSUMER.DELETE.%s.%s" % (stream, name), b"")
            deleted += 1 if answer.get("success") else 0
            print("deleted %s: %s" % (name, answer), flush=True)
    print("%d per-session consumers on %s, %d deleted" % (len(first), stream, deleted), flush=True)

main()
'''


@dataclass(frozen=True)
class ReaperArgs:
    stream: str
    prefixes: Sequence[str]          # the per-session consumers' names start so
    user: str                        # the stream's account's NACK user
    password_secret: str             # its password (key `password`), beside the CronJob
    namespace: str
    nats_host: str
    nats_port: int
    nats_pods: dict[str, str]
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class SessionConsumerReaper(pulumi.ComponentResource):
    """The program, the CronJob and its NetworkPolicy."""

    def __init__(self, name: str, args: ReaperArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:control:SessionConsumerReaper", name, None, opts)
        self._args = args
        self._name = f"{NAME}-{args.stream.lower().replace('_', '-')}"
        program = k8s.core.v1.ConfigMap(self._name, metadata=self._metadata(), data={"reaper.py": PROGRAM},
                                        opts=self._child())
        self._cron_job(depends_on=[program])
        self._network_policy()
        self.register_outputs({"schedule": SCHEDULE, "stream": args.stream})

    def _cron_job(self, depends_on: Sequence[pulumi.Resource]) -> None:
        args = self._args
        env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in {
            "NATS_HOST": args.nats_host, "NATS_PORT": str(args.nats_port), "NATS_USER": args.user,
            "STREAM": args.stream, "PREFIXES": ",".join(args.prefixes), "IDLE_SECONDS": str(IDLE_SECONDS),
            "MIN_AGE_SECONDS": str(MIN_AGE_SECONDS), "PYTHONDONTWRITEBYTECODE": "1"}.items()]
        env.append(secret_env("NATS_PASSWORD", args.password_secret, "password"))
        pod = k8s.core.v1.PodSpecArgs(
            restart_policy="OnFailure", automount_service_account_token=False,
            security_context=restricted_pod(NOBODY),
            containers=[k8s.core.v1.ContainerArgs(
                name="reaper", image=PYTHON_IMAGE, command=["python", "/program/reaper.py"], env=env,
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "10m", "memory": "32Mi"},
                                                               limits={"memory": "64Mi"}),
                security_context=restricted_container(),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="program", mount_path="/program", read_only=True)])],
            volumes=[k8s.core.v1.VolumeArgs(name="program", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                name=self._name))])
        k8s.batch.v1.CronJob(self._name, metadata=self._metadata(), spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=SCHEDULE, concurrency_policy="Forbid", successful_jobs_history_limit=1, failed_jobs_history_limit=3,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=2, active_deadline_seconds=600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**common_labels("control"), **self.pods}),
                    spec=pod)))), opts=self._child(depends_on=depends_on))

    @property
    def pods(self) -> dict[str, str]:
        return selector_labels(self._name)

    def _network_policy(self) -> None:
        """Out to the NATS servers' client port alone (DNS: the namespace's own policy); nothing in."""
        k8s.networking.v1.NetworkPolicy(self._name, metadata=self._metadata(), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.pods), policy_types=["Ingress", "Egress"],
            ingress=[], egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[peer(pods=self._args.nats_pods)],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=self._args.nats_port, protocol="TCP")])]),
            opts=self._child())

    def _metadata(self) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=self._name, namespace=self._args.namespace, labels=common_labels("control"))

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])
