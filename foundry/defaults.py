"""The defaults of every stack setting, per environment, in one place.

A stack file (Pulumi.<stack>.yaml) says only what differs from these. Keys are the camelCase names users
write under `openfoundry:`; foundry/config.py validates the merged result.
"""

from __future__ import annotations

import copy
from typing import Any

_COMMON: dict[str, Any] = {
    "images": {"registry": "ghcr.io/openfoundry", "tag": "0.1.0"},
    "operators": {"install": "managed"},
    "topology": {"zoneLabel": "topology.kubernetes.io/zone"},
    "edge": {
        "ingressClass": "nginx",
        "corsOrigins": [],
        "rateLimitPerMinute": 600,
        "requestIdHeader": "X-Request-Id",
    },
}

_BY_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "dev": {
        "kubernetes": {"mode": "render", "renderDirectory": "rendered/dev"},
        "operators": {"install": "external"},
        "topology": {"zones": ["local"], "racks": 1, "nodes": 1},
        "workloads": {
            "replicas": 1,
            "maxReplicas": 1,
            "cpuRequest": "50m",
            "memoryRequest": "128Mi",
            "cpuLimit": "500m",
            "memoryLimit": "512Mi",
        },
        "storage": {
            "ceph": {"monCount": 1, "mgrCount": 1, "allowMultipleMonsPerNode": True},
            "blockPool": {"failureDomain": "host", "replicas": 1},
            "objectStore": {"failureDomain": "host", "replicas": 1, "gatewayInstances": 1},
            "bucketMaxSize": "20Gi",
            "lakehouse": {"catalogReplicas": 1, "maintenance": {"engine": "cronjob"}},
            "vespa": {"mode": "single", "storageSize": "10Gi", "cpu": "1", "memory": "4Gi"},
        },
        "ingestion": {"kafka": {"controllers": 1, "brokers": 1, "replicationFactor": 1, "minInsyncReplicas": 1}},
        "control": {"nats": {"servers": 1, "streamReplicas": 1}},
        "relational": {"postgres": {"instances": 1, "synchronousReplicas": 0, "backupRetentionDays": 7,
                                    "poolerInstances": 1}},
        "edge": {"host": "openfoundry.localtest.me", "corsOrigins": ["http://localhost:5173"],
                 "cache": {"nodes": 1, "memory": "256Mi"}},
    },
    "prod": {
        "kubernetes": {"mode": "cluster"},
        "topology": {"zones": ["zone-a", "zone-b", "zone-c"], "racks": 7, "nodes": 9},
        "workloads": {
            "replicas": 3,
            "maxReplicas": 10,
            "cpuRequest": "250m",
            "memoryRequest": "512Mi",
            "cpuLimit": "2",
            "memoryLimit": "2Gi",
        },
        "storage": {
            "ceph": {"monCount": 5, "mgrCount": 2, "allowMultipleMonsPerNode": False},
            "blockPool": {"failureDomain": "zone", "replicas": 3, "deviceClass": "nvme"},
            "objectStore": {"failureDomain": "rack", "dataChunks": 4, "codingChunks": 2, "gatewayInstances": 3,
                            "deviceClass": "hdd"},
            "bucketMaxSize": "50Ti",
            "lakehouse": {"catalogReplicas": 2, "maintenance": {"engine": "flink"}},
            "vespa": {"mode": "cluster", "configServers": 3, "contentNodes": 3, "containerNodes": 2,
                      "storageSize": "500Gi", "cpu": "4", "memory": "32Gi"},
        },
        "ingestion": {"kafka": {"controllers": 3, "brokers": 3, "replicationFactor": 3, "minInsyncReplicas": 2}},
        "control": {"nats": {"servers": 3, "streamReplicas": 3, "storageSize": "100Gi"}},
        "relational": {"postgres": {"instances": 3, "synchronousReplicas": 1, "backupRetentionDays": 30}},
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
