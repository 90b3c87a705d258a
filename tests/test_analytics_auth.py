"""Who may read the analytics server: each refusal (no key, wrong key, a write key, wrong Host,
cross-site POSTs, missing CSRF token, wrong password, too many guesses, a logged-out cookie,
a share link used beyond its view, a forged or expired link) and each way in (read key, login,
share link), in-process on a real chDB."""

import base64
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from eventschema.read_access import digest_entry
from footfall import cli
from footfall_analytics.generate import generate, insert
from footfall_analytics.server import Source, create_app, open_dsn
from footfall_analytics.server.auth import AuthConfig
from footfall_analytics.server.ratelimit import LoginLimiter
from footfall_analytics.server.share import ShareLinks
from footfall_analytics.server.users import UserStore
from tests.support.analytics_auth import KEY_HEADERS, READ_KEY, auth_config

PASSWORD = "correct horse battery"
VIEW = "from=2023-12-31&to=2024-03-01&interval=week&filter=section%3Aneq%3Asupport"
EVIL = "https://evil.example"


@dataclass
class Counting:
    """The real read-only chDB client, counting the queries that reach it."""

    inner: Any
    sql: list[str] = field(default_factory=list)

    def query(self, query: str, *args: Any, **kw: Any) -> Any:
        self.sql.append(query)
        return self.inner.query(query, *args, **kw)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    dsn = f"chdb://{tmp_path_factory.mktemp('auth') / 'ch'}"
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(writer, generate(seed=3, persons=30)[0])
    writer.close()
    real = open_dsn(dsn, "footfall")
    yield Source(Counting(real.client), real.description)  # type: ignore[arg-type]
    real.close()


@pytest.fixture
def auth(tmp_path: Path) -> AuthConfig:
    config = auth_config(tmp_path)
    config.users.add("ana", PASSWORD)
    return config


@pytest.fixture
def http(source: Source, auth: AuthConfig) -> Iterator[TestClient]:
    with TestClient(create_app(source, auth), follow_redirects=False) as client:
        yield client


def queries(source: Source) -> int:
    return len(source.client.sql)  # type: ignore[attr-defined]


def login(http: TestClient, user: str = "ana", password: str = PASSWORD) -> Any:
    page = http.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and match, page.text
    form = {"username": user, "password": password, "csrf": match.group(1), "next": "/"}
    return http.post("/login", data=form)


def csrf_token(http: TestClient) -> str:
    page = http.get("/")
    assert page.status_code == 200, page.text
    match = re.search(r'<meta name="footfall-csrf" content="([^"]+)">', page.text)
    assert match, page.text
    return match.group(1)


def logged_in(http: TestClient) -> str:
    assert login(http).status_code == 303
    return csrf_token(http)


# ---- read keys --------------------------------------------------------------------------------


