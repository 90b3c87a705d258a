"""Where the schema data lives: FOOTFALL_SCHEMA_DIR if set; else `eventschema/avro/` when this is
an installed SDK wheel (sdk/pyproject.toml ships the schemas there); else the checkout's
top-level `avro/` folder."""

import os
from pathlib import Path


def schema_dir() -> Path:
    override = os.environ.get("FOOTFALL_SCHEMA_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    packaged = here / "avro"
    if (packaged / "topics.json").is_file():
        return packaged
    return here.parent / "avro"
