"""Backups that survive their site (review finding m10): every bucket a backup tool writes is copied elsewhere.

A bucket holds backups when a Barman Cloud ObjectStore's destination or a K8ssandraCluster's Medusa storage names it;
it is copied when a CronJob mirrors it to an off-site remote (components/storage/offsite.py: BUCKETS, and the
`offsite` remote's endpoint). A prod that accepts the risk exempts the bucket's claim, with the risk as its reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from openfoundry_policies.resources import Resource, containers, pod_spec

OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
K8SSANDRA = "kubernetes:k8ssandra.io/v1alpha1:K8ssandraCluster"
CLAIM = "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim"
CRON_JOB = "kubernetes:batch/v1:CronJob"
OFFSITE_ENDPOINT = "RCLONE_CONFIG_OFFSITE_ENDPOINT"


def backup_buckets(resources: list[Resource]) -> dict[str, Resource]:
    """Each bucket a backup tool writes, and the resource that points the tool at it."""
    found: dict[str, Resource] = {}
    for r in resources:
        if r.type == OBJECT_STORE:
            path = str((r.spec.get("configuration") or {}).get("destinationPath", ""))
            if path.startswith("s3://"):
                found.setdefault(path.removeprefix("s3://").split("/")[0], r)
        elif r.type == K8SSANDRA:
            bucket = ((r.spec.get("medusa") or {}).get("storageProperties") or {}).get("bucketName")
            if bucket:
                found.setdefault(str(bucket), r)
    return found


def copied_off_site(resources: list[Resource]) -> set[str]:
    """The buckets a CronJob mirrors to an https remote of another site."""
    copied: set[str] = set()
    for r in resources:
        pod = pod_spec(r) if r.type == CRON_JOB else None
        for container in containers(pod) if pod else ():
            env = {e.get("name"): e.get("value") for e in container.get("env") or []}
            if str(env.get(OFFSITE_ENDPOINT) or "").startswith("https://"):
                copied.update(str(env.get("BUCKETS") or "").split())
    return copied


def backups_leave_the_site(resources: list[Resource]) -> Iterator[tuple[Resource | None, str]]:
    claims = {str(r.spec.get("bucketName")): r for r in resources if r.type == CLAIM}
    copied = copied_off_site(resources)
    for bucket, holder in sorted(backup_buckets(resources).items()):
        if bucket not in copied:
            yield (claims.get(bucket) or holder,
                   f"bucket {bucket} holds the backups of {holder.label} and is not copied off site: losing the "
                   "Ceph cluster would lose them with the data (storage.backups.offsite)")
