"""Query-string arguments -> the library's typed parameters. Shared by the HTTP API and the CLI,
so a dashboard URL, an API call and a command line mean the same thing.

    from=2024-01-01&to=2024-02-01           period [from, to), dates or ISO times, UTC
    period=all | period=7d                   all stored data, or the last n days (no from/to);
                                             with none of these: the last 30 days (the answer
                                             says so in its period.kind)
    steps=Product Viewed,Signed Up,$any      funnel steps ($page, $screen, $any are tokens)
    window=1d  lookback=30d  timeout=30m     durations: <n><s|m|h|d|w>; the unit is required
    filter=utm_source:eq:facebook            repeatable (also `filters`); field:op:value,
    filter=utm_campaign:in:spring|summer     `in`/`not_in` values separated by |
    step_filter=1:utm_source:eq:facebook     repeatable; <n>:field:op:value, a filter on funnel
                                             step n only (1-based, at most the number of steps),
                                             the rest exactly like filter=
    breakdown=utm_campaign

The founding question as a query string:
    steps=$any,Signed Up,Order Completed&window=1d&step_filter=1:utm_source:eq:facebook

Each report names the arguments it takes (only()): any other one, a typo included, is a
BadParameter naming it, never silently ignored.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast

from clickhouse_connect.driver.client import Client

from footfall_analytics.errors import BadParameter
from footfall_analytics.params import Filter, Op, Period, Step
from footfall_analytics.sql import Binder, compile_filter

_STEP_NUMBER = re.compile(r"^\s*[+-]?\d+\s*$", re.ASCII)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LAST_DAYS = re.compile(r"^\s*(\d{1,5})d\s*$")
PERIOD_ARGS = ("from", "to", "period")
MAX_ARG_CHARS = 2000
DEFAULT_DAYS = 30


class Args:
    """A read-only multi-dict of query-string arguments."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.items = list(items)
        for name, value in self.items:
            if len(value) > MAX_ARG_CHARS:
                raise BadParameter(name, f"at most {MAX_ARG_CHARS} characters")

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.getall(name)
        return values[-1] if values else default

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def only(self, *accepted: str) -> None:
        """Refuse every argument not in `accepted`: a typo (windows=3d) or an argument this
        report does not use (filter= on the founding question) would otherwise be ignored."""
        unknown = sorted({k for k, _ in self.items} - set(accepted))
        if unknown:
            raise BadParameter(
                ",".join(unknown),
                f"unknown or inapplicable argument(s): {', '.join(unknown)}; this report takes "
                + (", ".join(sorted(accepted)) or "no arguments"),
            )


def text(args: Args, name: str, default: str) -> str:
    value = args.get(name)
    return default if value is None or value == "" else value


def optional_text(args: Args, name: str) -> str | None:
    value = args.get(name)
    return None if value is None or value.strip() == "" else value


def integer(args: Args, name: str, default: int) -> int:
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadParameter(name, f"must be an integer, got {value!r}") from None


def duration(args: Args, name: str, default: timedelta) -> timedelta:
    value = args.get(name)
    if value is None or value == "":
        return default
    match = _DURATION.match(value)
    if not match:
        raise BadParameter(name, f"must be a duration such as 30m, 12h, 1d or 2w, got {value!r}")
    if not match.group(2):  # `window=1` read as one second surprised users: say the unit
        raise BadParameter(name, f"needs a unit: s, m, h, d or w (e.g. {value.strip()}d), "
                           f"got {value!r}")  # fmt: skip
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def moment(name: str, value: str) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, f"must be a date (2024-01-31) or ISO time: {value!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class ChosenPeriod:
    """The period a report covers and how it was chosen: given (from/to), all (period=all),
    last (period=<n>d) or default (nothing given: the last 30 days). Every answer shows it."""

    period: Period
    kind: str

    def as_json(self) -> dict[str, str]:
        return {"from": self.period.start.isoformat(), "to": self.period.end.isoformat(),
                "kind": self.kind}  # fmt: skip


