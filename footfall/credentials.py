"""The local run's read access: made on the first `footfall up`, kept under <data_dir>/secrets/.

* read_key (0600): the operator's read key, for `footfall query`, curl and BI tools.
* users.json: a first dashboard user `admin` with a random password.
Both are shown once, on the terminal, when they are made. Each run also makes an internal read
key, which the analytics server presents to the sink's /query; the children get only the
digests of the keys (FOOTFALL_READ_KEYS), and the analytics server the internal key itself."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from eventschema.read_access import digest_entry
from footfall_analytics.server.keyfiles import private_dir, read_or_create, secrets_dir, users_file
from footfall_analytics.server.users import UserStore

ADMIN = "admin"


def new_read_key() -> str:
    return "ffr_" + secrets.token_urlsafe(24)


def new_password() -> str:
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class LocalCredentials:
    secrets_dir: Path
    operator_key: str
    internal_key: str
    new_operator_key: bool  # made now: show it once
    admin_password: str | None  # the first user's password, when made now

    def read_keys_entry(self, configured: str = "") -> str:
        """The operator's FOOTFALL_READ_KEYS entries plus our two keys, as digests."""
        ours = [digest_entry(self.operator_key), digest_entry(self.internal_key)]
        return ",".join([*(e for e in configured.split(",") if e.strip()), *ours])

    def reader_env(self, configured: str = "") -> dict[str, str]:
        """For the servers that check read keys (the sink's /query, the analytics server);
        `configured` is the operator's FOOTFALL_READ_KEYS, from the children's environment."""
        return {"FOOTFALL_READ_KEYS": self.read_keys_entry(configured)}

    def analytics_env(self, configured: str = "") -> dict[str, str]:
        return {**self.reader_env(configured), "FOOTFALL_SINK_READ_KEY": self.internal_key}


def ensure_local_credentials(data_dir: Path, users: Path | None = None) -> LocalCredentials:
    """`users`: FOOTFALL_USERS_FILE (RunConfig.users_file), else <data_dir>/secrets/users.json."""
    directory = private_dir(secrets_dir(data_dir))
    key, key_created = read_or_create(directory / "read_key", new_read_key)
    store = UserStore(users_file(data_dir, users))
    password = None
    if not store.names():  # nobody can log in yet: make the first user
        password = new_password()
        store.add(ADMIN, password)
    return LocalCredentials(directory, key, new_read_key(), key_created, password)
