"""The pages in a real headless browser (Debian's chromium driven by playwright) against the app served by uvicorn:
the charts drew, every request succeeded, the console stayed clean. Screenshots are kept under .var/artifacts/pages/."""

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.parties import agreed_deal, parties
from tests.support import bearer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".var" / "artifacts" / "pages"
MESSAGE = {"message": "Interested in this technology."}


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext | Browser]:
    """A fresh headless chromium with a profile of its own, closed after the test."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    profile = tempfile.mkdtemp(prefix="pages-chromium-")
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS
            )
            try:
                yield context
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Watched:
    """What a page did while loading: every request, the failed ones, answers of 400 or more, console errors."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url} {request.failure}"))
        page.on("response", lambda response: response.status >= 400 and self.failed.append(response.url))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def clean(self, base_url: str) -> None:
        """Nothing failed, nothing came from elsewhere, the console stayed quiet."""
        assert self.requests and all(url.startswith(base_url) for url in self.requests), self.requests
        assert self.failed == [] and self.errors == []


async def _shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


async def test_the_stats_and_listing_pages_draw_in_a_real_browser(live, conn, browser):
    p = await parties(live, conn)
    await live.post(f"/v1/offers/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(p.buyer))
    await agreed_deal(live, p, amount=700_000_000)
    stats = (await live.get("/v1/stats")).json()
    base_url = str(live.base_url).rstrip("/")

    page = await browser.new_page()
    watched = Watched(page)
    answer = await page.goto(f"{base_url}/stats?lang=en", wait_until="load")
    assert answer is not None and answer.status == 200
    assert await page.title() == "Exchange statistics · National Technology Exchange"
    expected = {
        "by-sector": len(stats["listings"]["by_sector"]),
        "by-province": 34,
        "offers-vs-demands": 2,
        "interests": 3,
        "deals-by-stage": len(stats["deals"]["by_stage"]),
        "over-time": 2 * len(stats["over_time"]),
    }
    assert all(expected.values())
    for chart_id, bars in expected.items():
        svg = page.locator(f"svg#{chart_id}")
        box = await svg.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 20, (chart_id, box)
        assert await svg.locator("rect.bar").count() == bars, chart_id
        assert await svg.locator("title").first.text_content()
        # Every bar of a figure above zero is drawn with a size the reader can see.
        drawn = await svg.locator("rect.bar").evaluate_all(
            "rects => rects.filter(r => Number(r.dataset.value) > 0)"
            ".map(r => { const b = r.getBBox(); return b.width * b.height; })"
        )
        assert drawn and all(area > 0 for area in drawn), (chart_id, drawn)
    shot = await _shot(page, "stats-en.png")
    assert shot.stat().st_size > 10_000
    watched.clean(base_url)

    page = await browser.new_page()
    watched = Watched(page)
    answer = await page.goto(f"{base_url}/offers/{p.offer['id']}", wait_until="load")
    assert answer is not None and answer.status == 200
    assert (await page.title()).startswith(p.offer["title"])
    assert await page.locator("html").get_attribute("lang") == "vi"
    assert await page.locator("h1").text_content() == p.offer["title"]
    ld = await page.locator('script[type="application/ld+json"]').evaluate("s => JSON.parse(s.textContent)")
    assert ld["@type"] == "Product" and ld["name"] == p.offer["title"]
    box = await page.locator("dl.facts").bounding_box()
    assert box is not None and box["height"] > 50
    await _shot(page, "offer-vi.png")
    watched.clean(base_url)

    # A listing taken off the exchange is a 404 page in the browser at once.
    assert (await live.post(f"/v1/offers/{p.offer['id']}/withdraw", headers=bearer(p.seller))).status_code == 200
    page = await browser.new_page()
    answer = await page.goto(f"{base_url}/offers/{p.offer['id']}", wait_until="load")
    assert answer is not None and answer.status == 404
    # The browser asks for English (Accept-Language: en-US), so the 404 page is in English.
    assert await page.locator("h1").text_content() == "Page not found"
