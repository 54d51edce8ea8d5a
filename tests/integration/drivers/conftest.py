"""Fixtures for the driver suites: fake marketplaces on loopback, an HTTP client, a sleep recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fakes.common import FakeMarketplace
from tests.fakes.server import BackgroundServer


class SleepRecorder:
    """An injectable sleep that records the waits asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class ProgressRecorder:
    """A progress callback that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, int | None]] = []

    async def __call__(self, done: int, total: int | None) -> None:
        self.reports.append((done, total))


_servers: dict[type[FakeMarketplace], tuple[FakeMarketplace, str]] = {}


def running(fake_type: type[FakeMarketplace]) -> tuple[FakeMarketplace, str]:
    """One server per fake for the whole session (starting uvicorn costs more than a test)."""
    if fake_type not in _servers:
        fake = fake_type()
        server = BackgroundServer(fake.app)
        _servers[fake_type] = (fake, server.start())
        _stoppers.append(server.stop)
    fake, url = _servers[fake_type]
    fake.reset()
    return fake, url


_stoppers: list[object] = []


@pytest.fixture(scope="session", autouse=True)
def _stop_fake_servers() -> Iterator[None]:
    yield
    for stop in _stoppers:
        stop()  # type: ignore[operator]


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def progress() -> ProgressRecorder:
    return ProgressRecorder()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Generous: a 500-row page of a large model can take over a second on a loaded machine, and a timed-out
    # request is retried (one request more than the test counts). The hang test brings its own short timeout.
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        yield client
