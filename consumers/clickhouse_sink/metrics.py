"""Prometheus metrics of the sink (served on GET /metrics)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
_P = "footfall_sink_"

LAG = Gauge(_P + "consumer_lag", "High watermark minus next offset", ["topic", "partition"],
            registry=REGISTRY)  # fmt: skip
BATCH_SIZE = Histogram(
    _P + "batch_size_rows", "Rows per insert", registry=REGISTRY,
    buckets=(1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000),
)  # fmt: skip
INSERT_SECONDS = Histogram(_P + "insert_seconds", "ClickHouse insert latency", registry=REGISTRY)
ROWS_WRITTEN = Counter(_P + "rows_written", "Rows inserted into ClickHouse", registry=REGISTRY)
SKIPPED = Counter(_P + "records_skipped", "Records at or below the stored offset",
                  registry=REGISTRY)  # fmt: skip
DEAD_LETTERS = Counter(_P + "dead_letters", "Records sent to the DLQ", ["reason"],
                       registry=REGISTRY)  # fmt: skip
DEAD_LETTER_FAILURES = Counter(_P + "dead_letter_failures", "DLQ produces not acked in time",
                               registry=REGISTRY)  # fmt: skip
INSERT_FAILURES = Counter(_P + "insert_failures", "Failed insert attempts (retried)",
                          registry=REGISTRY)  # fmt: skip
COMMITS = Counter(_P + "commits", "Offset commits", ["result"], registry=REGISTRY)
