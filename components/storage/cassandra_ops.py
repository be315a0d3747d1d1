"""What runs beside the operational store's nodes: Medusa's backups to a bucket on RGW, on a schedule and kept
for a retention, and the alerts on the metrics k8ssandra's ServiceMonitor scrapes.

Medusa (k8ssandra/medusa 0.29.1, a sidecar k8ssandra-operator adds to every node) reads its S3 keys from an AWS
`credentials` file only (medusa/storage/s3_base_storage.py; the operator writes `key_file` when `storageSecretRef`
is set, pkg/medusa/reconcile.go), and a container's `env` cannot reach its sidecar (the operator rebuilds it). So
the platform generates the keys itself: one Secret holds them for Rook, which makes the RGW user with them
(CephObjectStoreUser `spec.keys`), and as the file Medusa reads; the bucket's policy grants that user.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.cluster.operators import RESTRICTED_CONTAINER
from components.storage.ceph import Bucket, ObjectGateway, ObjectUser
from foundry.config import Cassandra
from foundry.labels import namespace_for

PLANE = "storage"
BACKUP_BUCKET = "cassandra-backups"
MEDUSA_USER = "cassandra-medusa"
# not `<cluster>-medusa`: k8ssandra names Medusa's own CQL login Secret and its medusa.ini volume so
# (pkg/medusa/reconcile.go), and a Secret of ours by that name would break both
MEDUSA_SECRET = "cassandra-medusa-s3"
MEDUSA_GRPC_PORT = 50051   # the operator dials each node's sidecar here (controllers/medusa/common.go)
MEDUSA_SECURITY = {**RESTRICTED_CONTAINER, "runAsNonRoot": True}


def backup_bucket() -> Bucket:
    return Bucket(BACKUP_BUCKET, "cassandra", namespace_for(PLANE), backups=True)


def medusa_object_user() -> ObjectUser:
    return ObjectUser(MEDUSA_USER, namespace_for(PLANE), (BACKUP_BUCKET,), keys_secret=MEDUSA_SECRET)


def credentials_file(access_key: str, secret_key: str) -> str:
    """The AWS credentials file Medusa reads (`[default]`, the two keys)."""
    return f"[default]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"


def medusa_keys(access_key: pulumi.Output[str], secret_key: pulumi.Output[str]) -> dict[str, pulumi.Output[str]]:
    """The Secret's keys: Rook's two, and the same as Medusa's file."""
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key,
            "credentials": pulumi.Output.all(access_key, secret_key).apply(lambda keys: credentials_file(*keys))}


def medusa_spec(cassandra: Cassandra, gateway: ObjectGateway, prefix: str) -> dict[str, Any]:
    """`s3_compatible` with the gateway's host and port (Medusa builds an endpoint only for that provider; path-style
    follows from the explicit endpoint); retention by age, enforced by the nightly purge k8ssandra schedules."""
    host, _, port = gateway.endpoint.removeprefix("http://").removeprefix("https://").partition(":")
    return {
        "storageProperties": {
            "storageProvider": "s3_compatible", "bucketName": BACKUP_BUCKET, "prefix": prefix,
            "storageSecretRef": {"name": MEDUSA_SECRET}, "host": host, "port": int(port or 80),
            "secure": gateway.endpoint.startswith("https://"), "maxBackupAge": cassandra.backup_retention_days,
        },
        # the sidecar and its restore init container: naming them under `containers` does not reach them
        "securityContext": MEDUSA_SECURITY,
        "containerResources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}},
    }


def backup_schedule(cassandra: Cassandra, datacenter: str) -> dict[str, Any]:
    """Differential backups (Medusa's default: only new SSTables travel) of the datacenter, one at a time."""
    return {"cronSchedule": cassandra.backup_schedule, "concurrencyPolicy": "Forbid",
            "backupSpec": {"cassandraDatacenter": datacenter, "backupType": "differential"}}