def _end_of_today() -> datetime:
    today = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def period(args: Args, client: Client | None = None) -> ChosenPeriod:
    """[from, to); period=all: from the first stored day to the end of the last (needs `client`);
    period=<n>d: the last n days up to the end of today (UTC); by default the last 30 days."""
    to_text, from_text, preset = args.get("to"), args.get("from"), args.get("period")
    if preset:
        if to_text or from_text:
            raise BadParameter("period", "give either period= or from/to, not both")
        return _preset(preset, client)
    end = moment("to", to_text) if to_text else _end_of_today()
    start = moment("from", from_text) if from_text else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise BadParameter("period", "from must be before to")
    return ChosenPeriod(Period(start, end), "given" if to_text or from_text else "default")


def _preset(preset: str, client: Client | None) -> ChosenPeriod:
    last = _LAST_DAYS.match(preset)
    if last and int(last.group(1)) > 0:
        end = _end_of_today()
        return ChosenPeriod(Period(end - timedelta(days=int(last.group(1))), end), "last")
    if preset.strip() != "all" or client is None:
        raise BadParameter("period", f"use period=all or period=<n>d (e.g. 7d), got {preset!r}")
    bounds = client.query("SELECT min(timestamp), max(timestamp) FROM events").result_rows
    first, last_at = bounds[0]
    if first is None or first.year < 1971:  # no events: an empty day, today
        end = _end_of_today()
        return ChosenPeriod(Period(end - timedelta(days=1), end), "all")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    stop = datetime(last_at.year, last_at.month, last_at.day, tzinfo=UTC) + timedelta(days=1)
    return ChosenPeriod(Period(start, stop), "all")


def names(args: Args, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A comma-separated list (also repeatable); blanks dropped."""
    values = args.getall(name)
    if not values:
        return default
    out = tuple(part.strip() for v in values for part in v.split(",") if part.strip())
    return out or default


def filters(args: Args) -> tuple[Filter, ...]:
    return tuple(parse_filter(v) for v in args.getall("filter") + args.getall("filters") if v)


def parse_filter(spec: str) -> Filter:
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise BadParameter("filter", f"expected field:op:value, got {spec!r}")
    field, op, raw = parts[0].strip(), parts[1].strip(), parts[2]
    if op in ("in", "not_in"):
        return Filter(field, cast(Op, op), tuple(v for v in raw.split("|") if v != ""))
    if op in ("gt", "lt"):
        try:
            return Filter(field, cast(Op, op), float(raw))
        except ValueError:
            raise BadParameter("filter.value", f"{op} needs a number, got {raw!r}") from None
    return Filter(field, cast(Op, op), raw)


def funnel_steps(args: Args) -> tuple[Step, ...]:
    """steps= as Steps, each with its own filters from step_filter=<n>:field:op:value."""
    step_names = names(args, "steps")
    own: list[list[Filter]] = [[] for _ in step_names]
    for spec in args.getall("step_filter"):
        if spec:
            number, flt = parse_step_filter(spec, len(step_names))
            own[number - 1].append(flt)
    return tuple(Step(name, tuple(f)) for name, f in zip(step_names, own, strict=True))


def parse_step_filter(spec: str, steps: int) -> tuple[int, Filter]:
    """`<n>:field:op:value` -> (n, Filter); n is 1-based and at most `steps`. The filter is
    checked here (field, operator, value), so every error names step_filter."""
    number_text, colon, rest = spec.partition(":")

    def bad(message: str) -> BadParameter:
        return BadParameter("step_filter", f"step_filter {spec!r}: {message}")

    if not colon:
        raise bad("expected <step>:field:op:value, e.g. 1:utm_source:eq:facebook")
    if not _STEP_NUMBER.match(number_text):
        raise bad(f"the step number must be an integer, got {number_text!r}")
    number = int(number_text)
    if not 1 <= number <= steps:
        raise bad(f"the step number must be from 1 to {steps} (the steps given), got {number}")
    try:
        flt = parse_filter(rest)
        compile_filter(flt, Binder())  # the library's own checks, before any query runs
    except BadParameter as error:
        raise bad(error.message) from None
    return number, flt
