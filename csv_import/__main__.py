"""`python -m csv_import FILE --mapping mapping.json [--api URL --key SERVER_KEY]`.

Exit status: 0 when the whole file was read (even if some rows were bad: they are listed),
1 when the API did not take the events, 2 for a bad mapping or an unreadable file.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from tqdm import tqdm

from csv_import.mapping import MappingError, load_mapping
from csv_import.rows import Converted, RowError
from csv_import.send import Batcher, Sender, SendError
from csv_import.stream import CsvStream

CHUNK_BYTES = 1024 * 1024


@dataclass
class Summary:
    rows_read: int = 0
    imported: int = 0
    bad_rows: int = 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m csv_import", description=__doc__)
    parser.add_argument("file", help="the CSV file (UTF-8, first line = column names)")
    parser.add_argument("--mapping", required=True, help="the column mapping (JSON file)")
    parser.add_argument(
        "--api", default=os.environ.get("FOOTFALL_API_URL", "http://127.0.0.1:8080")
    )
    parser.add_argument(
        "--key", default=os.environ.get("FOOTFALL_SERVER_KEY"), help="a server (secret) key"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(argv)
    if not args.key:
        print("error: give a server key with --key or FOOTFALL_SERVER_KEY", file=sys.stderr)
        return 2
    sender = Sender(args.api, args.key)
    try:
        summary = run(args.file, args.mapping, sender, out, progress=not args.no_progress)
    except MappingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    except SendError as error:
        print(f"error: {error} (importing again is safe: nothing is doubled)", file=sys.stderr)
        return 1
    finally:
        sender.close()
    print(
        f"rows read: {summary.rows_read}, imported: {summary.imported}, "
        f"bad rows: {summary.bad_rows}",
        file=out,
    )
    return 0


def run(path: str, mapping_path: str, sender: Sender, out: TextIO, progress: bool) -> Summary:
    mapping = load_mapping(mapping_path)
    summary = Summary()
    stream = CsvStream(mapping)
    batcher = Batcher()

    def report(bad: list[RowError]) -> None:
        for error in bad:  # as they are found: a huge file's bad rows are never all in memory
            tqdm.write(f"line {error.line}: {error.reason}", file=out)
        summary.bad_rows += len(bad)

    def send(rows: list[Converted]) -> None:
        result = sender.post(rows)
        summary.imported += result.accepted
        report(result.bad_rows)

    def handle(items: list[Converted | RowError]) -> None:
        report([item for item in items if isinstance(item, RowError)])
        for item in items:
            if isinstance(item, Converted) and (full := batcher.add(item)):
                send(full)

    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        with tqdm(total=size, unit="B", unit_scale=True, disable=not progress or None) as bar:
            while chunk := file.read(CHUNK_BYTES):
                handle(stream.feed(chunk))
                bar.update(len(chunk))
            handle(stream.finish())
    if batcher.rows:
        send(batcher.take())
    summary.rows_read = stream.rows_read
    return summary


if __name__ == "__main__":
    sys.exit(main())
