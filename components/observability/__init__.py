"""What an operator reads to see the platform work: ADR-0012's SLOs as rules and dashboards."""
