"""The authorization pages behind ``authUrl``, clicked through in a real headless Chromium.

The HTTP-level tests in ``test_connections.py`` post the forms the way a browser would; these load the pages
in Chromium itself, so relative form actions and links, the buttons a customer sees and the outcome they read
are checked as a customer meets them, and the API is then asked what the click did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from sync2books.models import ConnectionStatus, IntegrationKey
from tests.support.sandbox_client import SandboxClient

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # Without these Chromium reaches for the internet, which is closed in CI.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Generous for a loaded CI runner, far below pytest-timeout's 180 s.
TIMEOUT_MS = 15_000


@pytest.fixture
def chromium_path() -> Path:
    """Debian's chromium; a missing browser fails the tests (CI installs it), it never skips them."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = await context.new_page()
    try:
        yield tab
    finally:
        await context.close()


async def open_ok(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 200, response and await response.text()


async def click_and_wait(page: Page, selector: str) -> None:
    """Click a button that submits a form (or a link) and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.click(selector)


async def test_authorize_creates_exactly_one_connected_connection(client: SandboxClient, page: Page) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.XERO)

    await open_ok(page, link.auth_url)
    await expect(page.locator("main")).to_contain_text("Acme Ltd")
    await expect(page.locator("h1")).to_have_text("Connect Xero")
    await expect(page.locator("#authorize")).to_be_visible()
    await expect(page.locator("#deny")).to_be_visible()
    assert await client.list_connections(company.id) == [], "opening the page alone must connect nothing"

    await click_and_wait(page, "#authorize")
    await expect(page.locator("h1#outcome")).to_have_text("Xero is connected")
    await expect(page.locator("main")).to_contain_text("Acme Ltd can now sync expenses to Xero")

    (connection,) = await client.list_connections(company.id)
    assert connection.status == ConnectionStatus.CONNECTED
    assert (connection.company_id, connection.integration_key) == (company.id, IntegrationKey.XERO)
    assert connection.platform_name == "Xero"


async def test_deny_creates_no_connection(client: SandboxClient, page: Page) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.XERO)

    await open_ok(page, link.auth_url)
    await click_and_wait(page, "#deny")
    await expect(page.locator("h1#outcome")).to_have_text("Xero was not connected")
    await expect(page.locator("#authorize")).to_have_count(0)

    assert await client.list_connections(company.id) == []


async def test_a_used_link_is_refused_and_creates_nothing(client: SandboxClient, browser: Browser) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.XERO)
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        first = await context.new_page()
        await open_ok(first, link.auth_url)
        # A second tab left open on the same link before the click: a customer who clicks there later.
        stale = await context.new_page()
        await open_ok(stale, link.auth_url)
        await click_and_wait(first, "#authorize")
        await expect(first.locator("h1#outcome")).to_have_text("Xero is connected")
        assert len(await client.list_connections(company.id)) == 1

        again = await context.new_page()
        response = await again.goto(link.auth_url)
        assert response is not None and response.status == 410
        await expect(again.locator("h1#outcome")).to_have_text("This link has already been used")
        await expect(again.locator("#authorize")).to_have_count(0)
        await expect(again.locator("#deny")).to_have_count(0)

        # The stale tab still shows the buttons; its form must not connect a second time.
        await expect(stale.locator("#authorize")).to_be_visible()
        async with stale.expect_navigation() as navigation:
            await stale.click("#authorize")
        refused = await navigation.value
        assert refused is not None and refused.status == 410
        await expect(stale.locator("h1#outcome")).to_have_text("This link has already been used")

        (connection,) = await client.list_connections(company.id)
        assert connection.status == ConnectionStatus.CONNECTED
    finally:
        await context.close()


async def test_a_denied_link_reopened_is_refused_and_connects_nothing(client: SandboxClient, page: Page) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.XERO)

    await open_ok(page, link.auth_url)
    await click_and_wait(page, "#deny")
    await expect(page.locator("h1#outcome")).to_have_text("Xero was not connected")

    response = await page.goto(link.auth_url)
    assert response is not None and response.status == 410
    await expect(page.locator("h1#outcome")).to_have_text("This link has already been used")
    await expect(page.locator("#authorize")).to_have_count(0)

    assert await client.list_connections(company.id) == []


async def test_the_chooser_leads_to_the_chosen_softwares_authorize_page(client: SandboxClient, page: Page) -> None:
    company = await client.create_company("Acme Ltd")

    await open_ok(page, company.auth_url)
    await expect(page.locator("main p").first).to_contain_text("Acme Ltd")
    softwares = page.locator("a.software")
    await expect(softwares).to_have_count(4)
    assert sorted(await softwares.evaluate_all("links => links.map(a => a.dataset.integration)")) == sorted(
        key.value for key in IntegrationKey
    )
    await expect(softwares).to_have_text(["QuickBooks Online", "QuickBooks Desktop", "Xero", "Sage"])

    await click_and_wait(page, "a.software[data-integration=QUICKBOOKS]")
    await expect(page.locator("h1")).to_have_text("Connect QuickBooks Online")
    await expect(page.locator("main")).to_contain_text("Acme Ltd")
    await click_and_wait(page, "#authorize")
    await expect(page.locator("h1#outcome")).to_have_text("QuickBooks Online is connected")

    (connection,) = await client.list_connections(company.id)
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.integration_key == IntegrationKey.QUICKBOOKS


async def test_screenshot_of_the_authorize_page(client: SandboxClient, page: Page, tmp_path: Path) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.XERO)

    await page.set_viewport_size({"width": 800, "height": 600})
    await open_ok(page, link.auth_url)
    await expect(page.locator("#authorize")).to_be_visible()
    shot = tmp_path / "authorize.png"
    await page.screenshot(path=shot, full_page=True)

    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5 * 1024, f"a {len(data)}-byte screenshot is too small to show the page"
    assert await client.list_connections(company.id) == []
