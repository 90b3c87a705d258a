"""Conversions uploader: purchases from Kafka to Meta CAPI and Google Ads, once per order.

Run as `python -m consumers.conversions`; see worker.py (the loop), ledger.py (exactly once),
resolve.py (identity and click ids), platforms.py (payloads and error classification).
"""
