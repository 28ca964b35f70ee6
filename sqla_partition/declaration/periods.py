"""Period arithmetic for range partitions: pure functions, no clock, no database.

A range key has a *step*: a calendar step (N minutes, hours, days, weeks, months or years)
for time keys, or an integer width for integer keys.

- Days and longer: boundaries fall on local midnight in the policy's timezone and are
  converted to absolute instants, so DST shifts change the length of a period but never
  leave a gap or an overlap. N days count from 1 January 1970, N weeks from Monday
  5 January 1970, N months (and years) from January 1970: counts that divide a year
  start every year in January.
- Minutes and hours: periods are equal spans of absolute time (an hourly partition is an
  hour long across DST changes too), counted from midnight of 1 January 1970 on the
  policy timezone's standard time; counts that divide a day start every day at midnight
  of standard time. Names carry that standard-time clock, so they never repeat.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..errors import PolicyError
from ..sql.quoting import KeyValue

UNITS = ("minute", "hour", "day", "week", "month", "year")
_ALIASES = {
    "hourly": (1, "hour"),
    "daily": (1, "day"),
    "weekly": (1, "week"),
    "monthly": (1, "month"),
    "quarterly": (3, "month"),
    "yearly": (1, "year"),
}
_INTERVAL_RE = re.compile(
    r"^\s*(\d+)\s*(minute|min|hour|day|week|month|year|quarter)s?\s*$", re.IGNORECASE
)
_SECONDS = {"minute": 60, "hour": 3600}

#: The steps ``adopt`` tries on a set of partitions it did not make, shortest first.
COMMON_STEPS = (
    (15, "minute"),
    (30, "minute"),
    (1, "hour"),
    (1, "day"),
    (1, "week"),
    (1, "month"),
    (3, "month"),
    (6, "month"),
    (1, "year"),
)
NAMINGS = ("sqla", "partman4", "partman5")
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=dt.timezone.utc)
#: Integer time columns: how many of their units make a second (``Range(epoch=...)``).
EPOCH_UNITS = {"seconds": 1, "milliseconds": 1000, "microseconds": 10**6, "nanoseconds": 10**9}


@dataclass(frozen=True, order=True)
class CalendarStep:
    """A calendar length such as ``1 month``; months and years vary in days on purpose."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'s' if self.count != 1 else ''}"

    def approx_days(self) -> float:
        per = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "month": 30.44}
        return self.count * per.get(self.unit, 365.25)

    @property
    def sub_day(self) -> bool:
        """Minutes and hours: equal spans of absolute time."""
        return self.unit in _SECONDS

    def span(self) -> dt.timedelta:
        """The length of a minutes or hours step."""
        return dt.timedelta(seconds=self.count * _SECONDS[self.unit])

    def months(self) -> int:
        return (
            self.count * (12 if self.unit == "year" else 1) if self.unit in ("month", "year") else 0
        )

    def days(self) -> int:
        return self.count * (7 if self.unit == "week" else 1) if self.unit in ("day", "week") else 0


