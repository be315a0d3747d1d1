"""The defaults of every stack setting, per environment, in one place.

A stack file (Pulumi.<stack>.yaml) says only what differs from these. Keys are the camelCase names users
write under `openfoundry:`; foundry/config.py validates the merged result.
"""

from __future__ import annotations

import copy
from typing import Any

from foundry.acknowledgements import SINGLE_SITE_RISK
from foundry.versions import OPENFOUNDRY_IMAGE_TAG, OPENFOUNDRY_REGISTRY

_COMMON: dict[str, Any] = {
    # OpenFoundry's own images at the pinned commit (foundry/versions.py); a stack may name a mirror and its tag
    "images": {"registry": OPENFOUNDRY_REGISTRY, "tag": OPENFOUNDRY_IMAGE_TAG},
    "operators": {"install": "managed"},
    "topology": {"zoneLabel": "topology.kubernetes.io/zone"},
    "edge": {
        "ingressClass": "nginx",
        "corsOrigins": [],
        "rateLimitPerMinute": 600,
    },
}

_BY_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "dev": {
        "kubernetes": {"mode": "render", "renderDirectory": "rendered/dev"},
        "operators": {"install": "external"},
        # implied: a developer's single node; its size holds dev's requests (make report STACK=dev checks), and its
        # kubelet runs more than the default 110 pods (--max-pods 250): dev runs one pod per service and database
        "topology": {"zones": ["local"], "racks": 1, "nodes": 1,
                     "node": {"cpu": "16", "memory": "64Gi", "pods": 250,
                              "disks": {"nvme": {"count": 1, "size": "1Ti"}, "hdd": {"count": 1, "size": "2Ti"}}}},
        "workloads": {
            "replicas": 1,
            "maxReplicas": 1,
            "cpuRequest": "50m",
            "memoryRequest": "128Mi",
            "cpuLimit": "500m",
            "memoryLimit": "512Mi",
        },
        "storage": {
            "ceph": {"monCount": 1, "mgrCount": 1, "allowMultipleMonsPerNode": True, "resources": {
                # implied: Rook's minimums (v1.20.6 mon/mon.go 1024MB, osd/osd.go 2048MB); below 896Mi x 1.25 an
                # OSD's derived osd_memory_target fails Ceph's own minimum and the OSD never starts
                "mon": {"cpu": "100m", "memory": "1Gi"}, "mgr": {"cpu": "100m", "memory": "512Mi"},
                "osd": {"cpu": "250m", "memory": "2Gi"}, "rgw": {"cpu": "100m", "memory": "512Mi"}}},
            "blockPool": {"failureDomain": "host", "replicas": 1},
            "objectStore": {"failureDomain": "host", "replicas": 1, "gatewayInstances": 1},
            "bucketMaxSize": "20Gi",
            "lakehouse": {"catalogReplicas": 1, "maintenance": {"engine": "cronjob"}},
            "vespa": {"mode": "single", "storageSize": "10Gi", "cpu": "1", "memory": "4Gi"},
            # a development stack keeps its backups beside its data, and says so (foundry/config/backups.py)
            "backups": {"singleSiteAcknowledged": SINGLE_SITE_RISK},
        },
        "ingestion": {"kafka": {"controllers": 1, "brokers": 1, "replicationFactor": 1, "minInsyncReplicas": 1,
                                "brokerResources": {"cpu": "250m", "memory": "1Gi"},
                                "controllerResources": {"cpu": "250m", "memory": "1Gi"}},
                      "outboxRelay": {"replicas": 1, "resources": {"cpu": "250m", "memory": "1Gi"}}},
        "control": {"nats": {"servers": 1, "streamReplicas": 1}},
        # implied: Cassandra 5 starts on a 512M heap; the management API's JVM and off-heap structures need the rest
        "relational": {"postgres": {"instances": 1, "synchronousReplicas": 0, "backupRetentionDays": 7,
                                    "poolerInstances": 1, "resources": {"cpu": "100m", "memory": "256Mi"}},
                       "cassandra": {"nodes": 1, "replicationFactor": 1, "heap": "512Mi", "backupRetentionDays": 7,
                                     "resources": {"cpu": "500m", "memory": "2Gi"}}},
        "edge": {"host": "openfoundry.localtest.me", "corsOrigins": ["http://localhost:5173"],
                 "cache": {"nodes": 1, "memory": "256Mi"}},
    },
    "prod": {
        "kubernetes": {"mode": "cluster"},
        # implied: the seed sizes no node; 9 nodes of 96 cores and 384Gi hold prod's requests (the OSDs' among them)
        # with a zone lost, two NVMe devices (RBD pools, RGW's index) and twelve HDDs (RGW's EC 4+2 data pool) each
        # (make report: capacity.md)
        "topology": {"zones": ["zone-a", "zone-b", "zone-c"], "racks": 7, "nodes": 9,
                     "node": {"cpu": "96", "memory": "384Gi", "disks": {"nvme": {"count": 2, "size": "3840Gi"},
                                                                       "hdd": {"count": 12, "size": "16Ti"}}}},
        "workloads": {
            "replicas": 3,
            "maxReplicas": 10,
            "cpuRequest": "250m",
            "memoryRequest": "512Mi",
            "cpuLimit": "2",
            "memoryLimit": "2Gi",
        },
        "storage": {
            # implied: Ceph's hardware recommendations (docs.ceph.com, start/hardware-recommendations): an OSD
            # wants a core and 4GiB; Ceph sets osd_memory_target to min(request, 0.8 x limit), so 4Gi/5Gi keeps the
            # 4GiB target with room for recovery; a monitor's mon_memory_target is 2GiB, its limit above it
            "ceph": {"monCount": 5, "mgrCount": 2, "allowMultipleMonsPerNode": False, "resources": {
                "mon": {"cpu": "1", "memory": "2Gi", "memoryLimit": "3Gi"}, "mgr": {"cpu": "1", "memory": "2Gi"},
                "osd": {"cpu": "1", "memory": "4Gi", "memoryLimit": "5Gi"}, "rgw": {"cpu": "1", "memory": "2Gi"}}},
            "blockPool": {"failureDomain": "zone", "replicas": 3, "deviceClass": "nvme"},
            "objectStore": {"failureDomain": "rack", "dataChunks": 4, "codingChunks": 2, "gatewayInstances": 3,
                            "deviceClass": "hdd"},
            "bucketMaxSize": "50Ti",
            # implied: the blueprint's read path (ClickHouse, Grafana) is on in prod, a replica per zone
            "lakehouse": {"catalogReplicas": 2, "maintenance": {"engine": "flink"},
                          "analytics": {"enabled": True, "clickhouse": {"replicas": 3}}},
            "vespa": {"mode": "cluster", "configServers": 3, "contentNodes": 3, "containerNodes": 2,
                      "storageSize": "500Gi", "cpu": "4", "memory": "32Gi"},
        },
        # implied: brokers keep most of their memory for the page cache; KRaft controllers hold only metadata
        "ingestion": {"kafka": {"controllers": 3, "brokers": 3, "replicationFactor": 3, "minInsyncReplicas": 2,
                                "brokerResources": {"cpu": "2", "memory": "8Gi"},
                                "controllerResources": {"cpu": "500m", "memory": "2Gi"}},
                      # implied: two workers, so a node's loss moves the connectors instead of stopping them
                      # (ADR-0022 and upstream's README say two; its chart runs one)
                      "outboxRelay": {"replicas": 2, "resources": {"cpu": "1", "memory": "2Gi"}}},
        "control": {"nats": {"servers": 3, "streamReplicas": 3, "storageSize": "100Gi"}},
        # implied: PostgreSQL's 128MB shared_buffers would leave most of a 2Gi instance idle; a quarter of it, and
        # the planner told what the page cache holds (CNPG refuses a memory request below shared_buffers)
        # implied (cassandra): ADR-0020's RF 3 at LOCAL_QUORUM in one datacenter, a rack per zone; Cassandra's own
        # guidance keeps the heap at most half the memory (8Gi of 16Gi), the rest for the page cache and off-heap
        "relational": {"postgres": {"instances": 3, "synchronousReplicas": 1, "backupRetentionDays": 30,
                                    "resources": {"cpu": "1", "memory": "2Gi"},
                                    "parameters": {"shared_buffers": "512MB", "effective_cache_size": "1536MB"}},
                       "cassandra": {"nodes": 3, "replicationFactor": 3, "heap": "8Gi", "storageSize": "500Gi",
                                     "backupRetentionDays": 30,
                                     "resources": {"cpu": "4", "memory": "16Gi"}}},
        "edge": {"cache": {"nodes": 3, "memory": "2Gi"}},
        "compute": {"trino": {"enabled": True, "workers": 3}, "workloads": {
            "replicas": 3,
            "maxReplicas": 12,
            "cpuRequest": "1",
            "memoryRequest": "4Gi",
            "cpuLimit": "4",
            "memoryLimit": "8Gi",
        }},
    },
}

ENVIRONMENTS = tuple(_BY_ENVIRONMENT)


def defaults_for(environment: str) -> dict[str, Any]:
    """Common defaults overlaid with the environment's own."""
    return deep_merge(_COMMON, _BY_ENVIRONMENT.get(environment, {}))


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge mappings recursively; the override wins, lists are replaced whole."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
