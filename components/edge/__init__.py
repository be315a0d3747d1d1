"""The edge (ADR-0014): the Ingresses, their certificates, and the gateway's Valkey."""
