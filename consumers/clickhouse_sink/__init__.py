"""Kafka `events` topic -> ClickHouse/chDB `events` table, effectively once.

Why a hand-written confluent-kafka loop instead of sentry-arroyo 2.48 (installed, evaluated):
- arroyo's DLQ policy drops the message when the dead-letter produce fails; we must stop at that
  offset (no commit past it) and retry later instead.
- arroyo's Reduce/BatchStep batches across partitions. We batch per partition so that each insert
  covers one contiguous offset range: that makes the insert_deduplication_token deterministic and
  lets a restarted sink skip exactly the offsets already stored (max(kafka_offset) per partition).
What we would have reused (commit throttling, pause-on-backpressure) is a few lines here.

Modules: config (env), processor (pure record -> row mapping), migrations (versioned SQL runner),
writer (ClickHouse insert + stored offsets), dead_letters (DLQ producer), loop (consumer state
machine), metrics, http_server (/healthz, /metrics, read-only /query), __main__ (wiring).
"""
