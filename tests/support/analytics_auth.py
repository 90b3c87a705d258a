"""An analytics server auth configuration for tests: one read key, a users file in a temp dir
with cheap Argon2 parameters (the real ones take a second a hash), and TestClient's Host."""

from pathlib import Path

from argon2 import PasswordHasher

from eventschema.read_access import AllowedHosts, ReadKeys, digest_entry
from footfall_analytics.server.auth import AuthConfig
from footfall_analytics.server.users import UserStore

READ_KEY = "ffr_test-read-key"
KEY_HEADERS = {"Authorization": f"Bearer {READ_KEY}"}
HOSTS = frozenset({"testserver", "127.0.0.1", "localhost"})
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def auth_config(directory: Path, users: UserStore | None = None, **kw: object) -> AuthConfig:
    return AuthConfig(
        read_keys=ReadKeys([digest_entry(READ_KEY)]),
        allowed_hosts=AllowedHosts(HOSTS),
        users=users or UserStore(directory / "users.json", FAST_HASHER),
        secret="test-session-secret-0123456789",
        **kw,  # type: ignore[arg-type]
    )