def test_no_key_no_session_is_refused(http: TestClient) -> None:
    response = http.get(f"/api/events-over-time?{VIEW}")
    assert response.status_code == 401 and response.json()["code"] == "login_required"
    assert "basic" not in response.headers["www-authenticate"].lower()  # no browser prompt
    page = http.get("/?from=2024-01-01")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2F%3Ffrom%3D2024-01-01"
    assert http.get("/healthz").status_code == 200  # the runner's probe needs nothing


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_read_key_as_bearer_or_basic_username(http: TestClient) -> None:
    for headers in (KEY_HEADERS, basic(READ_KEY)):
        response = http.get(f"/api/events-over-time?{VIEW}", headers=headers)
        assert response.status_code == 200, response.text
        assert sum(r["events"] for r in response.json()["rows"]) > 0
    response = http.post("/api/sql", content="SELECT 1 AS one", headers=KEY_HEADERS)
    assert response.status_code == 200 and response.json()["rows"] == [[1]]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer ffr_wrong"},
        {"Authorization": f"Bearer {READ_KEY}x"},
        {"Authorization": "Bearer "},
        basic("ffr_wrong"),
        {"Authorization": "Basic !!!"},
        {"Authorization": f"Token {READ_KEY}"},
    ],
)
def test_wrong_key_is_refused(http: TestClient, headers: dict[str, str]) -> None:
    response = http.get(f"/api/events-over-time?{VIEW}", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "invalid_read_key"


def test_a_write_key_is_not_a_read_key(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOOTFALL_WRITE_KEYS", "wk_the-write-key")
    monkeypatch.setenv("FOOTFALL_READ_KEYS", f"ffr_plain, {digest_entry('ffr_digested')}")
    monkeypatch.setenv("FOOTFALL_ALLOWED_HOSTS", "testserver")
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FOOTFALL_USERS_FILE", raising=False)
    monkeypatch.delenv("FOOTFALL_SESSION_SECRET", raising=False)
    (tmp_path / "secrets").mkdir(mode=0o700)
    (tmp_path / "secrets" / "read_key").write_text("ffr_local\n")  # what `footfall up` keeps
    keys = [("wk_the-write-key", 401), ("ffr_plain", 200), ("ffr_digested", 200),
            ("ffr_local", 200), ("sha256:" + "0" * 64, 401)]  # fmt: skip
    with TestClient(create_app(source, AuthConfig.from_env())) as http:
        for key, status in keys:
            response = http.get("/api/events", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == status, (key, response.text)
    # The session secret was made on first use, private.
    key_file = tmp_path / "secrets" / "session_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700


# ---- Host and Origin --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8125", "127.0.0.1.evil.example"])
def test_wrong_host_is_refused(http: TestClient, host: str) -> None:
    for method, path in (("GET", "/api/events"), ("GET", "/"), ("GET", "/login"),
                         ("POST", "/api/sql")):  # fmt: skip
        response = http.request(method, path, headers={**KEY_HEADERS, "Host": host})
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "host_not_allowed"


def test_cross_site_text_plain_post_executes_nothing(http: TestClient, source: Source) -> None:
    csrf = logged_in(http)
    before = queries(source)
    attempts: list[dict[str, str]] = [
        {"Origin": EVIL, "Content-Type": "text/plain"},  # a cross-site <form enctype=text/plain>
        {"Origin": EVIL, "Content-Type": "text/plain", "X-CSRF-Token": csrf},
        {"Origin": EVIL, **KEY_HEADERS},  # cached Basic credentials would ride along too
        {"Origin": "null", "Content-Type": "text/plain"},
        {"Origin": "http://testserver.evil.example", "Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain", "X-CSRF-Token": csrf},
    ]
    for headers in attempts:
        response = http.post("/api/sql", content="SELECT 42", headers=headers)
        assert response.status_code == 403, (headers, response.text)
        assert response.json()["code"] == "origin_not_allowed"
    assert queries(source) == before  # nothing reached the database
    same_origin = {"Origin": "http://testserver", "X-CSRF-Token": csrf}
    response = http.post("/api/sql", content="SELECT 42 AS n", headers=same_origin)
    assert response.status_code == 200 and response.json()["rows"] == [[42]]


def test_session_post_needs_the_csrf_token(http: TestClient, source: Source) -> None:
    csrf = logged_in(http)
    before = queries(source)
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": ""}):
        response = http.post("/api/sql", content="SELECT 1", headers=headers)
        assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert queries(source) == before
    # GETs need no token; a POST with it runs.
    assert http.get(f"/api/events-over-time?{VIEW}").status_code == 200
    response = http.post("/api/sql", content="SELECT 1 AS one", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text


# ---- login, sessions, logout ------------------------------------------------------------------


def test_login_sets_a_hardened_session_cookie(http: TestClient) -> None:
    response = login(http)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "footfall_session=" in c)
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "max-age=43200" in flags and "secure" not in flags  # plain http in this test
    page = http.get("/")
    assert page.status_code == 200 and 'name="footfall-user" content="ana"' in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


def secure(cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_cookie_is_secure_over_https(source: Source, tmp_path: Path) -> None:
    config = auth_config(tmp_path, https_only=True)  # TLS ends at a proxy: plain http here
    with TestClient(create_app(source, config), follow_redirects=False) as http:
        assert secure(http.get("/login").headers["set-cookie"])
    config = auth_config(tmp_path)
    config.users.add("ana", PASSWORD)
    with TestClient(create_app(source, config), base_url="https://testserver") as https:
        https.follow_redirects = False
        response = login(https)
        assert response.status_code == 303
        cookie = next(h for h in response.headers.get_list("set-cookie") if "session=" in h)
        assert secure(cookie), cookie


@pytest.mark.parametrize(("user", "password"), [("ana", "wrong password"), ("nobody", PASSWORD),
                                                ("ana", "")])  # fmt: skip
def test_wrong_password_is_refused(http: TestClient, user: str, password: str) -> None:
    response = login(http, user, password)
    assert response.status_code == 401 and "wrong user name or password" in response.text
    assert not any("footfall_session=" in c for c in response.headers.get_list("set-cookie"))
    assert http.get("/api/events").status_code == 401


def test_login_form_needs_its_nonce_and_our_origin(http: TestClient) -> None:
    http.get("/login")  # sets the nonce cookie
    form = {"username": "ana", "password": PASSWORD, "csrf": "guessed", "next": "/"}
    assert http.post("/login", data=form).status_code == 403
    page = http.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce
    form["csrf"] = nonce.group(1)
    response = http.post("/login", data=form, headers={"Origin": EVIL})
    assert response.status_code == 403 and response.json()["code"] == "origin_not_allowed"
    # Only a local path is a redirect target after login.
    response = http.post("/login", data={**form, "next": "//evil.example/x"})
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_brute_force_is_limited(source: Source, tmp_path: Path) -> None:
    now = [1000.0]
    config = auth_config(
        tmp_path, limiter=LoginLimiter(per_user=5, window=600, clock=lambda: now[0])
    )
    config.users.add("ana", PASSWORD)
    with TestClient(create_app(source, config), follow_redirects=False) as http:
        for _ in range(5):
            assert login(http, "ana", "guess").status_code == 401
        blocked = login(http, "ana", PASSWORD)  # even the right password waits now
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 500
        assert "too many failed logins" in blocked.text
        now[0] += 601
        assert login(http, "ana", PASSWORD).status_code == 303
        # Per address too: many names from one client are stopped.
        http.cookies.clear()
        codes = [login(http, f"user{i}", "guess").status_code for i in range(21)]
        assert codes[:20] == [401] * 20 and codes[20] == 429


def test_logout_ends_the_session(http: TestClient) -> None:
    csrf = logged_in(http)
    stolen = http.cookies.get("footfall_session")
    assert stolen
    # Logging out needs the CSRF token (a cross-site page cannot log us out either).
    assert http.post("/logout").status_code == 403
    assert http.post("/logout", headers={"Origin": EVIL, "X-CSRF-Token": csrf}).status_code == 403
    response = http.post("/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert http.get("/api/events").status_code == 401
    assert http.get("/").status_code == 303
    # The old cookie, replayed, is dead too.
    http.cookies.set("footfall_session", stolen)
    assert http.get("/api/events").status_code == 401


def test_a_removed_user_loses_the_session(http: TestClient, auth: AuthConfig) -> None:
    logged_in(http)
    assert http.get("/api/events").status_code == 200
    assert auth.users.remove("ana")
    assert http.get("/api/events").status_code == 401


# ---- share links ------------------------------------------------------------------------------


def share(http: TestClient, csrf: str, report: str = "events-over-time", query: str = VIEW,
          **extra: Any) -> Any:  # fmt: skip
    body = {"report": report, "query": query, **extra}
    return http.post("/api/share", json=body, headers={"X-CSRF-Token": csrf})


def test_share_link_grants_its_view_and_only_it(
    source: Source, auth: AuthConfig, http: TestClient
) -> None:
    csrf = logged_in(http)
    assert http.post("/api/share", json={"report": "funnel", "query": ""}).status_code == 403
    assert share(http, csrf, report="nope").status_code == 400
    created = share(http, csrf)
    assert created.status_code == 200, created.text
    link = created.json()
    token = link["path"].removeprefix("/s/")
    assert link["url"] == f"http://testserver/s/{token}" and link["expires_at"] > "2026"
    expected = http.get(f"/api/events-over-time?{VIEW}").json()

    with TestClient(create_app(source, auth), follow_redirects=False) as guest:
        page = guest.get(link["path"])
        assert page.status_code == 200
        assert '<meta name="footfall-share-report" content="events-over-time">' in page.text
        assert 'name="footfall-csrf" content=""' in page.text  # no session comes with it
        shared = {"X-Share-Token": token}
        assert guest.get(f"/api/events-over-time?{VIEW}", headers=shared).json() == expected
        reordered = "&".join(reversed(VIEW.split("&")))
        assert guest.get(f"/api/events-over-time?{reordered}", headers=shared).status_code == 200
        before = queries(source)
        beyond = [
            ("GET", f"/api/top?{VIEW}"),  # another report
            ("GET", f"/api/events-over-time?{VIEW}&filter=event%3Aeq%3Ax"),  # another filter
            ("GET", f"/api/events-over-time?{VIEW.replace('week', 'day')}"),  # another value
            ("GET", "/api/events-over-time?from=2023-12-31&to=2024-03-01"),  # fewer parameters
            ("POST", "/api/sql"),
            ("POST", "/api/share"),
        ]
        for method, path in beyond:
            response = guest.request(method, path, headers=shared, content="SELECT 1")
            assert response.status_code == 403, (path, response.text)
            assert response.json()["code"] == "share_scope"
        assert queries(source) == before
        assert guest.get("/", headers=shared).status_code == 303  # not the full dashboard


def test_forged_or_expired_share_token_is_refused(http: TestClient, auth: AuthConfig) -> None:
    csrf = logged_in(http)
    token = share(http, csrf).json()["path"].removeprefix("/s/")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    expired = ShareLinks(auth.secret).make("events-over-time", VIEW, "ana", days=-1)
    forged = ShareLinks("another secret, another server").make("events-over-time", VIEW, "ana")
    http.cookies.clear()
    for bad in (tampered, expired, forged, "garbage"):
        response = http.get(f"/api/events-over-time?{VIEW}", headers={"X-Share-Token": bad})
        assert response.status_code == 401 and response.json()["code"] == "invalid_share_link"
        assert http.get(f"/s/{bad}").status_code == 410


def test_share_creation_is_csrf_and_origin_checked(http: TestClient) -> None:
    csrf = logged_in(http)
    body = {"report": "events-over-time", "query": VIEW}
    response = http.post("/api/share", json=body, headers={"Origin": EVIL, "X-CSRF-Token": csrf})
    assert response.status_code == 403 and response.json()["code"] == "origin_not_allowed"
    assert share(http, csrf, days=0).json()["parameter"] == "days"
    # A read-key holder may make links too (no cookie, no CSRF token needed).
    http.cookies.clear()
    assert http.post("/api/share", json=body, headers=KEY_HEADERS).status_code == 200


# ---- footfall user add ------------------------------------------------------------------------


def test_user_add_then_login(
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    users_file = tmp_path / "secrets" / "users.json"
    monkeypatch.setenv("FOOTFALL_USERS_FILE", str(users_file))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["user", "add", "bea", "--password-stdin"]) == 0
    assert cli.main(["user", "add", "cy", "--generate"]) == 0
    out = capsys.readouterr().out
    generated = re.search(r"password for cy: (\S+)", out)
    assert generated, out
    assert users_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert "a long enough password" not in users_file.read_text()
    assert "$argon2id$" in users_file.read_text()
    # Adding the same name again is refused; a short password is refused.
    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert cli.main(["user", "add", "bea", "--password-stdin"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["user", "add", "dee", "--password-stdin"]) == 1
    assert cli.main(["user", "list"]) == 0
    assert capsys.readouterr().out.split() == ["bea", "cy"]

    config = auth_config(tmp_path, users=UserStore(users_file))  # as `user add` left it
    with TestClient(create_app(source, config), follow_redirects=False) as http:
        assert login(http, "bea", "a long enough password").status_code == 303
        assert http.get("/api/events").status_code == 200
        http.cookies.clear()
        assert login(http, "cy", generated.group(1)).status_code == 303
        http.cookies.clear()
        assert login(http, "cy", "a long enough password").status_code == 401
    assert cli.main(["user", "remove", "cy"]) == 0
    assert UserStore(users_file).names() == ["bea"]


def test_urlencoded_next_survives_login(http: TestClient) -> None:
    page = http.get("/login?" + urlencode({"next": "/?from=2024-01-01&steps=a,b"}))
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce and 'value="/?from=2024-01-01&amp;steps=a,b"' in page.text
    form = {"username": "ana", "password": PASSWORD, "csrf": nonce.group(1),
            "next": "/?from=2024-01-01&steps=a,b"}  # fmt: skip
    response = http.post("/login", data=form)
    assert response.headers["location"] == "/?from=2024-01-01&steps=a,b"
