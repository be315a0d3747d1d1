"""The Iceberg lakehouse on the storage plane's object store (seed 002; ADR-0008): Lakekeeper and OpenFGA, the setup
Job, table maintenance, the Flink writers, table health, and the analytics read path (ClickHouse, Grafana)."""
