"""The three OpenFoundry binaries that call the JetStream API, each as its own user on prod's nats.conf (three routed
servers): their exact call sequences succeed, the same calls by any other user are refused, and what another service
publishes lands in their streams.

The requests are what nats.go v1.52.0 sends for OpenFoundry's code at the pin (libs/event-bus-control
subscriber.go EnsureStream/CreateConsumer; edge-gateway-service server.go:179, notification-alerting-service
bus.go:31 and handlers/ws.go:118-160, workflow-automation-service workflowrunrequested/consumer.go:60-130):
CreateOrUpdateStream sends STREAM.UPDATE with the whole configuration, and STREAM.CREATE only when the stream is
missing (err_code 10059); CreateOrUpdateConsumer with one filter sends CONSUMER.CREATE.<stream>.<durable>.<filter>;
Consume/Messages pull with CONSUMER.MSG.NEXT; Ack publishes to the message's reply subject.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.control.jetstream import stream_spec
from components.control.reaper import PROGRAM
from foundry.catalog import Catalog
from foundry.config import StackConfig
from foundry.streams import ControlBus, load_streams
from foundry.upstream import Stream, load_contracts
from tests.engine.natscluster import build_nats_server, prod_servers
from tests.expectations import BINARY_JETSTREAM_CALLS, HELD_STREAMS
from tests.natsclient import Client, Event

pytestmark = pytest.mark.engine

NOT_FOUND = 10059   # JetStream's "stream not found"
PULL = json.dumps({"batch": 1, "expires": 5_000_000_000}).encode()


@pytest.fixture(scope="module")
def cluster(catalog: Catalog, prod_config: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    with prod_servers(build_nats_server(), catalog, prod_config, tmp_path_factory.mktemp("nats")) as ports:
        yield ports


def nanoseconds(duration: str) -> int:
    number, unit = int(duration[:-1]), duration[-1]
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit] * 1_000_000_000


def binary_stream_config(stream: Stream) -> dict[str, Any]:
    """EnsureStream's StreamConfig as nats.go marshals it: the fields it sets, and every other field without
    omitempty at its zero value (max_consumers and max_bytes 0, replicas 0: the server's -1, -1 and 1)."""
    return {"name": stream.name, "subjects": stream.subjects, "retention": stream.retention, "max_consumers": 0,
            "max_msgs": stream.max_msgs, "max_bytes": 0, "discard": "old", "max_age": nanoseconds(stream.max_age),
            "max_msgs_per_subject": 0, "storage": stream.storage, "num_replicas": stream.replicas,
            "compression": "none", "allow_direct": False, "mirror_direct": False, "consumer_limits": {}}


def nack_stream_config(spec: dict[str, Any]) -> dict[str, Any]:
    """What NACK 0.23 creates from a Stream resource (internal/controller/stream_controller.go streamSpecToConfig),
    its CRD's defaults filling what the spec leaves out (maxConsumers, maxBytes, maxMsgSize: -1; deploy/crds.yml)."""
    return {"name": spec["name"], "subjects": spec["subjects"], "retention": spec["retention"], "max_consumers": -1,
            "max_msgs": spec["maxMsgs"], "max_bytes": -1, "max_age": nanoseconds(spec["maxAge"]), "max_msg_size": -1,
            "storage": spec["storage"], "discard": spec["discard"], "num_replicas": spec["replicas"]}


def answer(event: Event | None) -> dict[str, Any]:
    assert event is not None and event.kind == "MSG", event
    found: dict[str, Any] = json.loads(event.payload)
    return found


def refused(client: Client, subject: str, payload: bytes = b"{}") -> bool:
    event = client.ask(subject, payload, seconds=3)
    return event is not None and event.kind == "ERR" and "Permissions Violation" in event.subject


def ensure_stream(client: Client, config: dict[str, Any]) -> dict[str, Any]:
    """CreateOrUpdateStream: UPDATE first, CREATE only when the stream is missing; the stream's config after."""
    body = json.dumps(config).encode()
    updated = answer(client.ask(f"$JS.API.STREAM.UPDATE.{config['name']}", body))
    if updated.get("error", {}).get("err_code") == NOT_FOUND:
        updated = answer(client.ask(f"$JS.API.STREAM.CREATE.{config['name']}", body))
    assert "error" not in updated, updated
    found: dict[str, Any] = updated["config"]
    return found


def held(catalog: Catalog, stream: str) -> Stream:
    found = ControlBus.of(load_streams(), catalog, load_contracts()).held[stream].config
    return found


@pytest.mark.parametrize(("stream", "precreated"), [
    ("OF_AUDIT", True), ("OF_EVENTS", True), ("OF_NOTIFICATIONS", False)])
def test_each_binary_ensures_its_stream_as_its_own_user(cluster: list[int], catalog: Catalog, prod_config: StackConfig,
                                                      stream: str, precreated: bool) -> None:
    """Pre-created by NACK (as prod has it) the binary's UPDATE changes nothing; on a fresh bus it creates the stream
    itself; a restart's UPDATE changes nothing either. The stream lives in its holder's account alone."""
    holder = HELD_STREAMS[stream]
    config = binary_stream_config(held(catalog, stream))
    nack = Client(cluster[0], f"nack-{holder}")
    before = None
    if precreated:
        spec = stream_spec(next(s for s in load_streams().streams if s.name == stream),
                           ControlBus.of(load_streams(), catalog, load_contracts()), prod_config.control.nats, prod=True)
        before = answer(nack.ask(f"$JS.API.STREAM.CREATE.{stream}", json.dumps(nack_stream_config(spec)).encode()))
        assert "error" not in before, before
    binary = Client(cluster[1], holder)
    first = ensure_stream(binary, config)
    assert first == (before["config"] if before else first)
    assert ensure_stream(Client(cluster[2], holder), config) == first   # the next start, on another server
    assert (first["num_replicas"], first["subjects"], first["max_msgs"]) == (1, config["subjects"], config["max_msgs"])
    # STREAMS (the platform's account) has no such stream: JetStream is per account
    missing = answer(Client(cluster[0], "nack").ask(f"$JS.API.STREAM.INFO.{stream}", b""))
    assert missing["error"]["err_code"] == NOT_FOUND


def concrete(subject: str) -> str:
    """A call as sent: a per-session consumer's `*` is a name, a `>` an ack's sequence tokens."""
    return subject.replace("*", "notifications-ws-user-x-y").replace(">", "1.1.1.1.0")


@pytest.mark.parametrize("holder", sorted(BINARY_JETSTREAM_CALLS))
def test_no_other_user_may_make_a_holders_calls(cluster: list[int], holder: str) -> None:
    others = [u for u in (*BINARY_JETSTREAM_CALLS, "identity-federation-service", "pipeline-build-service") if u != holder]
    for user in others:
        client = Client(cluster[0], user)
        for call in sorted(BINARY_JETSTREAM_CALLS[holder]):
            assert refused(client, concrete(call)), (user, call)


def test_workflow_pulls_what_pipeline_build_publishes_through_its_own_consumer(cluster: list[int],
                                                                               catalog: Catalog) -> None:
    """pipeline-build's publish crosses into workflow's account (a service import) and lands in OF_EVENTS; workflow's
    durable pull consumer, made by workflow's own user, fetches it and acks it."""
    workflow = Client(cluster[1], "workflow-automation-service")
    ensure_stream(workflow, binary_stream_config(held(catalog, "OF_EVENTS")))
    durable, subject = "workflow-automation-run-requested", "of.workflows.run.requested"
    request = {"stream_name": "OF_EVENTS", "action": "", "config": {
        "durable_name": durable, "deliver_policy": "all", "ack_policy": "explicit", "filter_subject": subject,
        "replay_policy": "instant", "num_replicas": 0}}
    created = answer(workflow.ask(f"$JS.API.CONSUMER.CREATE.OF_EVENTS.{durable}.{subject}", json.dumps(request).encode()))
    assert created.get("name") == durable, created
    ack = answer(Client(cluster[2], "pipeline-build-service").ask(subject, b'{"run": 1}'))
    assert ack["stream"] == "OF_EVENTS", ack
    message = workflow.ask(f"$JS.API.CONSUMER.MSG.NEXT.OF_EVENTS.{durable}", PULL)
    assert message is not None and message.payload == b'{"run": 1}', message
    assert re.fullmatch(rf"\$JS\.ACK\.OF_EVENTS\.{durable}\.1\.\d+\.\d+\.\d+\.0", message.reply), message.reply
    workflow.publish(message.reply, b"+ACK")
    assert [e for e in workflow.messages(1) if e.kind == "ERR"] == []
    state = answer(Client(cluster[0], "nack-workflow-automation-service").ask(
        f"$JS.API.CONSUMER.INFO.OF_EVENTS.{durable}", b""))
    assert (state["ack_floor"]["stream_seq"], state["num_ack_pending"], state["num_pending"]) == (
        state["delivered"]["stream_seq"], 0, 0)


def test_notifications_make_read_and_delete_a_consumer_per_socket(cluster: list[int], catalog: Catalog) -> None:
    notifications = Client(cluster[2], "notification-alerting-service")
    ensure_stream(notifications, binary_stream_config(held(catalog, "OF_NOTIFICATIONS")))
    subject, socket = "of.notifications.notification-alerting-service", "notifications-ws-user-0193-0194"
    request = {"stream_name": "OF_NOTIFICATIONS", "action": "", "config": {
        "durable_name": socket, "deliver_policy": "all", "ack_policy": "explicit", "filter_subject": subject,
        "replay_policy": "instant", "num_replicas": 0}}
    created = answer(notifications.ask(f"$JS.API.CONSUMER.CREATE.OF_NOTIFICATIONS.{socket}.{subject}",
                                       json.dumps(request).encode()))
    assert created.get("name") == socket, created
    assert answer(notifications.ask(subject, b'{"kind": "notification.created"}'))["stream"] == "OF_NOTIFICATIONS"
    message = notifications.ask(f"$JS.API.CONSUMER.MSG.NEXT.OF_NOTIFICATIONS.{socket}", PULL)
    assert message is not None and b"notification.created" in message.payload, message
    notifications.publish(message.reply, b"+ACK")
    deleted = answer(notifications.ask(f"$JS.API.CONSUMER.DELETE.OF_NOTIFICATIONS.{socket}", b""))
    assert deleted.get("success") is True, deleted
    # a consumer on any other filter is refused: the user may make its per-socket consumers on its own subject only
    other = "of.notifications.other"
    assert refused(notifications, f"$JS.API.CONSUMER.CREATE.OF_NOTIFICATIONS.{socket}.{other}")


def test_the_jetstream_accounts_stay_within_their_limits(cluster: list[int], catalog: Catalog) -> None:
    """A holder's account takes its one stream and no other, and no memory storage."""
    ensure_stream(Client(cluster[1], "gateway"), binary_stream_config(held(catalog, "OF_AUDIT")))
    nack = Client(cluster[0], "nack-gateway")
    info = answer(nack.ask("$JS.API.INFO", b""))
    assert (info["limits"]["max_streams"], info["limits"]["max_memory"]) == (1, 0), info
    extra = {"name": "EXTRA", "subjects": ["of.audit.extra.>"], "storage": "file", "num_replicas": 1}
    refusal = answer(nack.ask("$JS.API.STREAM.CREATE.EXTRA", json.dumps(extra).encode()))
    assert "error" in refusal, refusal


def test_the_reaper_deletes_the_per_socket_consumers_nobody_pulls_from(cluster: list[int], catalog: Catalog,
                                                                      tmp_path: Path) -> None:
    """components/control/reaper.py's program, run as its CronJob runs it: a socket's consumer with a pull waiting is
    kept, one left behind by a stopped pod is deleted, a consumer of another name is not its business."""
    notifications = Client(cluster[0], "notification-alerting-service")
    ensure_stream(notifications, binary_stream_config(held(catalog, "OF_NOTIFICATIONS")))
    subject = "of.notifications.notification-alerting-service"
    for name in ("notifications-ws-user-live", "notifications-ws-user-gone"):
        request = {"stream_name": "OF_NOTIFICATIONS", "action": "", "config": {
            "durable_name": name, "deliver_policy": "all", "ack_policy": "explicit", "filter_subject": subject}}
        assert answer(notifications.ask(f"$JS.API.CONSUMER.CREATE.OF_NOTIFICATIONS.{name}.{subject}",
                                        json.dumps(request).encode())).get("name") == name
    nack = Client(cluster[1], "nack-notification-alerting-service")
    other = {"stream_name": "OF_NOTIFICATIONS", "config": {"durable_name": "platform-other", "ack_policy": "explicit"}}
    assert answer(nack.ask("$JS.API.CONSUMER.CREATE.OF_NOTIFICATIONS.platform-other", json.dumps(other).encode()))
    socket = Client(cluster[2], "notification-alerting-service")   # a live socket: its pull request waits
    socket.subscribe(f"{socket.inbox}.pull")
    socket.publish("$JS.API.CONSUMER.MSG.NEXT.OF_NOTIFICATIONS.notifications-ws-user-live",
                   json.dumps({"batch": 10, "expires": 120_000_000_000}).encode(), f"{socket.inbox}.pull")
    (tmp_path / "reaper.py").write_text(PROGRAM)
    env = {"NATS_HOST": "127.0.0.1", "NATS_PORT": str(cluster[1]), "NATS_USER": "nack-notification-alerting-service",
           "NATS_PASSWORD": "nack-notification-alerting-service" * 2, "STREAM": "OF_NOTIFICATIONS",
           "PREFIXES": "notifications-ws-user-", "IDLE_SECONDS": "2", "MIN_AGE_SECONDS": "0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, str(tmp_path / "reaper.py")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deleted notifications-ws-user-gone" in result.stdout and "3 per-session" not in result.stdout
    names = answer(nack.ask("$JS.API.CONSUMER.NAMES.OF_NOTIFICATIONS", b"{}"))["consumers"]
    assert sorted(names) == ["notifications-ws-user-live", "platform-other"], names
