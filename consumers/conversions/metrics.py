"""Prometheus metrics of the uploader (GET /metrics on FOOTFALL_CONVERSIONS_HTTP_PORT)."""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()
_P = "footfall_conversions_"

SEEN = Counter(_P + "seen", "Conversion events read", ["platform"], registry=REGISTRY)
UPLOADED = Counter(_P + "uploaded", "Accepted by the platform", ["platform"], registry=REGISTRY)
DUPLICATES = Counter(_P + "duplicates", "Known already (ledger or platform answer)",
                     ["platform", "where"], registry=REGISTRY)  # fmt: skip
RETRIED = Counter(_P + "retried", "Retried conversions", ["platform", "reason"], registry=REGISTRY)
DEAD_LETTERED = Counter(_P + "dead_lettered", "Sent to conversions_dlq", ["platform", "reason"],
                        registry=REGISTRY)  # fmt: skip
SKIPPED = Counter(_P + "skipped", "Nothing to match on for the platform", ["platform", "reason"],
                  registry=REGISTRY)  # fmt: skip
UPLOAD_SECONDS = Histogram(_P + "upload_seconds", "Upload request latency", ["platform"],
                           registry=REGISTRY)  # fmt: skip
BREAKER = Gauge(_P + "breaker_state", "0 closed, 1 half-open, 2 open", ["platform"],
                registry=REGISTRY)  # fmt: skip
OLDEST_PENDING = Gauge(_P + "oldest_pending_seconds", "Age of the oldest undelivered conversion",
                       registry=REGISTRY)  # fmt: skip
SINK_WAIT = Histogram(_P + "sink_wait_seconds", "Wait for the sink to catch up",
                      registry=REGISTRY)  # fmt: skip
SINK_WAIT_TIMEOUTS = Counter(_P + "sink_wait_timeouts", "Resolved before the sink caught up",
                             registry=REGISTRY)  # fmt: skip
ALERTS = Counter(_P + "alerts", "Errors needing a human (credentials, permissions, actions)",
                 ["platform", "reason"], registry=REGISTRY)  # fmt: skip
REFUSED = Counter(_P + "refused", "Conversion events not uploaded to any platform",
                  ["reason"], registry=REGISTRY)  # fmt: skip

OUTCOMES = ("uploaded", "duplicate", "dead_lettered")


class LedgerTotals(Collector):
    """footfall_conversions_ledger_orders{platform, outcome}: orders counted from the ledger
    (ledger.py), so the totals an operator graphs survive restarts (unlike the _total counters,
    which restart at 0 and are for rate()/increase())."""

    def __init__(self, platforms: list[str], totals: Callable[[], dict[tuple[str, str], int]]):
        self.platforms = platforms
        self.totals = totals

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(_P + "ledger_orders", "Orders by how they ended (the ledger)",
                                   labels=["platform", "outcome"])  # fmt: skip
        counts = self.totals()
        for platform in self.platforms:
            for outcome in OUTCOMES:
                family.add_metric([platform, outcome], counts.get((platform, outcome), 0))
        yield family


def export_totals(platforms: list[str], totals: Callable[[], dict[tuple[str, str], int]]) -> None:
    REGISTRY.register(LedgerTotals(platforms, totals))
