"""One random salt per UTC day for cookieless visitor ids, kept in files only, never in events.

Each day's salt is a file `<dir>/<YYYY-MM-DD>` holding 32 random bytes (mode 0600). Several API
processes (FOOTFALL_API_WORKERS, or several hosts sharing the directory) must use the same salt:
whichever is first writes the salt to a private temporary file and links it to the day's name,
which fails when the name exists (an exclusive create, like O_EXCL, but the file appears with
its whole content, so no reader ever sees it half written); the others read the winner's file.
When a process first loads a day's salt it deletes the files of days before yesterday, so an old
day's visitor ids can no longer be recomputed from the disk.
"""

import contextlib
import os
import secrets
from datetime import date, timedelta
from pathlib import Path

SALT_BYTES = 32


class DailySalts:
    """The salt of each UTC day, from (and into) one directory, cached in this process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[date, bytes] = {}

    def salt_for(self, day: date) -> bytes:
        found = self._cache.get(day)
        if found is None:
            found = self._load_or_create(day)
            self._prune(day)
            # Only today and yesterday are ever asked for (events of a request in flight at
            # midnight): older salts leave the memory too.
            self._cache = {d: s for d, s in self._cache.items() if d >= day - timedelta(days=1)}
            self._cache[day] = found
        return found

    def path_for(self, day: date) -> Path:
        return self.directory / day.isoformat()

    def _load_or_create(self, day: date) -> bytes:
        path = self.path_for(day)
        existing = _read_salt(path)
        if existing is not None:
            return existing
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".{day.isoformat()}.{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(SALT_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            # Atomic, and fails when another process won: then its salt is the day's.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        salt = _read_salt(path)
        if salt is None:
            raise RuntimeError(f"cookieless salt {path} is not {SALT_BYTES} bytes")
        return salt

    def _prune(self, today: date) -> None:
        """Delete the salts of days before yesterday (and temporary files left by a crash)."""
        keep_from = today - timedelta(days=1)
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            day = _day_of(name.lstrip(".").split(".")[0])
            if day is not None and day < keep_from:
                (self.directory / name).unlink(missing_ok=True)


def _read_salt(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if len(data) == SALT_BYTES else None


def _day_of(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None
