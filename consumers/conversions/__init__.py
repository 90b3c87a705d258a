"""Conversions uploader: purchases from Kafka to Meta CAPI and Google Ads, once per order.

Run as `python -m consumers.conversions` (or `... replay`). It runs on consumers.runtime:
worker.py (the handler: intake, waiting for the sink, resolution, safe offsets), sources.py (the
live `events` source and the replay of conversions_dlq), uploader.py (one per platform: batches,
breaker, backoff), tasks.py (items, tasks and how they end), ledger.py (exactly once),
resolve.py (identity and click ids), outcomes.py (the Platform protocol) and platforms.py (Meta
and Google payloads and error classification).
"""
