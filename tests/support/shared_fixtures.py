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
def api(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[ApiServer]:
    """The API as a uvicorn subprocess with its default settings (tests.support.api)."""
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
