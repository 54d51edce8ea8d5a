"""The product page, procedure by procedure, clicked through the dashboard in headless Chromium.

Real processes (write side, relay, projections, POS and Shopware 6 workers) on the session's Kafka broker, two
fake Shopware 6 shops. Every step is asserted on what the page shows and saved as a screenshot under
test-artifacts/screenshots/. Nothing is refreshed by hand unless the product page says to click Refresh: the
list, the Processes view and the connection's page follow the live stream.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard
from tests.fakes.shopware6 import CLIENT_ID, CLIENT_SECRET, FakeShopware6
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.kafka]


def _add_connection(board: Dashboard, name: str, driver: str, credentials: dict[str, str]) -> Any:
    page = board.page
    page.get_by_role("button", name="Add", exact=True).click()
    dialog = page.get_by_role("dialog", name="Create connection")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Driver").select_option(label=driver)
    for label, value in credentials.items():
        dialog.get_by_label(label, exact=True).fill(value)
    return dialog


def _select(board: Dashboard, *names: str) -> Any:
    page = board.page
    if page.get_by_role("button", name="Clear selection").is_visible():
        page.get_by_role("button", name="Clear selection").click()
    for name in names:
        page.get_by_role("checkbox", name=f"Select {name}", exact=True).check()
    toolbar = page.get_by_role("toolbar", name="Selected connections")
    expect(toolbar).to_be_visible()
    expect(toolbar).to_contain_text(f"{len(names)} selected")
    return toolbar


def _sync_triggered(board: Dashboard) -> Any:
    """The "Sync triggered" pop-up (closed once seen, so that the next one is a new one)."""
    toast = board.page.locator(".toast").filter(has_text="Sync triggered").last
    expect(toast).to_be_visible()
    return toast


def _close_sync_triggered(board: Dashboard) -> None:
    toasts = board.page.locator(".toast").filter(has_text="Sync triggered")
    while toasts.count():
        toasts.first.get_by_role("button", name="Close notification").click()
    expect(toasts).to_have_count(0)


def _confirm_delete(board: Dashboard) -> None:
    confirm = board.page.get_by_role("dialog", name="Delete connection?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Delete").click()
    expect(confirm).to_be_hidden()


@pytest.mark.parametrize("running_stack", ["sqlite"], indirect=True)  # the page is the subject, not the store
def test_every_procedure_of_the_product_page_in_the_browser(
    running_stack: RunningStack, shops: tuple[FakeShopware6, str, FakeShopware6, str], dashboard: Dashboard,
) -> None:
    stack, board, page = running_stack, dashboard, dashboard.page
    shop, shop_url, moved, moved_url = shops
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")

    # Sign in with a development token; the Connections tab starts empty.
    board.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    board.shot("sign-in")
    board.sign_in()
    expect(page.get_by_text("No connections yet")).to_be_visible()
    expect(page.locator("#live")).to_have_text("Live")
    board.shot("connections-empty")

    # Prerequisite: drivers installed (Drivers tab).
    page.get_by_role("link", name="Drivers").click()
    for driver in ("Shopware 6", "Actindo POS"):
        page.get_by_role("button", name=f"Install {driver}").click()
        expect(page.get_by_role("button", name=f"Uninstall {driver}")).to_be_visible()
    board.shot("drivers-installed")
    page.get_by_role("link", name="Connections").click()

    # --- Create a connection: Add -> Name, Driver, Credentials -> SAVE -> Checking credentials... -> Sync triggered.
    shop.faults.hang, shop.faults.hang_seconds, shop.faults.only = 1, 1.5, "/api/oauth/token"  # a check one can see
    dialog = _add_connection(board, "Webshop", "Shopware 6", {
        "URL": shop_url, "Access key ID": CLIENT_ID, "Secret access key": CLIENT_SECRET})
    expect(dialog.get_by_role("heading", name="Credentials")).to_be_visible()
    expect(dialog.get_by_label("Secret access key", exact=True)).to_have_attribute("type", "password")
    board.shot("create-connection-view")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("Checking credentials...")).to_be_visible()
    board.shot("create-checking-credentials")
    expect(dialog).to_be_hidden()
    _sync_triggered(board)
    board.shot("create-sync-triggered")
    _close_sync_triggered(board)
    expect(board.cell("Webshop", "Status")).to_have_text("Active")
    expect(board.cell("Webshop", "Credentials")).to_have_text("Verified")
    expect(board.cell("Webshop", "Last sync")).to_contain_text("Succeeded")  # live: no Refresh clicked
    expect(board.cell("Webshop", "Driver")).to_have_text("Shopware 6")

    # A rejection keeps the view open with the marketplace's reason; corrected, the connection is established.
    dialog = _add_connection(board, "Outlet", "Shopware 6", {
        "URL": shop_url, "Access key ID": CLIENT_ID, "Secret access key": "not-the-secret"})
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("The credentials were rejected")
    expect(dialog.get_by_role("alert")).to_contain_text("Client authentication failed")
    expect(dialog).to_be_visible()
    board.shot("create-rejected-view-stays-open")
    dialog.get_by_label("Secret access key", exact=True).fill(CLIENT_SECRET)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    _sync_triggered(board)
    _close_sync_triggered(board)
    expect(board.cell("Outlet", "Credentials")).to_have_text("Verified")

    # Other drivers ask for other fields: Actindo POS asks for none.
    dialog = _add_connection(board, "Till", "Actindo POS", {})
    expect(dialog.get_by_text("Actindo POS needs no credentials.")).to_be_visible()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    _sync_triggered(board)
    _close_sync_triggered(board)
    expect(board.cell("Till", "Last sync")).to_contain_text("Succeeded")
    board.shot("connections-three")

    # --- A connection's page: status, job history with the failure reason, data model, audit timeline.
    page.get_by_role("link", name="Details of Outlet").click()
    expect(page.get_by_role("heading", name="Outlet", exact=True)).to_be_visible()
    history = page.get_by_role("table", name="Job history")
    expect(history.locator("tr").filter(has_text="Credential check").filter(has_text="Failed")).to_contain_text(
        "Shopware 6 refused the access key: Client authentication failed")
    expect(history.locator("tr").filter(has_text="Sync").filter(has_text="Succeeded")).to_have_count(1)
    expect(page.get_by_text("5 attributes in 1 attribute sets.")).to_be_visible()
    expect(page.get_by_role("table", name="Attribute sets")).to_contain_text("shoe_specs")
    expect(page.get_by_role("table", name="Attribute sets")).to_contain_text("Shoe specs")
    attributes = page.get_by_role("table", name="Attributes")
    for label in ("Color", "Size", "Heel height", "Material"):
        expect(attributes).to_contain_text(label)
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("credential check failed: credentials_rejected")
    expect(timeline).to_contain_text("data model synced")
    board.shot("connection-page", full_page=True)
    page.get_by_role("link", name="Connections", exact=True).first.click()

    # --- Edit a connection: Credentials and Settings tabs, driver read-only, masked secret never sent back.
    page.get_by_role("button", name="Edit Webshop", exact=True).click()
    dialog = page.get_by_role("dialog", name="Edit connection")
    expect(dialog.get_by_label("Driver")).to_have_value("Shopware 6")
    expect(dialog.get_by_label("Driver")).not_to_be_editable()
    expect(dialog.get_by_role("tab", name="Credentials")).to_have_attribute("aria-selected", "true")
    secret = dialog.get_by_label("Secret access key", exact=True)
    expect(secret).to_have_attribute("type", "password")
    expect(secret).to_have_value("")
    board.shot("edit-connection-credentials-tab")
    dialog.get_by_label("Name", exact=True).fill("Webshop DE")
    dialog.get_by_label("URL", exact=True).fill(moved_url)  # the shop moved
    dialog.get_by_role("tab", name="Settings").click()
    expect(dialog.get_by_label("Default language")).to_have_value("en-GB")
    dialog.get_by_label("Default language").fill("de-DE")
    board.shot("edit-connection-settings-tab")
    moved.faults.hang, moved.faults.hang_seconds, moved.faults.only = 1, 1.5, "/api/oauth/token"
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("Checking credentials...")).to_be_visible()
    board.shot("edit-checking-credentials")
    expect(dialog).to_be_hidden()
    _sync_triggered(board)
    expect(board.cell("Webshop DE", "Credentials")).to_have_text("Verified")
    board.shot("edit-sync-triggered")
    _close_sync_triggered(board)
    webshop_id = board.row("Webshop DE").get_attribute("data-connection-id")
    edits = board.commands_sent("PATCH", rf"/v1/connections/{webshop_id}$")
    assert edits == [{"name": "Webshop DE", "credentials": {"url": moved_url},
                      "settings": {"default_language": "de-DE"}}], edits
    assert moved.count("/api/oauth/token") >= 1  # the new URL was checked

    # --- Synchronize: toolbar on selection, SYNCHRONIZE, "Sync triggered"; the Processes view shows it live.
    expect(page.locator("#running-count")).to_be_hidden()  # the edit's sync has ended
    # Both model requests of the next sync wait 2 s: after the first, the worker reports how far it got.
    moved.faults.hang, moved.faults.hang_seconds, moved.faults.only = 2, 2.0, "/api/search/"
    toolbar = _select(board, "Webshop DE")
    for action in ("Synchronize", "Disable", "Enable", "Delete"):
        expect(toolbar.get_by_role("button", name=action, exact=True)).to_be_visible()
    board.shot("toolbar-on-selection")
    toolbar.get_by_role("button", name="Synchronize").click()
    _sync_triggered(board)
    expect(board.row("Webshop DE").locator(".outcome")).to_have_text("Sync triggered")
    board.shot("synchronize-sync-triggered")
    _close_sync_triggered(board)
    page.get_by_role("link", name="Processes").click()
    running = page.get_by_role("table", name="Running processes")
    sync_row = running.locator("tr").filter(has_text="Webshop DE").filter(has_text="Sync")
    expect(sync_row).to_contain_text("Running")
    expect(page.locator("#running-count")).to_have_text("1")
    expect(sync_row.locator('td[data-label="Progress"]')).to_have_text("2 done so far")  # live progress
    board.shot("processes-running")
    recent = page.get_by_role("table", name="Recent outcomes")
    expect(page.get_by_text("No process is running")).to_be_visible()  # live: the sync ended
    expect(recent.locator("tr").filter(has_text="Webshop DE").filter(has_text="Sync").first).to_contain_text("Succeeded")
    expect(recent.locator("tr").filter(has_text="Outlet").filter(has_text="Failed")).to_contain_text(
        "Client authentication failed")
    board.shot("processes-recent-outcomes")
    page.get_by_role("link", name="Connections", exact=True).first.click()

    # --- Disable two connections at once; Refresh shows both Inactive.
    toolbar = _select(board, "Webshop DE", "Till")
    toolbar.get_by_role("button", name="Disable").click()
    for name in ("Webshop DE", "Till"):
        expect(board.row(name).locator(".outcome")).to_have_text("Disabled")
        expect(board.cell(name, "Status")).to_have_text("Inactive")
    expect(page.get_by_text("Disable: 2 done.")).to_be_visible()
    page.get_by_role("button", name="Refresh").click()
    for name in ("Webshop DE", "Till"):
        expect(board.cell(name, "Status")).to_have_text("Inactive")
    expect(board.cell("Outlet", "Status")).to_have_text("Active")
    board.shot("disable-two-inactive")

    # --- Enable a connection (both again); Refresh shows Active.
    toolbar.get_by_role("button", name="Enable").click()
    for name in ("Webshop DE", "Till"):
        expect(board.row(name).locator(".outcome")).to_have_text("Enabled")
    page.get_by_role("button", name="Refresh").click()
    for name in ("Webshop DE", "Till"):
        expect(board.cell(name, "Status")).to_have_text("Active")
    board.shot("enable-active")

    # --- Delete is refused while the connection is active: the row says why.
    toolbar = _select(board, "Webshop DE")
    toolbar.get_by_role("button", name="Delete").click()
    _confirm_delete(board)
    outcome = board.row("Webshop DE").locator(".outcome")
    expect(outcome).to_contain_text("Refused")
    expect(outcome).to_have_text('Refused: "Webshop DE" is active: only inactive connections can be deleted')
    expect(board.row("Till").locator(".outcome")).to_be_hidden()  # rows show the latest action's outcome only
    expect(board.cell("Webshop DE", "Status")).to_have_text("Active")
    board.shot("delete-refused-while-active")

    # --- Disable, then delete: Deleting while the worker cleans up, then the row leaves the list.
    toolbar.get_by_role("button", name="Disable").click()
    expect(board.cell("Webshop DE", "Status")).to_have_text("Inactive")
    stack.stack.stop("worker-shopware6")  # deleting takes a while: here, until the worker is back
    toolbar.get_by_role("button", name="Delete").click()
    _confirm_delete(board)
    expect(page.get_by_text("Delete: 1 done.")).to_be_visible()
    expect(board.row("Webshop DE").locator(".outcome")).to_have_text("Deletion started")
    expect(board.cell("Webshop DE", "Status")).to_have_text("Deleting")
    board.shot("delete-deleting")
    stack.stack.start("worker-shopware6")
    expect(board.row("Webshop DE")).to_have_count(0)  # live: gone once the clean-up ran
    page.get_by_role("button", name="Refresh").click()
    expect(board.row("Webshop DE")).to_have_count(0)
    expect(board.row("Outlet")).to_have_count(1)
    expect(board.row("Till")).to_have_count(1)
    board.shot("deleted-removed-from-list")
    assert [row["name"] for row in stack.list_rows()] == ["Outlet", "Till"]
