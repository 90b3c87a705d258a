"""Where the schema data lives (the top-level `avro/` folder, overridable for packaged installs)."""

import os
from pathlib import Path


def schema_dir() -> Path:
    override = os.environ.get("FOOTFALL_SCHEMA_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "avro"
