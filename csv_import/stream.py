"""Bytes of a CSV file in, converted rows and bad rows out: header first, then each record."""

from collections.abc import Iterator
from datetime import UTC, datetime

from csv_import.mapping import Mapping, MappingError
from csv_import.records import BadRecord, Record, RecordSplitter
from csv_import.rows import Converted, RowConverter, RowError


class CsvStream:
    """feed(chunk) / finish() return what became complete; raises MappingError on the header."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self._splitter = RecordSplitter(mapping.delimiter)
        self._converter: RowConverter | None = None
        self.rows_read = 0  # data records (not the header), good or bad

    def feed(self, data: bytes) -> list[Converted | RowError]:
        self._splitter.feed(data)
        return list(self._drain())

    def finish(self) -> list[Converted | RowError]:
        self._splitter.finish()
        out = list(self._drain())
        if self._converter is None:
            raise MappingError("the file is empty: no header line")
        return out

    def _drain(self) -> Iterator[Converted | RowError]:
        received_at = datetime.now(UTC)
        for item in self._splitter.records():
            if self._converter is None:
                self._converter = self._header(item)
                continue
            self.rows_read += 1
            if isinstance(item, BadRecord):
                yield RowError(item.line, item.reason)
            else:
                yield self._converter.convert(item, received_at)

    def _header(self, item: Record | BadRecord) -> RowConverter:
        if isinstance(item, BadRecord):
            raise MappingError(f"the header (line {item.line}) is unreadable: {item.reason}")
        return RowConverter(self.mapping, [name.strip() for name in item.fields])
