"""How an event entered Footfall (the `entry` field, Avro v3, ClickHouse column `entry`).

The API sets it from the caller's key: a public browser key, a secret server key, or the CSV import
routes (server keys only). Anything else on the topic was written by a direct Kafka producer (the
SDK's KafkaEventProducer, or an older writer without the field), hence the default `kafka`.
The uploader sends only conversions whose entry it trusts: anyone can use a browser key.
"""

from collections.abc import Iterable

BROWSER_KEY = "browser_key"
SERVER_KEY = "server_key"
CSV_IMPORT = "csv_import"
KAFKA = "kafka"
ENTRIES = (BROWSER_KEY, SERVER_KEY, CSV_IMPORT, KAFKA)
DEFAULT_TRUSTED_ENTRIES = frozenset({SERVER_KEY, CSV_IMPORT, KAFKA})


def parse_entries(text: str) -> frozenset[str]:
    """`server_key,csv_import` -> the set; an unknown name is a configuration error."""
    return entries(part.strip() for part in text.split(",") if part.strip())


def entries(names: Iterable[str]) -> frozenset[str]:
    found = frozenset(names)
    unknown = sorted(found - set(ENTRIES))
    if unknown:
        raise ValueError(f"unknown entries {unknown}: use {', '.join(ENTRIES)}")
    return found
