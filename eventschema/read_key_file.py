"""The local read key `footfall up` keeps at <FOOTFALL_DATA_DIR>/secrets/read_key, for the local
tools that read through the sink's /query (the CLI, the analytics server, conversions)."""

from pathlib import Path

from eventschema.paths import data_dir


def local_read_key(directory: Path | None = None) -> str | None:
    """The key in <data dir>/secrets/read_key, or None when there is no such (readable) file."""
    path = (directory or data_dir()) / "secrets" / "read_key"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
