"""What the platform must do, stated from the seed, the operators' documentation and the data files, never from
the program's own constants, so that a test comparing the program with these can fail when the program drifts."""

from __future__ import annotations

# seed 000, "Lakekeeper owns the external warehouse surface used by internal sinks (audit-sink, ai-sink,
# lineage-service, dataset-versioning-service, event-streaming-service, the Spark pipeline-runner)"
SEED_CATALOG_CLIENTS = frozenset({"audit-sink", "ai-sink", "lineage-service", "dataset-versioning-service",
                                  "event-streaming-service", "pipeline-runner"})

# The JetStream API's stream and consumer management subjects (docs.nats.io, "JetStream API Reference"): only
# NACK may create, change or delete streams and consumers, but the calls below.
JETSTREAM_ADMIN = frozenset({"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
                             "$JS.API.STREAM.PURGE.>", "$JS.API.CONSUMER.CREATE.>",
                             "$JS.API.CONSUMER.DURABLE.CREATE.>", "$JS.API.CONSUMER.DELETE.>"})

# The streams three OpenFoundry binaries ensure at start, in the account of the service running them (unnamedlab/
# OpenFoundry at d13cc848: edge-gateway-service internal/server/server.go:179, notification-alerting-service
# internal/service/bus.go:31, workflow-automation-service internal/domain/workflowrunrequested/consumer.go:71).
HELD_STREAMS = {"OF_AUDIT": "gateway", "OF_NOTIFICATIONS": "notification-alerting-service",
                "OF_EVENTS": "workflow-automation-service"}
# The JetStream API subjects each sends, as nats.go v1.52.0 spells them: CreateOrUpdateStream (UPDATE, then CREATE
# when the stream is missing), CreateOrUpdateConsumer with one filter subject (CONSUMER.CREATE.<stream>.<durable>.
# <filter>), Consume/Messages (CONSUMER.MSG.NEXT), Ack ($JS.ACK), DeleteConsumer. notification-alerting names a
# consumer per websocket (notifications-ws-user-<sub>-<uuid>): one subject token, any name.
BINARY_JETSTREAM_CALLS = {
    "gateway": {"$JS.API.STREAM.UPDATE.OF_AUDIT", "$JS.API.STREAM.CREATE.OF_AUDIT"},
    "notification-alerting-service": {
        "$JS.API.STREAM.UPDATE.OF_NOTIFICATIONS", "$JS.API.STREAM.CREATE.OF_NOTIFICATIONS",
        "$JS.API.CONSUMER.CREATE.OF_NOTIFICATIONS.*.of.notifications.notification-alerting-service",
        "$JS.API.CONSUMER.MSG.NEXT.OF_NOTIFICATIONS.*", "$JS.ACK.OF_NOTIFICATIONS.*.>",
        "$JS.API.CONSUMER.DELETE.OF_NOTIFICATIONS.*"},
    "workflow-automation-service": {
        "$JS.API.STREAM.UPDATE.OF_EVENTS", "$JS.API.STREAM.CREATE.OF_EVENTS",
        "$JS.API.CONSUMER.CREATE.OF_EVENTS.workflow-automation-run-requested.of.workflows.run.requested",
        "$JS.API.CONSUMER.MSG.NEXT.OF_EVENTS.workflow-automation-run-requested",
        "$JS.ACK.OF_EVENTS.workflow-automation-run-requested.>"},
}
# A binary consuming the stream it holds with consumers of its own gets no platform consumer on it.
SELF_CONSUMED = {("workflow-automation-service", "OF_EVENTS")}
