"""The event contract shared by the producer API and the consumers.

Schema loading, the Avro single-object codec, the validated event model, Kafka header names
and topic definitions. It imports nothing from `producer_api` or `consumers`.
"""

from eventschema.codec import DecodeError, EventCodec
from eventschema.model import Event
from eventschema.validation import ValidationError, validate_message

__all__ = ["DecodeError", "Event", "EventCodec", "ValidationError", "validate_message"]