def parse_step(text: str, *, what: str = "interval") -> CalendarStep:
    """Parse ``"15 minutes"``, ``"1 hour"``, ``"1 month"``, ``"3 months"``, ``"monthly"``,
    ``"1 quarter"`` and the like: any positive count of a unit."""
    if not isinstance(text, str):
        raise PolicyError(f"{what} must be a string such as '1 month', got {text!r}")
    key = text.strip().lower()
    if key in _ALIASES:
        count, unit = _ALIASES[key]
        return CalendarStep(count, unit)
    m = _INTERVAL_RE.match(key)
    if not m:
        raise PolicyError(
            f"unknown {what} {text!r}: use a count and a unit, e.g. '15 minutes', '1 hour', "
            "'1 day', '2 weeks', '1 month', '3 months', '1 year' (or hourly, daily, weekly, "
            "monthly, quarterly, yearly)"
        )
    count, unit = int(m.group(1)), m.group(2).lower()
    unit = "minute" if unit == "min" else unit
    if unit == "quarter":
        count, unit = count * 3, "month"
    if count <= 0:
        raise PolicyError(f"{what} {text!r} must be longer than zero")
    step = CalendarStep(count, unit)
    if step.approx_days() > 100 * 366:  # past this, dates leave the calendar's range
        raise PolicyError(f"{what} {text!r} is longer than 100 years")
    return step


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` moved by whole months; callers only pass the first day of a month."""
    y, m = divmod(d.year * 12 + (d.month - 1) + months, 12)
    return d.replace(year=y, month=m + 1)


def shift_date(d: dt.date, step: CalendarStep, n: int = 1) -> dt.date:
    """``d`` moved by ``n`` steps; month arithmetic clamps to the month's last day."""
    if step.sub_day:
        raise ValueError(f"{step} moves a time, not a date")
    if step.unit in ("day", "week"):
        return d + dt.timedelta(days=step.days() * n)
    total = d.year * 12 + (d.month - 1) + step.months() * n
    y, m = divmod(total, 12)
    last = _days_in_month(y, m + 1)
    return dt.date(y, m + 1, min(d.day, last))


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def floor_date(d: dt.date, step: CalendarStep, anchor: dt.date | None = None) -> dt.date:
    """First day of the period that contains ``d``.

    Periods are aligned to the calendar (weeks start on Monday, quarters in January,
    April, July and October), so names are stable whichever day a table is created.
    """
    if step.sub_day:
        raise ValueError(f"{step} periods start at a time, not a date")
    if step.unit == "day":
        epoch = anchor or dt.date(1970, 1, 1)
        return epoch + dt.timedelta(days=((d - epoch).days // step.count) * step.count)
    if step.unit == "week":
        monday = anchor or dt.date(1970, 1, 5)  # a Monday
        span = 7 * step.count
        return monday + dt.timedelta(days=((d - monday).days // span) * span)
    months = step.months()
    base = anchor or dt.date(1970, 1, 1)
    index = (d.year - base.year) * 12 + (d.month - base.month)
    index -= index % months
    y, m = divmod(base.month - 1 + index, 12)
    return dt.date(base.year + y, m + 1, 1)


def local_midnight(d: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first instant of local day ``d``, as an aware datetime in ``tz``.

    As PostgreSQL reads local times (``AT TIME ZONE``, ``date_trunc``): where midnight
    does not exist (a DST gap at 00:00) the instant is the end of the gap; where it occurs
    twice (DST ends at midnight), the second one, in standard time. Both keep boundaries
    strictly increasing.
    """
    naive = dt.datetime(d.year, d.month, d.day)
    aware = naive.replace(tzinfo=tz, fold=0)
    roundtrip = aware.astimezone(dt.timezone.utc).astimezone(tz)
    if roundtrip.replace(tzinfo=None) != naive:  # in a gap: move to the gap's end
        return roundtrip
    later = naive.replace(tzinfo=tz, fold=1)
    if later.utcoffset() != aware.utcoffset():  # twice: the later one, in UTC (a time in
        return later.astimezone(dt.timezone.utc)  # the fold never equals another zone's)
    return aware


@dataclass(frozen=True)
class Period:
    """One partition's half-open range ``[lower, upper)`` and its name suffix."""

    lower: KeyValue
    upper: KeyValue
    suffix: str

    def contains(self, value: KeyValue) -> bool:
        return self.lower <= value < self.upper  # type: ignore[operator]


@dataclass(frozen=True)
class Stepper:
    """Turns key values into periods for one key type, step and timezone.

    ``key_type`` is one of ``timestamptz``, ``timestamp``, ``date`` or ``integer``.
    """

    key_type: str
    step: CalendarStep | int
    tz: str = "UTC"
    #: How partitions are named: ``sqla`` (``p2026_11``), or as pg_partman names them,
    #: ``partman4`` (``p2026_11``, ``p2026w48``, ``p2026q4``) or ``partman5``
    #: (``p20261101``), so that an adopted set goes on with the names it has.
    naming: str = "sqla"
    #: Where one period starts (the policy's ``anchor``, on the local clock, standard time
    #: for minutes and hours); ``None``: the counts from 1970 above.
    anchor: dt.datetime | None = None
    #: An integer column of time since 1970 (``key_type`` integer, a calendar step): its
    #: units per second. Periods are the calendar's; bounds are those instants as integers.
    epoch: int = 0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @functools.cached_property
    def _time(self) -> Stepper:
        return Stepper("timestamptz", self.step, self.tz, self.naming, self.anchor)

    def key_of(self, instant: dt.datetime) -> int:
        """An instant as the epoch column holds it (exact: no float on the way)."""
        delta = instant - _EPOCH_UTC
        whole = (delta.days * 86400 + delta.seconds) * self.epoch
        return whole + delta.microseconds * self.epoch // 1_000_000

    def instant_of(self, key: int) -> dt.datetime:
        """The instant an epoch value stands for (floored to a microsecond)."""
        seconds, rest = divmod(key, self.epoch)
        micro = rest * 1_000_000 // self.epoch
        return _EPOCH_UTC + dt.timedelta(seconds=seconds, microseconds=micro)

    def _as_keys(self, period: Period) -> Period:
        lower, upper = period.lower, period.upper
        assert isinstance(lower, dt.datetime) and isinstance(upper, dt.datetime)
        return Period(self.key_of(lower), self.key_of(upper), period.suffix)

    @property
    def _sub_day(self) -> bool:
        return isinstance(self.step, CalendarStep) and self.step.sub_day

    @functools.cached_property
    def _standard(self) -> dt.timedelta:
        """The offset of the timezone's standard time (its UTC offset less daylight
        saving), as of 2001: minutes and hours are counted on it."""
        if self.key_type != "timestamptz":
            return dt.timedelta(0)
        ref = dt.datetime(2001, 1, 15, 12, tzinfo=self.zone)
        return (ref.utcoffset() or dt.timedelta(0)) - (ref.dst() or dt.timedelta(0))

    def _clock(self, value: KeyValue) -> dt.datetime:
        """``value`` on the standard-time clock (naive)."""
        if self.key_type == "timestamptz":
            assert isinstance(value, dt.datetime) and value.tzinfo is not None
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None) + self._standard
        assert isinstance(value, dt.datetime)
        return value

    def _instant(self, clock: dt.datetime) -> KeyValue:
        """In UTC: aware datetimes of one zone compare by their wall clock, which repeats
        an hour when DST ends."""
        if self.key_type == "timestamptz":
            return (clock - self._standard).replace(tzinfo=dt.timezone.utc)
        return clock

    def _local_day(self, value: KeyValue) -> dt.date:
        if self.key_type == "timestamptz":
            assert isinstance(value, dt.datetime) and value.tzinfo is not None
            return value.astimezone(self.zone).date()
        if isinstance(value, dt.datetime):
            return value.date()
        assert isinstance(value, dt.date)
        return value

    def _bound(self, d: dt.date) -> KeyValue:
        if self.key_type == "timestamptz":
            return local_midnight(d, self.zone)
        if self.key_type == "timestamp":
            return dt.datetime(d.year, d.month, d.day)
        return d

    def _suffix(self, d: dt.date) -> str:
        assert isinstance(self.step, CalendarStep)
        if isinstance(d, dt.datetime):  # minutes and hours: the standard-time clock
            if self.naming == "partman5":
                return f"p{d:%Y%m%d_%H%M%S}"
            return f"p{d:%Y_%m_%d_%H%M}"
        if self.naming == "partman5":
            return f"p{d.year:04d}{d.month:02d}{d.day:02d}"
        if self.naming == "partman4" and self.step.unit == "week":
            year, week, _ = d.isocalendar()
            return f"p{year:04d}w{week:02d}"
        if self.naming == "partman4" and self.step.unit == "month" and self.step.count == 3:
            return f"p{d.year:04d}q{(d.month - 1) // 3 + 1}"
        if self.step.unit == "year":
            return f"p{d.year:04d}"
        if self.step.unit == "month" and self.step.count == 3:
            return f"p{d.year:04d}_q{(d.month - 1) // 3 + 1}"
        if self.step.unit == "month":
            return f"p{d.year:04d}_{d.month:02d}"
        return f"p{d.year:04d}_{d.month:02d}_{d.day:02d}"

    def period_of(self, value: KeyValue) -> Period:
        """The period that contains ``value``."""
        if self.epoch:
            assert isinstance(value, int)
            return self._as_keys(self._time.period_of(self.instant_of(value)))
        if self.key_type == "integer":
            assert isinstance(self.step, int) and isinstance(value, int)
            lower = (value // self.step) * self.step
            return self._int_period(lower)
        assert isinstance(self.step, CalendarStep)
        if self.step.sub_day:
            span, origin = self.step.span(), self.anchor or _EPOCH
            return self._clock_period(origin + ((self._clock(value) - origin) // span) * span)
        anchor = self.anchor.date() if self.anchor else None
        start = floor_date(self._local_day(value), self.step, anchor)
        return self._period_from(start)

    def _int_period(self, lower: int) -> Period:
        assert isinstance(self.step, int)
        digits = max(10, len(str(abs(lower))))
        sign = "m" if lower < 0 else ""
        return Period(lower, lower + self.step, f"p{sign}{abs(lower):0{digits}d}")

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - steppers are few, frozen and small
    def _period_from(self, start: dt.date) -> Period:
        """(Cached: a run over a thousand tables with one policy asks for the same periods.)"""
        assert isinstance(self.step, CalendarStep)
        nxt = shift_date(start, self.step)
        return Period(self._bound(start), self._bound(nxt), self._suffix(start))

    @functools.lru_cache(maxsize=8192)  # noqa: B019
    def _clock_period(self, start: dt.datetime) -> Period:
        assert isinstance(self.step, CalendarStep)
        end = start + self.step.span()
        return Period(self._instant(start), self._instant(end), self._suffix(start))

    @functools.lru_cache(maxsize=8192)  # noqa: B019
    def following(self, period: Period, n: int = 1) -> Period:
        """The period ``n`` steps after (or, for negative ``n``, before) ``period``."""
        if self.epoch:
            assert isinstance(period.lower, int)
            inner = self._time.period_of(self.instant_of(period.lower))
            return self._as_keys(self._time.following(inner, n))
        if self.key_type == "integer":
            assert isinstance(self.step, int) and isinstance(period.lower, int)
            return self._int_period(period.lower + n * self.step)
        assert isinstance(self.step, CalendarStep)
        if self.step.sub_day:
            return self._clock_period(self._clock(period.lower) + n * self.step.span())
        start = self._local_day(period.lower)
        return self._period_from(shift_date(start, self.step, n))

    def series(self, first: Period, count: int) -> list[Period]:
        """``count`` consecutive periods starting with ``first``."""
        out = [first]
        for _ in range(count - 1):
            out.append(self.following(out[-1]))
        return out

    def suffix_width(self) -> int:
        """The longest suffix this stepper produces, to check names against 63 bytes."""
        if self.epoch:
            return self._time.suffix_width()
        if self.key_type == "integer":
            return len("p") + 20
        if self._sub_day:
            return len(self._suffix(dt.datetime(2000, 12, 31, 23, 59)))
        return len(self._suffix(dt.date(2000, 12, 31)))


def subtract(value: KeyValue, span: CalendarStep | int, tz: str = "UTC") -> KeyValue:
    """``value`` moved back by ``span`` in local calendar terms (for retention cutoffs)."""
    return _moved(value, span, tz, -1)


def add(value: KeyValue, span: CalendarStep | int, tz: str = "UTC") -> KeyValue:
    """``value`` moved on by ``span`` (when a period's end passes out of retention)."""
    return _moved(value, span, tz, 1)


def _moved(value: KeyValue, span: CalendarStep | int, tz: str, n: int) -> KeyValue:
    if isinstance(value, int):
        assert isinstance(span, int)
        return value + n * span
    assert isinstance(span, CalendarStep)
    if span.sub_day:  # absolute time
        if isinstance(value, dt.datetime):
            return value + n * span.span()
        return value + dt.timedelta(days=int(n * span.span().total_seconds() // 86400))
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        zone = ZoneInfo(tz)
        local = value.astimezone(zone)
        d = shift_date(local.date(), span, n)
        naive = dt.datetime.combine(d, local.time())
        return naive.replace(tzinfo=zone).astimezone(dt.timezone.utc)
    if isinstance(value, dt.datetime):
        d = shift_date(value.date(), span, n)
        return dt.datetime.combine(d, value.time())
    return shift_date(value, span, n)
