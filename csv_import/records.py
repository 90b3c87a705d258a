"""Split a text stream, fed in chunks, into CSV records with the line each one starts on.

The same code serves the command (reading a file) and the HTTP endpoint (reading a request
body as it arrives), so memory stays bounded by one chunk plus one record, never by the file.
`csv.reader` pulls lines from a queue; when the queue runs dry in the middle of a record, the
lines it took are put back and the record is parsed again once more text has arrived.
"""

import codecs
import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

# A line longer than this is reported as bad and skipped, so one broken file cannot make the
# importer hold an unbounded amount of text while it waits for a newline.
MAX_LINE_CHARS = 1024 * 1024
csv.field_size_limit(MAX_LINE_CHARS)


@dataclass(frozen=True)
class Record:
    line: int
    fields: list[str]


@dataclass(frozen=True)
class BadRecord:
    line: int
    reason: str


class _NeedMore(Exception):
    """The queue is empty but the stream is not finished."""


class _LineQueue:
    def __init__(self) -> None:
        self.pending: deque[str] = deque()
        self.taken: list[str] = []
        self.finished = False

    def __iter__(self) -> "_LineQueue":
        return self

    def __next__(self) -> str:
        if self.pending:
            line = self.pending.popleft()
            self.taken.append(line)
            return line
        if self.finished:
            raise StopIteration
        raise _NeedMore


class RecordSplitter:
    """feed(bytes)... then finish(); after each call, drain records() for what is complete."""

    def __init__(self, delimiter: str = ",") -> None:
        # utf-8-sig drops a byte-order mark (Excel writes one); bad bytes become U+FFFD and
        # the row is reported, instead of one bad byte stopping the whole import.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._partial = ""  # text after the last newline
        self._skipping_from: int | None = None  # line number of an over-long line being skipped
        self._queue = _LineQueue()
        self._reader = csv.reader(self._queue, delimiter=delimiter, strict=True)
        self._lines_done = 0  # physical lines consumed by complete records
        self._lines_queued = 0
        self._bad: deque[BadRecord] = deque()

    def feed(self, data: bytes) -> None:
        self._add_text(self._decoder.decode(data))

    def finish(self) -> None:
        self._add_text(self._decoder.decode(b"", final=True))
        if self._partial and self._skipping_from is None:
            self._queue.pending.append(self._partial)
        self._partial = ""
        self._queue.finished = True

    def _add_text(self, text: str) -> None:
        start = 0
        while True:
            end = text.find("\n", start)
            if end < 0:
                break
            piece = text[start : end + 1]
            start = end + 1
            self._lines_queued += 1
            if self._skipping_from is not None:
                self._skipping_from = None  # the over-long line ends here (already counted)
                self._queue.pending.append("\n")  # keep line numbering: an empty line
                continue
            self._queue.pending.append(self._partial + piece)
            self._partial = ""
        if self._skipping_from is None:
            self._partial += text[start:]
            if len(self._partial) > MAX_LINE_CHARS:
                line = self._lines_queued + 1
                self._skipping_from = line
                self._partial = ""
                self._bad.append(BadRecord(line, f"line longer than {MAX_LINE_CHARS} characters"))

    def records(self) -> Iterator[Record | BadRecord]:
        while True:
            while self._bad:  # over-long lines, found while splitting
                yield self._bad.popleft()
            queue = self._queue
            queue.taken = []
            start = self._lines_done + 1
            try:
                fields = next(self._reader)
            except _NeedMore:
                queue.pending.extendleft(reversed(queue.taken))
                return
            except StopIteration:
                return
            except csv.Error as error:
                self._lines_done += max(len(queue.taken), 1)
                yield BadRecord(start, f"malformed CSV: {error}")
                continue
            self._lines_done += len(queue.taken)
            if fields:  # csv gives [] for an empty line
                yield Record(start, fields)
