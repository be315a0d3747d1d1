"""The control plane (ADR-0011): NATS JetStream, its accounts and users, and the streams as code."""
