"""The rehearsal cluster: a real Kubernetes control plane built from Go modules with KWOK nodes over three zones,
its API client, and the repository's stacks aimed at it."""
