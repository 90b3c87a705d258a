"""SQL building blocks. Every value travels as a ClickHouse query parameter ({name:Type});
identifiers come only from FIELDS. Nothing from a caller is ever pasted into SQL text."""

import re
from datetime import UTC, datetime, timedelta

from eventschema.stored_columns import CLICK_ID_COLUMNS, UTM_COLUMNS
from footfall_analytics.errors import BadParameter
from footfall_analytics.params import Filter, Period, Scalar

CLICK_IDS = CLICK_ID_COLUMNS
UTM = UTM_COLUMNS
# The rules of 0002 (footfall_channel, footfall_is_touch, footfall_ref_host) and the section are
# stored per event at insert by migration 0004 (MATERIALIZED columns): computing them at query
# time dominated the reports.
CHANNEL = "ff_channel"
IS_TOUCH = "(ff_is_touch != 0)"
REF_HOST = "ff_ref_host"
SECTION = "ff_section"

# UTM values compare ignoring case everywhere (filters, breakdowns, top campaigns, attribution,
# the founding question), as the channel rules do: `Facebook` and `facebook` are one source. They
# are shown in lower case (the canonical label); the stored value keeps its case.
CASELESS = frozenset(UTM)
# Filter and breakdown fields -> SQL expressions over the resolved events (the allowlist).
FIELDS: dict[str, str] = {
    "event": "event",
    "type": "type",
    "source": "source",
    "page_url": "page_url",
    "page_path": "page_path",
    "referrer": "page_referrer",
    "referrer_host": REF_HOST,
    "channel": CHANNEL,
    "section": SECTION,
    "library_name": "library_name",
    **{name: f"lowerUTF8({name})" for name in UTM},
    **{name: name for name in CLICK_IDS},
}
_PROPERTY = re.compile(r"^properties\.([A-Za-z0-9_$][A-Za-z0-9_$.\- ]{0,63})$")
_EVENT_NAME_MAX = 200
_VALUE_MAX = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The columns the reports read, selected from events FINAL inside the time filter: a subset of
# eventschema.stored_columns plus columns later migrations derive from them (ff_*).
REPORT_COLUMNS: tuple[str, ...] = (
    "message_id", "type", "event", "anonymous_id", "user_id", "timestamp", "page_url", "page_path",
    "page_referrer", *UTM, *CLICK_IDS, "properties", "source", "library_name",
    "ff_channel", "ff_is_touch", "ff_ref_host", "ff_section", "ff_revenue",
)  # fmt: skip
# What every resolved row needs: its time and its person's keys.
_ALWAYS = ("timestamp", "ff_anon_key", "ff_user_key")
# An event's person: 'u:<user_id>', else 'u:<linked user id>', else 'a:<anonymous_id>', else ''.
# `m` is identity_keys joined on the anonymous key (see resolved_events).
PERSON = (
    "multiIf(footfall_valid_id(e.user_id), concat('u:', e.user_id), "
    "m.user_id != '', concat('u:', m.user_id), "
    "footfall_valid_id(e.anonymous_id), concat('a:', e.anonymous_id), '')"
)
# The same person as a UInt64 key (migration 0005), 0 for none: what the reports group and count.
PERSON_KEY = (
    "multiIf(e.ff_user_key != 0, e.ff_user_key, m.user_key != 0, m.user_key, e.ff_anon_key)"
)

# Per-person arrays of (time, value) pairs are packed into one Int64 each: (ms - base) * PACK + the
# value's code, its 1-based index in the sorted distinct values (0: no value). Arrays of
# (Int64, String) tuples made the reports' aggregation 2-3x slower to build and sort, and the packed
# order is the same (time, then value). Times are ms after `base` (< 2^41 ms: about 69 years).
PACK = 4_194_304  # 2^22 distinct values at most


_LOWERED = re.compile(r"^lowerUTF8\((\w+)\)$")


def distinct_values(expr: str, where: str) -> str:
    """A scalar subquery: the sorted distinct non-empty values of `expr` over all stored events
    matching `where`. Values outside a report's period only add unused codes, and leaving the
    time filter out halves the cost. No FINAL needed: a duplicate adds no value. A caseless
    field's column is lowered after DISTINCT: once per value, not once per row."""
    lowered = _LOWERED.match(expr)
    column, each = expr, "groupArray(d)"
    if lowered:
        column, each = lowered.group(1), "arrayDistinct(arrayMap(x -> lowerUTF8(x), groupArray(d)))"
    return (
        f"(SELECT v FROM (SELECT arraySort({each}) AS v FROM (SELECT DISTINCT "
        f"toString({column}) AS d FROM events WHERE ({where}) AND d != '')) "
        f"WHERE throwIf(length(v) >= {PACK}, 'more distinct values than a report can hold') = 0)"
    )


def value_code(expr: str, values: str) -> str:
    """The code of `expr`'s value in `values` (a distinct_values array): 1-based, 0 for ''. For a
    caseless field, each stored spelling is mapped to its lowered value's code once (a constant
    array), so rows are looked up raw, with no lowerUTF8 per row."""
    lowered = _LOWERED.match(expr)
    if not lowered:
        return f"transform(toString({expr}), {values}, arrayEnumerate({values}), 0)"
    column = lowered.group(1)
    raws = f"(SELECT groupUniqArray(toString({column})) FROM events WHERE {column} != '')"
    codes = f"arrayMap(x -> toUInt32(indexOf({values}, lowerUTF8(x))), {raws})"
    return f"transform(toString({column}), {raws}, {codes}, toUInt32(0))"


