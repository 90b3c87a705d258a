"""Load the versioned event schemas from `avro/` and index them by fingerprint."""

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from eventschema.paths import schema_dir

_FILE_PATTERN = re.compile(r"^footfall\.event\.v(\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    parsed: Any  # fastavro's parsed schema (a dict it understands)
    fingerprint: bytes  # CRC-64-AVRO, 8 bytes little-endian, as written on the wire

    @property
    def label(self) -> str:
        return f"footfall.Event/v{self.version}/{self.fingerprint.hex()}"


def _load(path: Path, version: int) -> SchemaVersion:
    # Each version is parsed with its own name table: v1 and v2 both define footfall.Event.
    parsed = parse_schema(json.loads(path.read_text()), named_schemas={})
    canonical = to_parsing_canonical_form(parsed)
    return SchemaVersion(version, parsed, bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")))


@cache
def event_schemas(directory: Path | None = None) -> dict[int, SchemaVersion]:
    """All event schema versions found in the schema folder, by version number."""
    folder = directory or schema_dir()
    found: dict[int, SchemaVersion] = {}
    for path in sorted(folder.glob("footfall.event.v*.avsc")):
        match = _FILE_PATTERN.match(path.name)
        if match:
            version = int(match.group(1))
            found[version] = _load(path, version)
    if not found:
        raise FileNotFoundError(f"no footfall.event.v*.avsc schemas in {folder}")
    return found


def latest_schema() -> SchemaVersion:
    schemas = event_schemas()
    return schemas[max(schemas)]
