"""Streams and consumers as code (NACK's custom resources) and the alerts on consumers nobody reads.

NACK reaches each JetStream account through an Account resource of its own, as that account's NACK user. A stream
a binary ensures is pre-created with exactly the configuration the binary sends (its contract), so the binary's
STREAM.UPDATE at start changes nothing and NACK and the binary never pull the stream two ways; the platform's
streams get the stack's replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from foundry.config import Nats
from foundry.streams import STREAMS_ACCOUNT, ControlBus, DurableConsumer, Stream

NACK_ACCOUNT = "openfoundry-app"     # NACK's Account resource for STREAMS (its connection), not a NATS account
NACK_SECRET = "nack-nats-user"
# A consumer nobody reads and a backlog that grows, from prometheus-nats-exporter's -jsz=all metrics
# (nats-io/prometheus-nats-exporter@v0.17.3 collector/jsz.go: jetstream_consumer_num_pending, _delivered_consumer_seq,
# _num_waiting); each consumer is reported by every server that holds a replica: its leader's report counts.
LEADER = 'is_consumer_leader="true"'
STALLED_FOR = "15m"
GROWING_FOR = "30m"


def nack_account(home: str) -> str:
    """The Account resource NACK uses for the JetStream account `home`."""
    return NACK_ACCOUNT if home == STREAMS_ACCOUNT else f"openfoundry-{home}"


def nack_secret(home: str) -> str:
    return NACK_SECRET if home == STREAMS_ACCOUNT else f"{NACK_SECRET}-{home}"


def stream_spec(stream: Stream, bus: ControlBus, nats: Nats, prod: bool) -> dict[str, Any]:
    """NACK's Stream: a held stream as its binary sends it (replicas 0 is the server's 1), a platform stream with the
    stack's replicas and the registry's limits."""
    home = bus.home(stream.name)
    held = bus.held.get(stream.name)
    if held is not None:
        config = held.config
        settings: dict[str, Any] = {"subjects": config.subjects, "retention": config.retention, "storage": config.storage,
                                    "replicas": config.replicas or 1, "maxAge": config.max_age, "maxMsgs": config.max_msgs}
    else:
        defaults = bus.registry.defaults
        settings = {"subjects": stream.subjects, "retention": "limits", "storage": "file",
                    "replicas": nats.stream_replicas, "maxAge": defaults.max_age, "maxMsgs": defaults.max_msgs}
    return {"name": stream.name, **settings, "discard": "old", "preventDelete": prod, "account": nack_account(home)}


def held_stream_exemption(stream: Stream, bus: ControlBus) -> dict[str, str] | None:
    """A held stream has the one replica its binary sets at every start: the policy pack's exception, written on it."""
    if stream.name not in bus.held:
        return None
    return {"policy.openfoundry.dev/exempt": "jetstream-replicas",
            "policy.openfoundry.dev/exempt-reason": f"{bus.held[stream.name].service}'s binary ensures {stream.name} "
            "at every start with one replica (nats.go CreateOrUpdateStream, replicas unset: "
            "data/upstream/binaries/); more would be undone by its STREAM.UPDATE"}


def consumer_spec(consumer: DurableConsumer, nats: Nats, prod: bool) -> dict[str, Any]:
    """Pushed to the service's account, shared by its replicas (one queue group, as nats-server checks it)."""
    return {"streamName": consumer.stream, "durableName": consumer.service, "deliverSubject": consumer.deliver_subject,
            "deliverGroup": consumer.service, "filterSubjects": list(consumer.subjects), "deliverPolicy": "all",
            "ackPolicy": "explicit", "maxDeliver": 10,
            "replicas": nats.stream_replicas if consumer.home == STREAMS_ACCOUNT else 1,
            "preventDelete": prod, "account": nack_account(consumer.home)}


def consumer_alerts(session_prefixes: Sequence[str] = (), session_limit: int = 0) -> list[dict[str, Any]]:
    """A consumer with messages waiting that delivers nothing (no subscriber bound: a push consumer's deliver group
    must be the subscribers' queue group, or it delivers to nobody, silently; a pull consumer nobody fetches from),
    and a backlog that keeps growing. A binary's per-session consumers (`session_prefixes`) are left to the reaper
    (components/control/reaper.py); their count nearing the account's limit alerts instead."""
    sessions = "|".join(f"{prefix}.*" for prefix in session_prefixes)
    selector = LEADER + (f',consumer_name!~"{sessions}"' if sessions else "")
    pending = f"jetstream_consumer_num_pending{{{selector}}}"
    delivered = f"jetstream_consumer_delivered_consumer_seq{{{selector}}}"
    labels = "{{ $labels.account }}/{{ $labels.stream_name }}/{{ $labels.consumer_name }}"
    piling = [{
        "alert": "NatsSessionConsumersPiling",
        "expr": f'count by (account, stream_name) (jetstream_consumer_num_pending{{{LEADER},consumer_name=~"{sessions}"}})'
                f" > {session_limit * 8 // 10}",
        "for": GROWING_FOR, "labels": {"severity": "warning"},
        "annotations": {"summary": "{{ $labels.account }}/{{ $labels.stream_name }} holds {{ $value }} per-session "
                                   f"consumers (its account takes {session_limit})",
                        "description": "Sessions left behind are not being deleted: check the session-consumer-reaper "
                                       "CronJob; at the limit new sessions are refused."}}] if sessions else []
    return [*piling,
        {"alert": "NatsConsumerNotDelivering",
         "expr": f"{pending} > 0 and changes({delivered}[{STALLED_FOR}]) == 0",
         "for": STALLED_FOR, "labels": {"severity": "warning"},
         "annotations": {"summary": f"JetStream consumer {labels} has messages waiting and delivers none",
                         "description": "No subscriber is bound to it: a push consumer delivers only to its deliver "
                                        "group's queue subscribers, a pull consumer only to fetches; check that the "
                                        "service runs and subscribes as the consumer expects."}},
        {"alert": "NatsConsumerBacklogGrowing",
         "expr": f"deriv({pending}[{GROWING_FOR}]) > 0 and {pending} > 1000",
         "for": GROWING_FOR, "labels": {"severity": "warning"},
         "annotations": {"summary": f"JetStream consumer {labels} falls behind",
                         "description": "Its pending messages have grown for half an hour: its service reads slower "
                                        "than its stream fills."}},
    ]
