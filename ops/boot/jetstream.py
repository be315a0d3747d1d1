"""NACK's part, stood in for: the render's Stream and Consumer resources created through the JetStream API as their
Account resource's user (its Secret), with the configuration NACK derives from their spec (camelCase fields to
the API's snake_case, durations to nanoseconds); and what the servers then hold, read from the monitoring
endpoint (/jsz: streams and consumers per account; /connz?auth=true: which account each user's connection is in).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ops.boot.natsclient import Connection, NatsError
from ops.boot.rendered import Rendered, name_of, namespace_of

STREAM_FIELDS = {"name": "name", "description": "description", "subjects": "subjects", "retention": "retention",
                 "maxConsumers": "max_consumers", "maxMsgs": "max_msgs", "maxBytes": "max_bytes",
                 "maxAge": "max_age", "maxMsgSize": "max_msg_size", "maxMsgsPerSubject": "max_msgs_per_subject",
                 "storage": "storage", "discard": "discard", "replicas": "num_replicas", "noAck": "no_ack",
                 "duplicateWindow": "duplicate_window", "allowRollup": "allow_rollup_hdrs",
                 "allowDirect": "allow_direct", "denyDelete": "deny_delete", "denyPurge": "deny_purge",
                 "compression": "compression"}
CONSUMER_FIELDS = {"durableName": "durable_name", "description": "description", "deliverPolicy": "deliver_policy",
                   "optStartSeq": "opt_start_seq", "ackPolicy": "ack_policy", "ackWait": "ack_wait",
                   "maxDeliver": "max_deliver", "filterSubject": "filter_subject",
                   "filterSubjects": "filter_subjects", "replayPolicy": "replay_policy",
                   "maxAckPending": "max_ack_pending", "heartbeatInterval": "idle_heartbeat",
                   "flowControl": "flow_control", "deliverSubject": "deliver_subject",
                   "deliverGroup": "deliver_group", "maxWaiting": "max_waiting", "headersOnly": "headers_only",
                   "replicas": "num_replicas", "memStorage": "mem_storage", "backoff": "backoff",
                   "inactiveThreshold": "inactive_threshold"}
DURATIONS = {"max_age", "duplicate_window", "ack_wait", "idle_heartbeat", "inactive_threshold", "backoff"}
POLICIES = {"byStartSequence": "by_start_sequence", "byStartTime": "by_start_time",
            "lastPerSubject": "last_per_subject"}
UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
READY_TIMEOUT = 60.0


@dataclass
class Holdings:
    """What the servers hold, per account: streams and their consumers; and each user's accounts."""

    streams: dict[str, set[str]] = field(default_factory=dict)          # stream -> accounts holding it
    consumers: dict[str, set[str]] = field(default_factory=dict)        # stream/consumer -> accounts
    accounts: dict[str, set[str]] = field(default_factory=dict)         # user -> accounts it connected to


def go_duration(text: str) -> int:
    """A Go duration (`168h`, `1m30s`, `500ms`) in nanoseconds."""
    parts = re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a Go duration: {text!r}")
    return int(sum(float(number) * UNITS[unit] for number, unit in parts))


def api_config(spec: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """The JetStream API's configuration for a Stream's or Consumer's spec (only what the spec sets)."""
    config: dict[str, Any] = {}
    for source, target in fields.items():
        if source not in spec:
            continue
        value = spec[source]
        if target in DURATIONS:
            value = [go_duration(v) for v in value] if isinstance(value, list) else go_duration(str(value))
        elif target == "deliver_policy":
            value = POLICIES.get(value, value)
        config[target] = value
    return config


def account_user(rendered: Rendered, namespace: str, account: str) -> tuple[str, str, str] | None:
    """An Account resource's first server (host:port) and its user's name and password, from its Secret."""
    resource = rendered.get("Account", namespace, account)
    if resource is None:
        return None
    spec = resource.get("spec") or {}
    user = spec.get("user") or {}
    data = rendered.secret_data(namespace, (user.get("secret") or {}).get("name", "")) or {}
    name, password = data.get(user.get("user", "user")), data.get(user.get("password", "password"))
    if not spec.get("servers") or name is None or password is None:
        return None
    return spec["servers"][0], name.decode(), password.decode()


def apply_resources(rendered: Rendered, address: str) -> list[str]:
    """Every Stream, then every Consumer, created as NACK would, through the server at `address`; one line per
    resource saying what happened."""
    results = []
    for kind in ("Stream", "Consumer"):
        for resource in rendered.of_kind(kind):
            results.append(f"{kind} {namespace_of(resource)}/{name_of(resource)}: {apply_one(rendered, resource, kind, address)}")
    return results


def apply_one(rendered: Rendered, resource: Mapping[str, Any], kind: str, address: str) -> str:
    spec = resource.get("spec") or {}
    user = account_user(rendered, namespace_of(resource), spec.get("account", ""))
    if user is None:
        return f"not created: its Account {spec.get('account')!r} or that Account's Secret is missing"
    server, name, password = user
    port = urlsplit(server if "://" in server else f"nats://{server}").port or 4222
    if kind == "Stream":
        subject, body = f"$JS.API.STREAM.CREATE.{spec['name']}", api_config(spec, STREAM_FIELDS)
    else:
        config = api_config(spec, CONSUMER_FIELDS)
        subject = f"$JS.API.CONSUMER.CREATE.{spec['streamName']}.{spec['durableName']}"
        body = {"stream_name": spec["streamName"], "config": {"name": spec["durableName"], **config}}
    try:
        reply = _request_when_ready(address, port, name, password, subject, body)
    except NatsError as error:
        return f"not created: {error}"
    if reply.get("error"):
        return f"refused: {reply['error'].get('description', reply['error'])}"
    return f"created as {name}"


def _request_when_ready(address: str, port: int, user: str, password: str, subject: str,
                        body: dict[str, Any]) -> dict[str, Any]:
    """Retry while JetStream's meta group is still electing (no responders, or a 503 'JetStream not ready')."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            with Connection(address, port, user, password) as connection:
                reply = connection.request(subject, body)
            if (reply.get("error") or {}).get("code") != 503 or time.monotonic() > deadline:
                return reply
        except NatsError as error:
            if "no responders" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(1.0)


def monitor(address: str, path: str) -> dict[str, Any]:
    """A monitoring endpoint's JSON (http://address:8222/path), read from the host across the bridge."""
    with urllib.request.urlopen(f"http://{address}:8222{path}", timeout=5) as response:
        return dict(json.loads(response.read()))


def holdings(addresses: Sequence[str], reads: int = 3, pause: float = 1.0) -> Holdings:
    """What the servers at `addresses` hold (each lists the streams it has a replica of), united over a few reads:
    a single read once listed none of the streams NACK's stand-in had created (not reproduced since)."""
    held = Holdings()
    for read in range(reads):
        if read:
            time.sleep(pause)
        _read_servers(addresses, held)
    return held


def _read_servers(addresses: Sequence[str], held: Holdings) -> None:
    for address in addresses:
        jsz = monitor(address, "/jsz?accounts=true&streams=true&consumers=true")
        for account in jsz.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                held.streams.setdefault(stream["name"], set()).add(account["name"])
                for consumer in stream.get("consumer_detail") or []:
                    held.consumers.setdefault(f"{stream['name']}/{consumer['name']}", set()).add(account["name"])
        connz = monitor(address, "/connz?state=all&auth=true&limit=4096")    # closed ones too
        for connection in connz.get("connections") or []:
            if connection.get("authorized_user"):
                held.accounts.setdefault(connection["authorized_user"], set()).add(connection.get("account", "?"))
