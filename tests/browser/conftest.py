"""Browser tests: Playwright driving Debian's Chromium (headless, from /usr/bin/chromium) against the real services.

Playwright never downloads a browser here: it launches the system Chromium (`.ci/install-chromium.sh` installs
it). Screenshots of every step land in ``test-artifacts/screenshots/<test>/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import FakeShopware6
from tests.support.stack import TOKEN, RunningStack

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("OMNI_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps calling Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 30_000  # jobs go through Kafka and a worker: as long as the e2e tests wait


@pytest.fixture
def browser(running_stack: RunningStack) -> Iterator[Any]:
    """A headless Chromium, launched once the stack runs.

    Playwright's sync API keeps an asyncio loop running on this thread until it stops, and the stack fixture
    needs ``asyncio.run`` to set up: so the browser starts after the stack, and stops before it.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run .ci/install-chromium.sh (Debian's chromium package)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Dashboard:
    """The page under test, with the stack behind it and a numbered screenshot per step."""

    page: Any
    stack: RunningStack
    shots: Path
    errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, url, JSON body) to the commands API
    taken: list[Path] = field(default_factory=list)

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path

    def open(self) -> None:
        self.page.goto("/")

    def sign_in(self, token: str = TOKEN) -> None:
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()

    def row(self, name: str) -> Any:
        """The list row of the connection called ``name``."""
        button = self.page.get_by_role("button", name=f"Edit {name}", exact=True)
        return self.page.locator("tbody tr").filter(has=button)

    def cell(self, name: str, column: str) -> Any:
        return self.row(name).locator(f'td[data-label="{column}"]')

    def commands_sent(self, method: str, path_pattern: str) -> list[Any]:
        return [body for m, url, body in self.requests if m == method and re.search(path_pattern, url)]


@pytest.fixture
def dashboard(browser: Any, running_stack: RunningStack, request: pytest.FixtureRequest) -> Iterator[Dashboard]:
    """A fresh browser context at 1280x800 on the dashboard the views process serves."""
    shots = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=running_stack.views,
                                  locale="en-GB", timezone_id="Europe/Berlin")
    page = context.new_page()
    board = Dashboard(page, running_stack, shots)
    page.on("pageerror", lambda error: board.errors.append(str(error)))

    def record(req: Any) -> None:
        if req.url.startswith(running_stack.api) and req.method in ("POST", "PATCH"):
            body = req.post_data
            board.requests.append((req.method, req.url, json.loads(body) if body else None))

    page.on("request", record)
    try:
        yield board
    finally:
        context.close()
    assert not board.errors, f"the page raised: {board.errors}"


@pytest.fixture
def shops() -> Iterator[tuple[FakeShopware6, str, FakeShopware6, str]]:
    """Two fake Shopware 6 shops (the second: where the shop "moved" to in the edit procedure)."""
    servers = []
    result: list[Any] = []
    try:
        for _ in range(2):
            fake = FakeShopware6()
            fake.load_small_model()
            server = BackgroundServer(fake.app)
            servers.append(server)
            result += [fake, server.start()]
        yield tuple(result)
    finally:
        for server in servers:
            server.stop()
