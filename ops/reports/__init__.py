"""What a reviewer reads before approving a change, computed from a stack's rendered manifests: the topology
diagram, capacity against the declared nodes, and which systems survive the loss of a zone."""
