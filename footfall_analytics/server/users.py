"""Dashboard users: names with Argon2id password hashes in a JSON file (0600).

The file is re-read when it changes on disk, so `footfall user add` and removals take effect in
a running server (a removed user's sessions end at their next request)."""

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from footfall_analytics.server.keyfiles import write_private

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


class UserError(ValueError):
    pass


class UserStore:
    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        # Argon2id with argon2-cffi's RFC 9106 low-memory defaults (64 MiB, 3 passes).
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, dict[str, Any]] = {}

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._users = None, {}
                return self._users
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                self._users, self._stamp = dict(doc.get("users", {})), stamp
            return self._users

    def names(self) -> list[str]:
        return sorted(self._load())

    def exists(self, name: str) -> bool:
        return name in self._load()

    def add(self, name: str, password: str, replace: bool = False) -> None:
        if not NAME.match(name):
            raise UserError("a user name is 1-64 letters, digits or . _ @ - (no leading symbol)")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
        users = dict(self._load())
        if name in users and not replace:
            raise UserError(f"user {name!r} exists (use --replace to set a new password)")
        users[name] = {"argon2": self.hasher.hash(password), "created": int(time.time())}
        self._save(users)

    def remove(self, name: str) -> bool:
        users = dict(self._load())
        if users.pop(name, None) is None:
            return False
        self._save(users)
        return True

    def verify(self, name: str, password: str) -> bool:
        """Constant work whether or not the user exists: an unknown name still costs a hash."""
        entry = self._load().get(name)
        if entry is None and self._dummy is None:
            self._dummy = self.hasher.hash("footfall: a user who does not exist")
        try:
            stored = entry["argon2"] if entry else self._dummy
            return self.hasher.verify(str(stored), password) and entry is not None
        except (VerificationError, InvalidHashError):
            return False

    def _save(self, users: dict[str, dict[str, Any]]) -> None:
        write_private(self.path, json.dumps({"users": users}, indent=2, sort_keys=True) + "\n")
