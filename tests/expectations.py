"""What the platform must do, stated from the seed, the operators' documentation and the data files, never from
the program's own constants, so that a test comparing the program with these can fail when the program drifts."""

from __future__ import annotations

# seed 000, "Lakekeeper owns the external warehouse surface used by internal sinks (audit-sink, ai-sink,
# lineage-service, dataset-versioning-service, event-streaming-service, the Spark pipeline-runner)"
SEED_CATALOG_CLIENTS = frozenset({"audit-sink", "ai-sink", "lineage-service", "dataset-versioning-service",
                                  "event-streaming-service", "pipeline-runner"})

# The JetStream API's stream and consumer management subjects (docs.nats.io, "JetStream API Reference"): only
# NACK may create, change or delete streams and consumers.
JETSTREAM_ADMIN = frozenset({"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
                             "$JS.API.STREAM.PURGE.>", "$JS.API.CONSUMER.CREATE.>",
                             "$JS.API.CONSUMER.DURABLE.CREATE.>", "$JS.API.CONSUMER.DELETE.>"})
