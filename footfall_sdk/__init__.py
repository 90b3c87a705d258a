"""Server-side tracking: an HTTP client, a direct Kafka producer, request-id middleware.

It depends on `eventschema` only (never on `producer_api` or `consumers`), so a back end can
install it without the server.
"""

from footfall_sdk.http_client import Client
from footfall_sdk.kafka_producer import DeliveryError, KafkaEventProducer
from footfall_sdk.middleware import RequestIdASGIMiddleware, RequestIdWSGIMiddleware
from footfall_sdk.request_context import current_request_id, request_id_scope

__all__ = [
    "Client",
    "DeliveryError",
    "KafkaEventProducer",
    "RequestIdASGIMiddleware",
    "RequestIdWSGIMiddleware",
    "current_request_id",
    "request_id_scope",
]
