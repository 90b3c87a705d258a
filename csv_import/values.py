"""Parse the text of one cell: local times in the file's zone, amounts, currency codes."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class CellError(ValueError):
    """Why one cell cannot be used; the row is reported with this reason."""


_POINT_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+")
_COMMA_NUMBER = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?|[+-]?,\d+")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def parse_time(text: str, zone: ZoneInfo, fmt: str | None) -> datetime:
    """A wall-clock time in `zone` (unless the cell has its own offset) -> aware UTC time.

    Of the two instants an ambiguous time names when clocks go back, the earlier one is taken
    (fold=0), as most systems do; a time inside the gap when clocks go forward never
    happened, and is refused rather than guessed.
    """
    text = text.strip()
    if not text:
        raise CellError("timestamp is empty")
    try:
        parsed = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError:
        expected = f"the format {fmt!r}" if fmt else "ISO 8601 (2024-05-31 14:05:00)"
        raise CellError(f"timestamp {text[:40]!r} does not match {expected}") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    local = parsed.replace(tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != parsed:
        raise CellError(f"timestamp {text!r} does not exist in {zone.key} (clocks moved forward)")
    return utc


def parse_amount(text: str, decimal_comma: bool) -> float:
    """`1234.5`, `1,234.50`; with decimal_comma `1234,5`, `1.234,50`."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    pattern = _COMMA_NUMBER if decimal_comma else _POINT_NUMBER
    if not pattern.fullmatch(cleaned):
        hint = "" if decimal_comma or "," not in cleaned else " (set decimal_comma for 12,50)"
        raise CellError(f"value {text[:40]!r} is not a number{hint}")
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    return float(cleaned)


def parse_currency(text: str) -> str:
    code = text.strip()
    if not _CURRENCY.fullmatch(code):
        raise CellError(f"currency {text[:20]!r} is not a three-letter ISO 4217 code")
    return code.upper()
