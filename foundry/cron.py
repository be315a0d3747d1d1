"""When a CloudNativePG ScheduledBackup's schedule fires, and the longest time between two of its firings: what an
alert on a backup's age allows.

CloudNativePG v1.30.0 parses `spec.schedule` with github.com/robfig/cron v1.2.0 (go.mod), in UTC: six fields,
seconds first, day of week 0-6. Supported here: ASCII numbers, `*` and `?`, ranges, steps and lists
(`0 0 2 * * *`, `0 30 */6 * * 1-5`). Names (`MON`), descriptors (`@daily`) and anything robfig would refuse are
refused with the reason, before the webhook would refuse the ScheduledBackup mid-apply."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from itertools import pairwise

# robfig/cron v1.2.0 parser.go: seconds, minutes, hours, day of month, month, day of week
FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 6))
NUMBER = re.compile(r"[0-9]+")
CYCLE = dt.date(2000, 1, 1), 146097   # the Gregorian calendar repeats its dates and weekdays every 400 years


class UntimedSchedule(ValueError):
    """A schedule whose firings this module cannot compute, or that robfig/cron refuses."""


def _number(text: str, part: str) -> int:
    if not NUMBER.fullmatch(text):
        raise UntimedSchedule(f"{part!r} is not made of numbers, *, ?, ranges, steps and lists")
    return int(text)


def _field(text: str, name: str, low: int, high: int) -> tuple[frozenset[int], bool]:
    """The values a field allows, and whether robfig marks it unrestricted: any part starting with `*` or `?`
    (parser.go getRange's starBit), which makes both day fields have to match instead of either."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if base in ("*", "?"):
            first, last, star = low, high, True
        elif "-" in base:
            first, last = (_number(v, part) for v in base.split("-", 1))
        else:
            first = _number(base, part)
            last = high if slash else first
        step = _number(step_text, part) if slash else 1
        if not (low <= first <= last <= high and step > 0):
            raise UntimedSchedule(f"{part!r} is not within {name}'s {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values), star


def _parsed(schedule: str) -> list[tuple[frozenset[int], bool]]:
    fields = schedule.split()
    if len(fields) != 6:
        raise UntimedSchedule("a ScheduledBackup's schedule has six fields, seconds first")
    return [_field(text, name, low, high) for text, (name, low, high) in zip(fields, FIELDS, strict=True)]


def _day_matches(day: dt.date, parsed: list[tuple[frozenset[int], bool]]) -> bool:
    (doms, any_dom), (months, _), (dows, any_dow) = parsed[3], parsed[4], parsed[5]
    if day.month not in months:
        return False
    dom, dow = day.day in doms, day.isoweekday() % 7 in dows
    # robfig/cron spec.go dayMatches: an unrestricted day field makes both match, else either does
    return (dom and dow) if any_dom or any_dow else (dom or dow)


def _times_of_day(parsed: list[tuple[frozenset[int], bool]]) -> list[dt.timedelta]:
    return [dt.timedelta(hours=h, minutes=m) for h in sorted(parsed[2][0]) for m in sorted(parsed[1][0])]


def firings(schedule: str, start: dt.datetime, days: int) -> list[dt.datetime]:
    """Every minute the schedule fires in `days` days from `start` (UTC), in order."""
    parsed = _parsed(schedule)
    times = _times_of_day(parsed)
    midnights = (dt.datetime.combine(start.date() + dt.timedelta(days=n), dt.time(), dt.UTC) for n in range(days))
    return [midnight + t for midnight in midnights if _day_matches(midnight.date(), parsed) for t in times]


@cache
def longest_gap(schedule: str) -> dt.timedelta:
    """The longest time between two backups the schedule starts, over the calendar's whole 400-year cycle."""
    parsed = _parsed(schedule)
    times = _times_of_day(parsed)
    first, length = CYCLE
    days = [n for n in range(length) if _day_matches(first + dt.timedelta(days=n), parsed)]
    if not days:
        raise UntimedSchedule("it never fires")
    within = max((later - earlier for earlier, later in pairwise(times)), default=dt.timedelta(0))
    across = max(dt.timedelta(days=later - earlier) - times[-1] + times[0]
                 for earlier, later in pairwise([*days, days[0] + length]))
    return max(within, across)


def cronjob_longest_gap(schedule: str) -> dt.timedelta:
    """The same for a Kubernetes CronJob's five fields (robfig/cron v3's standard parser: the fields above without
    the seconds, which are 0)."""
    if len(schedule.split()) != 5:
        raise UntimedSchedule("a CronJob's schedule has five fields")
    return longest_gap(f"0 {schedule}")
