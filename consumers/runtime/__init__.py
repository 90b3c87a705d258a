"""The consumer runtime shared by the ClickHouse sink and the conversions uploader.

One place for what every Footfall consumer does around its records: build the consumer and start
a source (sources: subscribe with assign/revoke/lost callbacks, or assign by hand), poll and hand
records to a handler (loop, handler), fail on fatal errors (kafka), commit only what the handler
says is safe, throttled (commits), back off with full jitter (backoff), pause for backpressure or
to retry one partition (pausing), write dead letters and wait for their ack (dead_letters),
stop in order (drain, last commit, close), and serve /healthz and /metrics (status_http).

Why not sentry-arroyo (re-checked against 2.48.0, the current release): see
consumers/clickhouse_sink/__init__.py.
"""
