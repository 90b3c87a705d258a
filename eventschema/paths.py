"""Where things live. The project-local data: FOOTFALL_DATA_DIR, else <checkout>/.footfall.

The schema data: FOOTFALL_SCHEMA_DIR if set; else `eventschema/avro/` when this is
an installed SDK wheel (sdk/pyproject.toml ships the schemas there); else the checkout's
top-level `avro/` folder."""

import os
from collections.abc import Mapping
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


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """FOOTFALL_DATA_DIR, or <checkout>/.footfall; always absolute (the broker needs that)."""
    override = (os.environ if env is None else env).get("FOOTFALL_DATA_DIR")
    return (
        Path(override).resolve()
        if override
        else Path(__file__).resolve().parent.parent / ".footfall"
    )
