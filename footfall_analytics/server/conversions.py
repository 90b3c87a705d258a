"""The conversions uploader's state for the dashboard, read from its Prometheus metrics.

The uploader keeps its ledger in Kafka, not ClickHouse, so its own /metrics (which it serves on
FOOTFALL_CONVERSIONS_URL) is the one place that knows what was seen, uploaded and dead-lettered.
"""

from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from footfall_analytics.server.settings import DEFAULT_CONVERSIONS_URL

PREFIX = "footfall_conversions_"
COUNTS = ("seen", "uploaded", "duplicates", "retried", "dead_lettered", "skipped")
BREAKER = {0.0: "closed", 1.0: "half-open", 2.0: "open"}


def conversions_status(url: str = DEFAULT_CONVERSIONS_URL) -> dict[str, Any]:
    """`url`: the uploader's base URL (FOOTFALL_CONVERSIONS_URL, settings.py)."""
    try:
        answer = httpx.get(f"{url}/metrics", timeout=2.0)
        answer.raise_for_status()
    except httpx.HTTPError:
        return {"configured": False, "status": "not configured", "platforms": []}
    return {"configured": True, "status": "running", "platforms": summarize(answer.text)}


def summarize(exposition: str) -> list[dict[str, Any]]:
    """Per platform: counters summed over their other labels (since the uploader started), the
    ledger's totals (`totals`: since the first upload, unaffected by restarts), the breaker and
    the oldest pending age."""
    platforms: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for family in text_string_to_metric_families(exposition):
        name = family.name.removeprefix(PREFIX)
        for sample in family.samples:
            platform = sample.labels.get("platform")
            if platform is None:
                continue
            entry = platforms[platform]
            if name in COUNTS and sample.name.endswith("_total"):
                entry[name] += int(sample.value)
                if name == "dead_lettered":
                    reasons = entry.setdefault("dead_letter_reasons", {})
                    reason = sample.labels.get("reason", "")
                    reasons[reason] = reasons.get(reason, 0) + int(sample.value)
            elif name == "ledger_orders":  # totals since the ledger began: survive restarts
                entry.setdefault("totals", {})[sample.labels.get("outcome", "")] = int(sample.value)
            elif name == "breaker_state":
                entry["breaker"] = BREAKER.get(sample.value, str(sample.value))
            elif name == "oldest_pending_seconds":
                entry["oldest_pending_seconds"] = sample.value
    return [{"platform": name, **values} for name, values in sorted(platforms.items())]
