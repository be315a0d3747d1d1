"""The compute plane (ADR-0009, ADR-0014, ADR-0029): Trino and the Flight SQL gateway's routes."""
