"""`make boot`'s libraries: OpenFoundry's Go binaries built as its Dockerfiles build them (build.py), and a sandbox
that runs one as its pod would (sandbox.py: network, namespaces, processes; rootfs.py: its files; netns.py: plumbing)."""
