"""Every backup bucket copied to another site's object store (storage.backups.offsite; foundry/config/backups.py).

One CronJob in the storage plane's namespace mirrors each backup bucket (every CNPG cluster's Barman Cloud store,
Medusa's) with `rclone sync` into `<offsite bucket>/<bucket>/`: the same objects under the same keys, so Barman's
and Medusa's own tools read the copy as they read the original (tests/engine/test_backups.py recovers a database
from it). A sync mirrors deletions too: the other site keeps what each tool's retention keeps. The copy reads RGW as
its own user, granted read-only on those buckets alone (their policies), and its only egress out of the cluster is
to the addresses the config names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import EXTERNAL_SECRETS, custom_resource, secret_env
from components.common.security import restricted_container, restricted_pod
from components.common.site import Site
from components.storage.ceph import ObjectGateway, ObjectUser
from foundry.config import Offsite
from foundry.cron import cronjob_longest_gap
from foundry.labels import common_labels, namespace_for, selector_labels
from foundry.versions import RCLONE_IMAGE

PLANE = "storage"
NAME = "backups-offsite-copy"
COPIER = "backup-copier"
NOBODY = 65534
# each bucket in turn; a bucket that fails does not stop the others, and the job fails naming it. What the sync
# would delete or overwrite off site is moved under .deleted/<day>/<bucket>/ instead: an emptied or rebuilt source
# (a new site, a stolen key) cannot wipe the copy; the other site expires that prefix by its own lifecycle rule
SCRIPT = """set -u
failed=""
day=$(date -u +%F)
for bucket in $BUCKETS; do
  echo "copying $bucket to offsite:$OFFSITE_BUCKET/$bucket"
  rclone sync "rgw:$bucket" "offsite:$OFFSITE_BUCKET/$bucket" $RCLONE_FLAGS \\
    --backup-dir "offsite:$OFFSITE_BUCKET/$DELETED/$day/$bucket" || failed="$failed $bucket"
done
if [ -n "$failed" ]; then echo "not copied:$failed" >&2; exit 1; fi
"""
# no bucket creation or bucket-level calls off site (its user may only hold the objects); sizes and MD5s compared,
# not modification times (which cost a HEAD per object on each side: rclone's S3 docs); a summary line per bucket
RCLONE_FLAGS = ("--s3-no-check-bucket --checksum --checkers 8 --transfers 4 --stats 1m --stats-one-line "
                "--stats-log-level NOTICE")
DELETED = ".deleted"   # never a bucket's name: S3 names start with a letter or a digit
DEADLINE_SECONDS = 6 * 3600


def copier_user(buckets: Sequence[str]) -> ObjectUser:
    """The copy's RGW user: read-only on the backup buckets (each bucket's policy names it)."""
    return ObjectUser(COPIER, namespace_for(PLANE), tuple(buckets), read_only=True)


def copy_env(offsite: Offsite, gateway: ObjectGateway, buckets: Sequence[str]) -> dict[str, str]:
    """rclone's remotes from its environment (RCLONE_CONFIG_<REMOTE>_<OPTION>), without the keys."""
    env = {
        "BUCKETS": " ".join(buckets), "OFFSITE_BUCKET": offsite.bucket, "RCLONE_FLAGS": RCLONE_FLAGS,
        "DELETED": DELETED, "HOME": "/tmp", "RCLONE_CONFIG": "/dev/null",   # no file: every option below
        "RCLONE_CONFIG_RGW_TYPE": "s3", "RCLONE_CONFIG_RGW_PROVIDER": "Ceph",
        "RCLONE_CONFIG_RGW_ENDPOINT": gateway.endpoint,
        "RCLONE_CONFIG_OFFSITE_TYPE": "s3", "RCLONE_CONFIG_OFFSITE_PROVIDER": "Other",
        "RCLONE_CONFIG_OFFSITE_ENDPOINT": str(offsite.endpoint),
    }
    if offsite.region:
        env["RCLONE_CONFIG_OFFSITE_REGION"] = offsite.region
    return env


@dataclass(frozen=True)
class OffsiteCopyArgs:
    offsite: Offsite
    buckets: Sequence[str]         # every backup bucket, claimed by the relational plane and the operational store
    gateway: ObjectGateway
    site: Site
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()


