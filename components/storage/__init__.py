"""The storage plane's own stores (seed: STORAGE PLANE): Ceph by Rook (the fast block pool, the RGW object store with
its erasure-coded data pool, a claimed bucket per catalog bucket) and Vespa, production search (ADR-0007)."""
