"""The dashboard by keyboard alone, on a narrow screen, and in its empty and error states (headless Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard
from tests.support.stack import TOKEN, RunningStack

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.kafka]


def _tab_to(page: Any, target: Any, *, backwards: bool = False, limit: int = 40) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus: it is reachable by keyboard."""
    element = target.element_handle()
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("el => el === document.activeElement", element):
            return
    raise AssertionError(f"{target} not reached with {limit} presses of {'Shift+' if backwards else ''}Tab")


def _fits_the_width(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("running_stack", ["sqlite"], indirect=True)
def test_keyboard_narrow_screens_and_the_empty_and_error_states(running_stack: RunningStack,
                                                                dashboard: Dashboard) -> None:
    stack, board, page = running_stack, dashboard, dashboard.page

    # A wrong token is refused with the reason; the sign-in stays.
    board.open()
    board.sign_in("not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("The token was refused")
    board.shot("sign-in-refused")

    # Sign in by keyboard: the token field has the focus again, Enter submits.
    token = page.get_by_label("API token")
    expect(token).to_be_focused()
    token.fill("")
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")

    # Empty state without any driver: it says what to do, and so does the Create connection view.
    expect(page.get_by_text("No connections yet")).to_be_visible()
    expect(page.get_by_text("No driver is installed yet: install one in the Drivers tab")).to_be_visible()
    board.shot("empty-no-driver")
    page.get_by_role("button", name="Add", exact=True).click()
    dialog = page.get_by_role("dialog", name="Create connection")
    expect(dialog.get_by_role("status")).to_contain_text("No driver is installed yet")
    expect(dialog.get_by_role("button", name="Save")).to_be_disabled()
    board.shot("create-without-drivers")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Keyboard only: Tab reaches Add, Enter opens the view with the focus in Name, keys pick the driver.
    assert stack.post("/v1/drivers/pos/install").status_code == 200
    page.get_by_role("button", name="Refresh").focus()
    _tab_to(page, page.get_by_role("button", name="Add", exact=True))
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create connection")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.type("Till 1")
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Driver")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(dialog.get_by_label("Driver")).to_have_value("pos")
    expect(dialog.get_by_text("Actindo POS needs no credentials.")).to_be_visible()
    board.shot("keyboard-create-connection")
    _tab_to(page, dialog.get_by_role("button", name="Save"))
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator(".toast").filter(has_text="Sync triggered")).to_be_visible()
    expect(board.cell("Till 1", "Status")).to_have_text("Active")
    expect(board.cell("Till 1", "Driver")).to_have_text("Actindo POS")  # installed after the page loaded

    # Space selects the row, Shift+Tab goes up to the toolbar, Enter disables.
    checkbox = page.get_by_role("checkbox", name="Select Till 1")
    page.get_by_role("button", name="Refresh").focus()
    _tab_to(page, checkbox)
    page.keyboard.press("Space")
    toolbar = page.get_by_role("toolbar", name="Selected connections")
    expect(toolbar).to_be_visible()
    _tab_to(page, toolbar.get_by_role("button", name="Disable"), backwards=True)
    page.keyboard.press("Enter")
    expect(board.cell("Till 1", "Status")).to_have_text("Inactive")
    expect(checkbox).to_be_checked()  # the live update kept the row (and the selection) in place
    board.shot("keyboard-disabled")
    assert _fits_the_width(page)

    # A narrow screen: the list turns into cards; nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(board.cell("Till 1", "Status")).to_be_visible()
    assert _fits_the_width(page)
    board.shot("narrow-connections", full_page=True)
    page.get_by_role("button", name="Edit Till 1").click()
    dialog = page.get_by_role("dialog", name="Edit connection")
    expect(dialog.get_by_label("Driver")).to_have_value("Actindo POS")
    expect(dialog.get_by_text("Actindo POS has neither credentials nor settings to edit.")).to_be_visible()
    board.shot("narrow-edit-connection")
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Processes").click()
    expect(page.get_by_role("heading", name="Recent outcomes (last 24 hours)")).to_be_visible()
    assert _fits_the_width(page)
    board.shot("narrow-processes", full_page=True)
    page.get_by_role("link", name="Details of Till 1").or_(page.get_by_role("link", name="Till 1")).first.click()
    expect(page.get_by_role("heading", name="Till 1", exact=True)).to_be_visible()
    assert _fits_the_width(page)
    board.shot("narrow-connection-page", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name="Connections", exact=True).first.click()

    # The views process goes away: the header says the live updates pause, Refresh says what failed.
    stack.stack.stop("projections")
    expect(page.locator("#live")).to_have_text("Reconnecting…")
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("alert")).to_contain_text("The views API cannot be reached")
    board.shot("error-views-unreachable")

    # It comes back: the stream reconnects and the list reloads by itself.
    stack.stack.start("projections")
    stack.stack.wait_http(f"{stack.views}/health/live")
    expect(page.locator("#live")).to_have_text("Live")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(board.cell("Till 1", "Status")).to_have_text("Inactive")
    board.shot("error-recovered")