class OffsiteCopy(pulumi.ComponentResource):
    """The CronJob, its NetworkPolicy and, in prod, the alert when the copy falls behind."""

    def __init__(self, name: str, args: OffsiteCopyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:storage:OffsiteCopy", name, None, opts)
        self._args = args
        self._cron_job()
        self._network_policy()
        if args.site.prod:   # ADR-0012: development stacks page nobody
            self._alert()
        self.register_outputs({"buckets": list(args.buckets), "destination": f"{args.offsite.endpoint}/{args.offsite.bucket}"})

    @property
    def pods(self) -> dict[str, str]:
        return selector_labels(NAME)

    def _cron_job(self) -> None:
        args = self._args
        keys = copier_user(args.buckets).secret(args.gateway.store)
        env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in copy_env(args.offsite, args.gateway, args.buckets).items()]
        env += [secret_env("RCLONE_CONFIG_RGW_ACCESS_KEY_ID", keys, "AccessKey"),
                secret_env("RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY", keys, "SecretKey"),
                secret_env("RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID", args.offsite.credentials_secret, "AWS_ACCESS_KEY_ID"),
                secret_env("RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY", args.offsite.credentials_secret,
                           "AWS_SECRET_ACCESS_KEY")]
        pod = k8s.core.v1.PodSpecArgs(
            restart_policy="Never", automount_service_account_token=False, security_context=restricted_pod(NOBODY),
            containers=[k8s.core.v1.ContainerArgs(
                name="rclone", image=RCLONE_IMAGE, command=["/bin/sh", "-c", SCRIPT], env=env,
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "128Mi"},
                                                               limits={"memory": "512Mi"}),
                security_context=restricted_container(),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")])],
            volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi"))])
        external = {EXTERNAL_SECRETS: args.offsite.credentials_secret,
                    f"{EXTERNAL_SECRETS}-reason": "the other site issues the keys to its object store"}
        k8s.batch.v1.CronJob(NAME, metadata=self._metadata(external), spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=args.offsite.schedule, time_zone="Etc/UTC", concurrency_policy="Forbid",
            suspend=args.offsite.suspended,
            successful_jobs_history_limit=1, failed_jobs_history_limit=3,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=1, active_deadline_seconds=DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**common_labels(PLANE), **self.pods}), spec=pod)))),
            opts=self._child())

    def _network_policy(self) -> None:
        """Out to RGW and to the other site's addresses on its endpoint's port (DNS: the namespace's policy)."""
        endpoint = urlsplit(str(self._args.offsite.endpoint))
        offsite = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr))
                for cidr in self._args.offsite.addresses],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=endpoint.port or 443, protocol="TCP")])
        k8s.networking.v1.NetworkPolicy(NAME, metadata=self._metadata(), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.pods), policy_types=["Ingress", "Egress"],
            ingress=[], egress=[self._args.gateway.egress_rule(), offsite]), opts=self._child())

    def _alert(self) -> None:
        site = self._args.site
        custom_resource("monitoring.coreos.com/v1", "PrometheusRule", NAME, namespace_for(PLANE),
                        {**common_labels(PLANE), **site.scrape_labels},
                        {"groups": [{"name": NAME, "rules": copy_alert_rules(self._args.offsite.schedule)}]},
                        self._child())

    def _metadata(self, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=namespace_for(PLANE), labels=common_labels(PLANE),
                                          annotations=annotations)

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=list(self._args.depends_on))


def copy_alert_rules(schedule: str) -> list[dict[str, Any]]:
    """kube-state-metrics' CronJob series: the last successful copy older than two of the schedule's longest gaps
    and a run's deadline, or none since the CronJob appeared."""
    allowed = int(2 * cronjob_longest_gap(schedule).total_seconds()) + DEADLINE_SECONDS
    selector = f'namespace="{namespace_for(PLANE)}", cronjob="{NAME}"'
    return [
        {"alert": "OffsiteBackupCopyTooOld",
         "expr": (f"time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{{{selector}}})"
                  f" > {allowed}"),
         "for": "15m", "labels": {"severity": "critical"},
         "annotations": {"summary": "The off-site copy of the backups has not succeeded for "
                                    f"{allowed // 3600}h or more: losing the site would lose everything since.",
                         "runbook": "docs/operations.md#backups-off-site"}},
        {"alert": "OffsiteBackupCopyNeverSucceeded",
         "expr": (f"absent(kube_cronjob_status_last_successful_time{{{selector}}}) and on() "
                  f"(time() - max by (namespace, cronjob) (kube_cronjob_created{{{selector}}}) > {allowed})"),
         "for": "15m", "labels": {"severity": "critical"},
         "annotations": {"summary": "The off-site copy of the backups has never succeeded.",
                         "runbook": "docs/operations.md#backups-off-site"}},
    ]
