"""The Postgres clusters' backup alerts (prod): the newest base backup older than the schedule allows, none yet, the
backup state unreported, and WAL archiving failing or stuck.

The backups go through the Barman Cloud plugin, so CloudNativePG's own `cnpg_collector_last_available_backup_timestamp`
stays 0 (the Cluster status fields it reads are "not set for backup plugins": api/v1/cluster_types.go at v1.30.0).
The plugin exports its replacements through each instance's metrics port, from the ObjectStore's
`status.serverRecoveryWindow`: `barman_cloud_cloudnative_pg_io_last_available_backup_timestamp` (the end of the
newest completed backup; 0 until the first one; plugin-barman-cloud v0.13.0 internal/cnpgi/instance/metrics.go).
Every instance reports the same value, hence `max by (namespace, job)`; the job is the PodMonitor's,
`<namespace>/<cluster>`. The archiver's metrics are CloudNativePG's default monitoring query `pg_stat_archiver`
(config/manager/default-monitoring.yaml at v1.30.0), emitted only where the instance archives (the primary).
An idle primary switches no segment, so "stuck" needs WAL files waiting (`cnpg_collector_pg_wal_archive_status`).
Sources and the reasoning: docs/relational.md, "Backups watched".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from foundry.cron import longest_gap

BACKUP_ALERTS = "postgres-backups"
LAST_BACKUP = "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"
BACKUP_GRACE = dt.timedelta(hours=3)       # a base backup of a large cluster takes hours; its timestamp is its end
SERIES_GAP = "15m"
ARCHIVE_STUCK_SECONDS = 900                # three times CloudNativePG's default archive_timeout (5 min)
def duration(delta: dt.timedelta) -> str:
    """A Prometheus duration: `26h`, `1h30m`."""
    hours, minutes = divmod(int(delta.total_seconds()) // 60, 60)
    return f"{hours}h" + (f"{minutes}m" if minutes else "") if hours else f"{minutes}m"


def backup_alert_rules(schedule: str) -> list[dict[str, Any]]:
    gap = longest_gap(schedule)
    allowed = gap + BACKUP_GRACE
    # over a quarter of an hour: a scrape in which the plugin failed drops its series, which would restart a `for:`
    newest = f"max by (namespace, job) (max_over_time({LAST_BACKUP}[{SERIES_GAP}]))"
    return [
        {"alert": "PostgresBackupTooOld",
         "expr": f"time() - {newest} > {int(allowed.total_seconds())} and {newest} > 0", "for": "30m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "The newest base backup of {{ $labels.job }} is {{ $value | humanizeDuration }} old",
                         "description": f"The schedule ({schedule}) starts one at least every {duration(gap)}, "
                                        f"and {duration(BACKUP_GRACE)} is allowed for it to finish. Recovery to a "
                                        "recent point needs every WAL segment since the newest backup: look at the "
                                        "ScheduledBackup's Backups and the plugin's logs."}},
        {"alert": "PostgresNoBackupYet", "expr": f"{newest} == 0", "for": duration(allowed),
         "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }} has no completed base backup",
                         "description": "Its object store holds no backup a schedule's time after the plugin first "
                                        "reported: the cluster cannot be recovered from it."}},
        {"alert": "PostgresBackupStateUnreported",
         "expr": f"count by (namespace, job) (cnpg_collector_up) unless {newest}",
         "for": "1h", "labels": {"severity": "warning"},
         "annotations": {"summary": "{{ $labels.job }} reports no backup state",
                         "description": "The instances are scraped but the Barman Cloud plugin exports nothing: it "
                                        "cannot read the ObjectStore, or it is not loaded. Backups may be failing "
                                        "unseen."}},
        {"alert": "PostgresWalArchivingFailing",
         "expr": "max by (namespace, job) (cnpg_pg_stat_archiver_last_failed_time "
                 "- cnpg_pg_stat_archiver_last_archived_time) > 0", "for": "10m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }} fails to archive WAL",
                         "description": "Its last archive attempt failed after the last success: point-in-time "
                                        "recovery stops at that segment, and the volume fills with WAL waiting."}},
        {"alert": "PostgresWalArchivingStuck",
         # per pod: the archiving primary's waiting WAL, not a former primary's stale count; a primary that never
         # archived (after a failover, a new cluster) reports -1 as its last archival
         "expr": 'max by (namespace, job) ((cnpg_collector_pg_wal_archive_status{value="ready"} > 0) and on '
                 "(namespace, job, pod) (cnpg_pg_stat_archiver_seconds_since_last_archival > "
                 f"{ARCHIVE_STUCK_SECONDS} or cnpg_pg_stat_archiver_last_archived_time < 0))", "for": "10m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }} has WAL waiting and archived none for 15 minutes",
                         "description": "Segments are ready but none reached the object store: the archiver is "
                                        "stuck (credentials, the endpoint, the plugin)."}},
    ]
