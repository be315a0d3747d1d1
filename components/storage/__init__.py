"""The storage plane (seed: STORAGE PLANE; the Iceberg blueprint): Ceph (RBD, RGW), Lakekeeper, Vespa and the
Iceberg table maintenance."""
