"""Secret files under `<data_dir>/secrets/`: the directory is 0700, each file 0600, written whole.

A file is created by writing a temporary file and hard-linking it into place, so two processes
starting at once (the runner and the analytics server) agree on one value and nobody reads a
half-written file."""

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def secrets_dir(base: Path) -> Path:
    return base / "secrets"


def users_file(base: Path, override: Path | None = None) -> Path:
    """`override` (FOOTFALL_USERS_FILE), else `<base>/secrets/users.json`."""
    return override or secrets_dir(base) / "users.json"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)  # mkdir's mode is masked by the umask, and an old dir may be wider
    return path


def _private_temp(path: Path, text: str) -> Path:
    """A new file next to `path` holding `text`, 0600 from the first byte."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return tmp


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, 0600 from the first byte."""
    os.replace(_private_temp(path, text), path)


def read_or_create(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The secret in `path`, creating it with `make()` if missing; True when created now."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    tmp = _private_temp(path, make() + "\n")
    try:
        os.link(tmp, path)  # fails if another process got there first: theirs wins
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink()
    return path.read_text(encoding="utf-8").strip(), created


def session_secret(base: Path, configured: str | None = None) -> str:
    """`configured` (FOOTFALL_SESSION_SECRET), else `<base>/secrets/session_key` (made on first
    use)."""
    if configured:
        return configured
    secret, _ = read_or_create(secrets_dir(base) / "session_key", lambda: secrets.token_hex(32))
    return secret
