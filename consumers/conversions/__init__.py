"""Conversions uploader: purchases from Kafka to Meta CAPI and Google Ads, once per order.

Run as `python -m consumers.conversions` (or `... replay`, `... backfill`). It runs on
consumers.runtime: worker.py (the handler: intake, waiting for the sink, resolution, safe
offsets), sources.py (the live `events` source, the replay of conversions_dlq, the back-fill of a
period), periods.py (which purchases a run sends: from the enable time by default), uploader.py
(one per platform: batches, breaker, backoff), click_slots.py (Google click seconds), tasks.py
(items, tasks and how they end), ledger.py (exactly once, durable totals), resolve.py (identity
and click ids), outcomes.py (the Platform protocol), platforms.py (Meta and Google payloads) and
google_answers.py (Google's errors as outcomes).
"""
