"""Kafka `events` topic -> ClickHouse/chDB `events` table, effectively once.

Why our own small runtime (consumers.runtime) instead of sentry-arroyo. Re-checked against arroyo
2.48.0 (the current release on PyPI, read from its wheel); both reasons still hold:
- arroyo's DLQ policy drops the message when the dead-letter produce fails
  (StreamProcessor._handle_invalid_message logs "... to DLQ topic, dropping" and counts
  arroyo.consumer.dlq.dropped_messages); we must stop at that offset (no commit past it) and
  retry later instead.
- arroyo's Reduce/BatchStep keeps one accumulator for all partitions. We batch per partition so
  that each insert covers one contiguous offset range: that makes the insert_deduplication_token
  deterministic and lets a restarted sink skip exactly the offsets already stored
  (max(kafka_offset) per partition). One insert may still carry several partitions' batches,
  each its own contiguous range, under one token naming every range (combined.py).
The uploader does not fit arroyo's model either: a record ends only when every platform's task
ended, so its safe offset is the lowest unfinished record, not the last one passed downstream.
What arroyo would give us (commit throttling, pause on backpressure) is a few lines in the runtime.

Modules: config (env), processor (per-record checks of the slow path), avro_block (raw Avro
containers), migrations (versioned SQL runner), writer (ClickHouse insert + stored offsets),
dead_letters (DLQ producer), partitions (per-partition state), batches (one partition's batch
into ClickHouse), combined (several partitions' batches in one insert), loop (the handler on
consumers.runtime), metrics, query_service and http_server (/healthz, /metrics, read-only
/query), __main__ (wiring).
"""
