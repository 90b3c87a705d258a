"""The local runner's read access: the first `footfall up` makes a private secrets dir, an
operator read key and an `admin` user and shows them once; each child gets only what it needs
(key digests for the read servers, the internal sink key for the analytics server alone)."""

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from eventschema.read_access import AllowedHosts, ReadKeys
from footfall.config import RunConfig
from footfall.credentials import ensure_local_credentials
from footfall.supervisor import Supervisor
from footfall_analytics.server import open_dsn
from footfall_analytics.server.app import create_app
from footfall_analytics.server.auth import AuthConfig
from footfall_analytics.server.keyfiles import users_file
from footfall_analytics.server.users import UserStore


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunConfig:
    for name in ("FOOTFALL_READ_KEYS", "FOOTFALL_SINK_READ_KEY", "FOOTFALL_USERS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(tmp_path / "data"))
    return RunConfig.from_env()


def test_first_run_makes_private_credentials_once(cfg: RunConfig) -> None:
    first = ensure_local_credentials(cfg.data_dir)
    secrets_dir = cfg.data_dir / "secrets"
    assert first.secrets_dir == secrets_dir and mode(secrets_dir) == 0o700
    assert mode(secrets_dir / "read_key") == 0o600 and mode(secrets_dir / "users.json") == 0o600
    assert first.new_operator_key and first.operator_key.startswith("ffr_")
    assert (secrets_dir / "read_key").read_text().strip() == first.operator_key
    assert first.admin_password and UserStore(users_file(cfg.data_dir)).names() == ["admin"]
    assert UserStore(users_file(cfg.data_dir)).verify("admin", first.admin_password)

    again = ensure_local_credentials(cfg.data_dir)
    assert again.operator_key == first.operator_key and not again.new_operator_key
    assert again.admin_password is None
    assert again.internal_key != first.internal_key  # a new internal key every run


def test_children_get_digests_and_only_analytics_the_sink_key(
    cfg: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOOTFALL_READ_KEYS", "ffr_operator-configured")
    sup = Supervisor(cfg)
    envs = {child.name: child.env for child in sup.children}
    creds = sup.credentials
    for name in ("sink", "analytics"):
        entry = envs[name]["FOOTFALL_READ_KEYS"]
        keys = ReadKeys(entry.split(","))
        assert keys.check(creds.operator_key) and keys.check(creds.internal_key)
        assert keys.check("ffr_operator-configured")  # the operator's own keys still count
        assert creds.operator_key not in entry and creds.internal_key not in entry
    assert envs["analytics"]["FOOTFALL_SINK_READ_KEY"] == creds.internal_key
    for name in ("api", "sink", "demo"):
        assert "FOOTFALL_SINK_READ_KEY" not in envs[name]
    for env in envs.values():  # no child sees the operator's key itself
        assert creds.operator_key not in env.values()


def test_banner_shows_secrets_only_when_made(
    cfg: RunConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Supervisor(cfg)
    first._print_banner()
    out = capsys.readouterr().out
    assert first.credentials.operator_key in out and "user add NAME" in out
    assert f"user admin, password {first.credentials.admin_password}" in out
    second = Supervisor(cfg)
    second._print_banner()
    out = capsys.readouterr().out
    assert first.credentials.operator_key not in out and "password" not in out
    assert str(cfg.data_dir / "secrets" / "read_key") in out


def test_the_analytics_child_accepts_the_operator_key(
    cfg: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The env the runner gives the analytics server, read by AuthConfig.from_env()."""
    sup = Supervisor(cfg)
    analytics = next(c.env for c in sup.children if c.name == "analytics")
    for name in ("FOOTFALL_READ_KEYS", "FOOTFALL_DATA_DIR"):
        monkeypatch.setenv(name, analytics[name])
    auth = AuthConfig.from_env()
    auth.allowed_hosts = AllowedHosts(frozenset({"testserver"}))
    assert auth.users.path == cfg.data_dir / "secrets" / "users.json"
    assert mode(cfg.data_dir / "secrets" / "session_key") == 0o600
    source = open_dsn(f"chdb://{tmp_path / 'ch'}", "system")
    try:
        with TestClient(create_app(source, auth)) as http:
            key = sup.credentials.operator_key
            response = http.post("/api/sql", content="SELECT 1 AS one",
                                 headers={"Authorization": f"Bearer {key}"})  # fmt: skip
            assert response.status_code == 200, response.text
            assert http.post("/api/sql", content="SELECT 1").status_code == 401
    finally:
        source.close()
