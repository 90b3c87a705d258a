"""Import offline events (e.g. purchases in a physical shop) from a CSV file.

`mapping` says which column is what, `records` splits a text stream into CSV records with their
line numbers, `rows` turns one record into a Segment track message (or says why not), `send`
posts batches to the API. The HTTP endpoint `producer_api.csv_endpoint` reuses the first three.
"""

from csv_import.mapping import Mapping, MappingError, load_mapping, parse_mapping
from csv_import.rows import RowConverter, RowError

__all__ = ["Mapping", "MappingError", "RowConverter", "RowError", "load_mapping", "parse_mapping"]