class Binder:
    """Collects query parameters; bind() returns the {pN:Type} placeholder for a value."""

    def __init__(self) -> None:
        self.parameters: dict[str, object] = {}

    def bind(self, value: object, ch_type: str) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f"{{{name}:{ch_type}}}"

    def time(self, value: datetime) -> str:
        return self.bind(utc(value), "DateTime64(3, 'UTC')")

    def ms(self, value: datetime) -> str:
        """A time as epoch milliseconds (Int64), to compare with toUnixTimestamp64Milli()."""
        return self.bind(int((utc(value) - EPOCH).total_seconds() * 1000), "Int64")


def utc(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise BadParameter("time", f"expected a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_period(period: Period) -> None:
    if utc(period.start) >= utc(period.end):
        raise BadParameter("period", "start must be before end")


def check_positive(name: str, value: timedelta, maximum: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise BadParameter(name, "must be a positive duration")
    if value > maximum:
        raise BadParameter(name, f"must be at most {maximum}")


def check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}")


def check_name(name: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > _EVENT_NAME_MAX:
        raise BadParameter(name, f"must be a non-empty string of at most {_EVENT_NAME_MAX} chars")
    if any(ord(ch) < 32 for ch in value):
        raise BadParameter(name, "must not contain control characters")


def field_expr(name: str, binder: Binder, what: str = "field") -> str:
    """The SQL expression for an allowlisted field or `properties.<key>` (key bound)."""
    if not isinstance(name, str):
        raise BadParameter(what, "must be a string")
    if name in FIELDS:
        return FIELDS[name]
    match = _PROPERTY.match(name)
    if match:
        return f"JSONExtractString(properties, {binder.bind(match.group(1), 'String')})"
    allowed = ", ".join(sorted(FIELDS))
    raise BadParameter(what, f"unknown field {name!r}; use one of {allowed} or properties.<key>")


def _scalar(value: object) -> Scalar:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadParameter("filter.value", "must be a string or a number")
    if isinstance(value, str) and len(value) > _VALUE_MAX:
        raise BadParameter("filter.value", f"at most {_VALUE_MAX} characters")
    return value


def compile_filter(flt: Filter, binder: Binder) -> str:
    expr = field_expr(flt.field, binder, "filter.field")
    op, value = flt.op, flt.value
    # A caseless field's expression is lowerUTF8(column): its values are lowered the same way.
    caseless = flt.field in CASELESS
    if op in ("in", "not_in"):
        if not isinstance(value, tuple | list) or not value or len(value) > 1000:
            raise BadParameter("filter.value", f"{op} needs a non-empty list (at most 1000)")
        values = [str(_scalar(v)) for v in value]
        keyword = "IN" if op == "in" else "NOT IN"
        bound = binder.bind(values, "Array(String)")
        return f"{expr} {keyword} " + (f"arrayMap(x -> lowerUTF8(x), {bound})" if caseless
                                       else bound)  # fmt: skip
    if isinstance(value, tuple | list):
        raise BadParameter("filter.value", f"{op} needs a single value")
    scalar = _scalar(value)
    if op in ("eq", "neq"):
        sign = "=" if op == "eq" else "!="
        bound = binder.bind(str(scalar), "String")
        return f"{expr} {sign} " + (f"lowerUTF8({bound})" if caseless else bound)
    if op == "contains":
        return f"positionCaseInsensitiveUTF8({expr}, {binder.bind(str(scalar), 'String')}) > 0"
    if op in ("gt", "lt"):
        if isinstance(scalar, str):
            raise BadParameter("filter.value", f"{op} needs a number")
        sign = ">" if op == "gt" else "<"
        return f"toFloat64OrNull({expr}) {sign} {binder.bind(float(scalar), 'Float64')}"
    raise BadParameter("filter.op", f"unknown operator {op!r}")


def compile_filters(filters: tuple[Filter, ...], binder: Binder) -> str:
    if not isinstance(filters, tuple | list):
        raise BadParameter("filters", "must be a list of filters")
    parts = [compile_filter(f, binder) for f in filters]
    return " AND ".join(f"({p})" for p in parts) if parts else "1"


def resolved_events(binder: Binder, start: datetime, end: datetime, uses: str = "") -> str:
    """A subquery: deduplicated events in [start, end) with their person_key and person_id (late
    links apply). `uses`: every expression the caller will evaluate over it, joined by spaces;
    only the columns named there are selected (with FINAL, ClickHouse reads every column the
    subquery selects), and person_id (two id strings per row) only when named. A column left out
    by mistake fails loudly (unknown identifier). Empty: every report column and person_id."""
    wanted = [c for c in REPORT_COLUMNS if not uses or re.search(rf"\b{c}\b", uses)]
    person_id = ""
    if not uses or re.search(r"\bperson_id\b", uses):
        wanted += ["anonymous_id", "user_id"]
        person_id = f", {PERSON} AS person_id"
    columns = ", ".join(dict.fromkeys([*_ALWAYS, *wanted]))
    return (
        f"(SELECT e.*, {PERSON_KEY} AS person_key{person_id} "
        f"FROM (SELECT {columns} FROM events FINAL WHERE timestamp >= {binder.time(start)} "
        f"AND timestamp < {binder.time(end)}) AS e "
        # identity_keys has one row per anonymous key: ANY gives the same rows, a bit faster. A
        # join, not transform() over the map as constant arrays: that was faster with 100k
        # links and four times slower with 450k.
        "LEFT ANY JOIN identity_keys AS m ON e.ff_anon_key = m.anon_key)"
    )