def alert_rules(job: str, nodes: int) -> list[dict[str, Any]]:
    """A node down or missing, compactions falling behind, mutations dropped: on the management API's metrics
    endpoint as k8ssandra's ServiceMonitor scrapes it (series named by the agent: management-api
    CassandraMetricNameParser; `MUTATION_REQ` is 5.0's verb, `MUTATION` only a JMX alias)."""
    up = f'up{{namespace="{namespace_for(PLANE)}", job="{job}", endpoint="metrics"}}'
    target = f'namespace="{namespace_for(PLANE)}", job="{job}"'
    return [
        {"alert": "CassandraNodeDown", "expr": f"{up} == 0", "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": "Cassandra node {{ $labels.pod }} is down",
                         "description": "Its metrics endpoint, which runs inside Cassandra, does not answer: one more "
                                        "node lost and LOCAL_QUORUM fails for replication factor 3."}},
        {"alert": "CassandraNodeMissing", "expr": f"count by (namespace, job) ({up}) < {nodes} or absent({up})",
         "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": "Cassandra runs fewer nodes than it should",
                         "description": f"Fewer than {nodes} Cassandra nodes are scraped: a pod is gone or pending."}},
        {"alert": "CassandraPendingCompactionsHigh",
         "expr": f"org_apache_cassandra_metrics_compaction_pending_tasks{{{target}}} > 100", "for": "30m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "Cassandra node {{ $labels.pod }} is behind on compactions",
                         "description": "{{ $value }} compactions pending for half an hour: reads slow down and disks "
                                        "fill with SSTables."}},
        {"alert": "CassandraDroppedMutations",
         "expr": f'increase(org_apache_cassandra_metrics_dropped_message_dropped_total{{{target}, '
                 f'message_type="MUTATION_REQ"}}[5m]) > 0', "for": "10m", "labels": {"severity": "warning"},
         "annotations": {"summary": "Cassandra node {{ $labels.pod }} drops writes",
                         "description": "Mutations dropped for ten minutes: the node is overloaded, and its replicas "
                                        "diverge until a repair."}},
    ]


# --- internode TLS ------------------------------------------------------------------------------------------
# k8ssandra mounts the stores and writes server_encryption_options' paths and passwords itself once
# `internode_encryption` is not `none` (pkg/cassandra/encryption.go); cert-manager writes the JKS key store and trust
# store (the CA's certificate) into the certificate's Secret, locked with the password Secret's value
INTERNODE_TLS = "cassandra-internode-tls"
KEYSTORE_PASSWORD = "cassandra-keystore-password"
# every node, both ways, presents the platform CA's certificate and requires the peer's; nodes dial peers by address,
# so the name is not verified: the CA is what is trusted. `optional: false`: left out, a 5.0 node also accepts
# plaintext internode connections on the same port (it logs "optionally encrypted"; tests/engine/test_cassandra.py)
SERVER_ENCRYPTION = {"internode_encryption": "all", "optional": False, "require_client_auth": True,
                     "require_endpoint_verification": False}


def internode_certificate_spec(cluster: str, datacenter: str, issuer: dict[str, str]) -> dict[str, Any]:
    namespace = namespace_for(PLANE)
    pods = f"{cluster}-{datacenter}-all-pods-service"
    return {
        "secretName": INTERNODE_TLS, "issuerRef": issuer, "commonName": f"{cluster}.{namespace}",
        "dnsNames": [f"*.{pods}.{namespace}.svc", f"*.{pods}.{namespace}.svc.cluster.local",
                     f"{cluster}-seed-service.{namespace}.svc"],
        "privateKey": {"algorithm": "RSA", "size": 3072, "rotationPolicy": "Always"},
        "usages": ["server auth", "client auth", "digital signature", "key encipherment"],
        "keystores": {"jks": {"create": True, "passwordSecretRef": {"name": KEYSTORE_PASSWORD, "key": "password"}}},
    }


def server_encryption_stores() -> dict[str, Any]:
    password = {"name": KEYSTORE_PASSWORD, "key": "password"}
    return {"keystoreSecretRef": {"name": INTERNODE_TLS, "key": "keystore.jks"},
            "truststoreSecretRef": {"name": INTERNODE_TLS, "key": "truststore.jks"},
            "keystorePasswordSecretRef": password, "truststorePasswordSecretRef": password}
