"""Fixtures many test modules share: a real API process, a real sink process (chDB) and the
ad-platform fakes.
Loaded for every test as a pytest plugin (tests/conftest.py); a module's own fixture of the same
name overrides one of these."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from adfakes.google import FakeGoogleAds
from adfakes.harness import start_fakes
from adfakes.meta import FakeMeta
from tests.support.api import ApiServer
from tests.support.sink import Sink


@pytest.fixture
def api_env() -> dict[str, str]:
    """Settings the `api` fixture's process starts with, over its defaults: a module overrides
    this fixture to change them."""
    return {}


@pytest.fixture
def api(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    api_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ApiServer]:
    """The API as a uvicorn subprocess (tests.support.api) with `api_env` set."""
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)
    server = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sink(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[Sink]:
    s = Sink(kafka_bootstrap, topic_prefix, tmp_path)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def fakes() -> Iterator[tuple[FakeMeta, FakeGoogleAds]]:
    meta, google = start_fakes()
    try:
        yield meta, google
    finally:
        meta.stop()
        google.stop()


@pytest.fixture
def google() -> Iterator[FakeGoogleAds]:
    """The Google Ads fake alone."""
    meta, fake = start_fakes()
    meta.stop()
    try:
        yield fake
    finally:
        fake.stop()
