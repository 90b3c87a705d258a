"""Secret files under `<data_dir>/secrets/`: the directory is 0700, each file 0600, written whole.

A file is created by writing a temporary file and hard-linking it into place, so two processes
starting at once (the runner and the analytics server) agree on one value and nobody reads a
half-written file."""

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from footfall import paths


def data_dir() -> Path:
    return paths.data_dir()


def secrets_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "secrets"


def users_file(base: Path | None = None) -> Path:
    override = os.environ.get("FOOTFALL_USERS_FILE")
    return Path(override) if override else secrets_dir(base) / "users.json"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)  # mkdir's mode is masked by the umask, and an old dir may be wider
    return path


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, 0600 from the first byte."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def read_or_create(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The secret in `path`, creating it with `make()` if missing; True when created now."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(make() + "\n")
    try:
        os.link(tmp, path)  # fails if another process got there first: theirs wins
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink()
    return path.read_text(encoding="utf-8").strip(), created


def session_secret(base: Path | None = None) -> str:
    """FOOTFALL_SESSION_SECRET, else `<data_dir>/secrets/session_key` (made on first use)."""
    configured = os.environ.get("FOOTFALL_SESSION_SECRET")
    if configured:
        return configured
    secret, _ = read_or_create(secrets_dir(base) / "session_key", lambda: secrets.token_hex(32))
    return secret
