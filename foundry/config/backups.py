"""Where the backups go besides RGW (storage.backups): every backup bucket copied to another site's object store.

Every CNPG cluster's Barman Cloud store and Medusa's bucket live on RGW, in the Ceph cluster that holds the volumes
they protect (review finding m10): losing that Ceph cluster loses the data and its backups together. Neither tool
can write a second store at the pins (plugin-barman-cloud v0.13.0 loads one object store per cluster and ignores a
backup's own parameters; Medusa 0.29.1 has one storage: /work/notes 37-barman-plugin.md, 37-medusa.md), so a copy
job mirrors each bucket to the other site (components/storage/offsite.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Annotated

from pydantic import Field, StringConstraints

from foundry.acknowledgements import SINGLE_SITE_RISK
from foundry.config.base import ConfigProblem, Cron5, DnsLabel, HttpsUrl, Section
from foundry.cron import UntimedSchedule, cronjob_longest_gap

# S3's bucket naming rule (lower case, digits, dots and hyphens; 3 to 63)
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
Cidr = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F:.]+/[0-9]{1,3}$")]


class Offsite(Section):
    """Another site's S3-compatible store. The credentials Secret, in the storage plane's namespace, holds
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of a user that may list, read, write and delete in `bucket`; that
    site issues it, so the platform cannot generate it (docs/operations.md, "Backups off site")."""

    endpoint: HttpsUrl
    bucket: BucketName                  # each local bucket is copied under <bucket>/<local bucket>/
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")] | None = None
    credentials_secret: DnsLabel
    # the endpoint's addresses: the copy's only way out of the cluster (a NetworkPolicy cannot name a host)
    addresses: Annotated[list[Cidr], Field(min_length=1)]
    schedule: Cron5 = "*/15 * * * *"    # the copy's; the off-site recovery point trails by at most its gap
    # stops the copy (the CronJob's `suspend`): first step of a restore at a new site, before its empty buckets sync
    suspended: bool = False


class Backups(Section):
    offsite: Offsite | None = None
    # prod without `offsite` must carry SINGLE_SITE_RISK here, word for word
    single_site_acknowledged: str | None = None


def backups_problems(backups: Backups, prod: bool) -> Iterable[ConfigProblem]:
    path = "openfoundry:storage.backups"
    offsite, acknowledged = backups.offsite, backups.single_site_acknowledged
    if offsite is not None and acknowledged is not None:
        yield ConfigProblem(f"{path}.singleSiteAcknowledged", repr(acknowledged),
                            "nothing when storage.backups.offsite is set (the backups do leave the site)")
    if acknowledged is not None and acknowledged != SINGLE_SITE_RISK:
        yield ConfigProblem(f"{path}.singleSiteAcknowledged", repr(acknowledged),
                            f"exactly {SINGLE_SITE_RISK!r}, the risk it accepts")
    if prod and offsite is None and acknowledged is None:
        yield ConfigProblem(f"{path}.offsite", "nothing",
                            "another site's object store (endpoint, bucket, credentialsSecret, addresses) in prod, or "
                            f"storage.backups.singleSiteAcknowledged set to {SINGLE_SITE_RISK!r}")
    if offsite is None:
        return
    for index, cidr in enumerate(offsite.addresses):
        try:
            ipaddress.ip_network(cidr)
        except ValueError as why:
            yield ConfigProblem(f"{path}.offsite.addresses[{index}]", repr(cidr), f"a network in CIDR notation ({why})")
    try:
        cronjob_longest_gap(offsite.schedule)
    except UntimedSchedule as why:   # the copy's alert allows the schedule's longest gap
        yield ConfigProblem(f"{path}.offsite.schedule", repr(offsite.schedule),
                            f"a five-field cron of numbers, *, ranges, steps and lists ({why})")
