"""Which purchases a run uploads, per platform, by the purchase's timestamp.

Turning credentials on must not upload the shop's history. By default
(FOOTFALL_CONVERSIONS_START_FROM=enable) the live uploader sends a platform only the purchases
from the moment it first ran with that platform's credentials (kept in the ledger, so restarts
keep it); older ones are skipped as `before_enable` (not dead-lettered: nothing is wrong with
them). `all` sends every purchase it reads (within the platform's window), an ISO-8601 time those
from then on. History is sent on purpose with `python -m consumers.conversions backfill
--platform P --from T [--to T]`, which refuses a period the platform would not accept (Meta:
event_time at most FOOTFALL_META_MAX_AGE_DAYS old, 7 by default, less an hour of margin; Google: a
click at most 90 days before the conversion, so no conversion older than that).
"""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from consumers.conversions.config import ConversionsConfig
from consumers.conversions.ledger import Ledger
from consumers.conversions.outcomes import Platform

GOOGLE_WINDOW_DAYS = 90.0  # the longest click-through window Google Ads accepts


@dataclass(frozen=True)
class Period:
    since: float  # epoch seconds, inclusive
    until: float = math.inf  # exclusive
    reason: str = "before_enable"  # the skip reason of a purchase outside

    def holds(self, at: datetime) -> bool:
        return self.since <= at.timestamp() < self.until


def parse_time(text: str) -> datetime:
    """ISO-8601; a time without an offset is UTC."""
    at = datetime.fromisoformat(text.strip())
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def live_periods(
    config: ConversionsConfig, ledger: Ledger, platforms: list[Platform]
) -> dict[str, Period]:
    """Per platform: the purchases the live uploader sends."""
    if config.start_from == "all":
        return {}
    if config.start_from != "enable":
        since = parse_time(config.start_from).timestamp()
        return {p.name: Period(since, reason="before_start") for p in platforms}
    out: dict[str, Period] = {}
    for p in platforms:  # a dry run leaves no trace: it starts now
        since = time.time() if config.dry_run else ledger.enabled_at(p.name, p.account)
        out[p.name] = Period(since)
    return out


def window(config: ConversionsConfig, platform: str) -> timedelta:
    """How old a purchase the platform still accepts (Meta: less the uploader's safety margin)."""
    if platform == "meta" and config.meta is not None:
        meta = config.meta
        return timedelta(days=meta.max_age_days, seconds=-meta.age_margin_seconds)
    if platform == "google" and config.google is not None:
        return timedelta(days=GOOGLE_WINDOW_DAYS)
    raise ValueError(f"{platform} has no credentials (FOOTFALL_META_* / FOOTFALL_GOOGLE_ADS_*)")


def backfill_period(
    config: ConversionsConfig, platform: str, since: datetime, until: datetime, now: datetime
) -> Period:
    """The period to back-fill, or ValueError when the platform would refuse part of it."""
    oldest = now - window(config, platform)
    if since < oldest:
        raise ValueError(
            f"--from {since.isoformat()} is older than {platform} accepts: "
            f"use {oldest.replace(microsecond=0).isoformat()} or later"
        )
    if until <= since:
        raise ValueError("--to must be after --from")
    return Period(since.timestamp(), until.timestamp(), "outside_backfill")
