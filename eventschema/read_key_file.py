"""The local read key `footfall up` keeps at <FOOTFALL_DATA_DIR>/secrets/read_key, for the local
tools that read through the sink's /query (the CLI, the analytics server, conversions)."""

import os
from pathlib import Path

from eventschema.paths import data_dir


def local_read_key(directory: Path | None = None) -> str | None:
    """The key in <data dir>/secrets/read_key, or None when there is no such (readable) file."""
    path = (directory or data_dir()) / "secrets" / "read_key"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def read_key(*env_names: str) -> str | None:
    """The first of `env_names` that is set, else the local key file."""
    for name in env_names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return local_read_key()
