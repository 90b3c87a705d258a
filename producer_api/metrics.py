"""Prometheus metrics of the API (served at GET /metrics)."""

from prometheus_client import Counter, Histogram, disable_created_metrics

# The _created series double every metric and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter("footfall_api_requests_total", "HTTP requests", ["route", "status"])
EVENTS = Counter("footfall_api_events_total", "Events by outcome", ["outcome"])
KAFKA_DELIVERY_FAILURES = Counter(
    "footfall_api_kafka_delivery_failures_total", "Messages Kafka did not acknowledge", ["reason"]
)
REQUEST_SECONDS = Histogram(
    "footfall_api_request_seconds",
    "Time from request to answer, including the Kafka acknowledgement",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
RATE_LIMITED = Counter("footfall_api_rate_limited_total", "Requests answered 429", ["scope"])
