"""foundry/cron.py: when a ScheduledBackup's six-field schedule fires, and the longest gap the backup alerts allow."""

from __future__ import annotations

import datetime as dt

import pytest

from foundry.cron import UntimedSchedule, firings, longest_gap

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.mark.parametrize(("schedule", "gap"), [
    ("0 0 2 * * *", DAY),                    # nightly, the default
    ("0 0 */6 * * *", 6 * HOUR),
    ("0 30 1,13 * * *", 12 * HOUR),
    ("0 0 2 * * 1-5", 3 * DAY),              # weekdays: Friday to Monday
    ("0 0 3 * * 0", 7 * DAY),
    ("0 0 2 */2 * 1", 21 * DAY),            # a stepped "*" leaves the day of month unrestricted: both must match
    ("0 0 3 1 * *", 31 * DAY),               # monthly: the longest month
    ("0 0 2 15 * 1", 7 * DAY),               # a day of month and a weekday match either (robfig/cron)
    ("0 0 4 1 1,7 ?", 184 * DAY),            # July to January
    ("0 0 2 13 2 5", 350 * DAY),             # a Friday 13 February: over the 400-year cycle, not a few years
])
def test_the_longest_gap_between_two_backups(schedule: str, gap: dt.timedelta) -> None:
    assert longest_gap(schedule) == gap


def test_it_fires_at_the_minutes_it_names() -> None:
    start = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)   # a Monday
    assert firings("0 15 2 * * 1", start, 8) == [start.replace(hour=2, minute=15),
                                                 start.replace(day=8, hour=2, minute=15)]


@pytest.mark.parametrize("schedule", ["0 0 2 * * MON", "@daily", "0 0 2 L * *", "0 0 25 * * *", "0 0 2 * *",
                                      "0 0 3 * * 7", "0 0 1_0 * * *", "0 */-5 * * * *", "0 */0 * * * *",
                                      "0 0 2 30 2 *"])
def test_a_schedule_it_cannot_time_is_refused(schedule: str) -> None:
    with pytest.raises(UntimedSchedule):
        longest_gap(schedule)
