"""When a six-field cron schedule (robfig/cron with seconds, as a CloudNativePG ScheduledBackup's) fires, and the
longest time between two of its firings: what an alert on a backup's age allows.

Supported: numbers, `*` and `?`, ranges, steps and lists (`0 0 2 * * *`, `0 30 */6 * * 1-5`). Names (`MON`),
descriptors (`@daily`) and Quartz's `L`/`W` are refused with the reason."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

# robfig/cron with seconds, as a ScheduledBackup's schedule: second minute hour day-of-month month day-of-week
FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 7))


class UntimedSchedule(ValueError):
    """A schedule whose firings this module cannot compute (names, descriptors, `L`, `W`)."""


def _field(text: str, low: int, high: int) -> tuple[set[int], bool]:
    """The values a cron field allows, and whether it is unrestricted (`*` or `?`)."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            first, last = (int(v) for v in base.split("-", 1))
        else:
            first = int(base)
            last = high if step else first
        if not low <= first <= last <= high:
            raise UntimedSchedule(f"{part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, int(step) if step else 1))
    return values, text in ("*", "?")


def firings(schedule: str, start: dt.datetime, days: int) -> list[dt.datetime]:
    """Every minute the schedule fires in `days` days from `start` (UTC), in order."""
    fields = schedule.split()
    if len(fields) != 6:
        raise UntimedSchedule("a ScheduledBackup's schedule has six fields, seconds first")
    try:
        parsed = [_field(text, low, high) for text, (_, low, high) in zip(fields, FIELDS, strict=True)]
    except ValueError as error:   # int() of a name or a descriptor
        raise UntimedSchedule(str(error)) from None
    (_, _), (minutes, _), (hours, _), (doms, any_dom), (months, _), (dows, any_dow) = parsed
    dows = {d % 7 for d in dows}
    found = []
    for offset in range(days):
        day = (start + dt.timedelta(days=offset)).date()
        dom, dow = day.day in doms, day.isoweekday() % 7 in dows
        # robfig/cron: a restricted day of month and day of week match either (cron's rule), else both
        if day.month in months and ((dom and dow) if any_dom or any_dow else (dom or dow)):
            found += [dt.datetime.combine(day, dt.time(h, m), dt.UTC) for h in sorted(hours) for m in sorted(minutes)]
    return found


def longest_gap(schedule: str) -> dt.timedelta:
    """The longest time between two backups the schedule starts, over more than a year (a monthly schedule's
    longest gap spans a short month)."""
    start = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    times = firings(schedule, start, 800)
    if len(times) < 2:
        raise UntimedSchedule("it fires less than twice in two years")
    return max(later - earlier for earlier, later in pairwise(times))
