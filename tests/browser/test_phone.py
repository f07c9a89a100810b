"""The app on a 360 × 800 phone: the header's menu behind a button, no page scrolling sideways and nothing drawn
over anything else on any page the roles use, unsent form drafts surviving a reload, and the web app manifest
(installing on the home screen)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}
WIDE = {"width": 1366, "height": 768}


def _phone(open_as, who: str):
    return open_as(who, viewport=PHONE, is_mobile=True, has_touch=True)


def _menu(page):
    return page.get_by_role("navigation", name="Menu utama")


def test_header_menu_collapses_on_a_phone(live_server, open_as):
    page = _phone(open_as, "admin")
    button = page.get_by_role("button", name=re.compile("^Menu"))
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "main-menu")
    expect(_menu(page)).to_be_hidden()
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 72, f"the phone header is {header['height']} px tall"

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(_menu(page).get_by_role("link", name="Kasus", exact=True)).to_be_visible()
    button.click()
    expect(_menu(page)).to_be_hidden()

    # The keyboard: Enter opens, Tab reaches the links, Escape closes and gives the focus back.
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(_menu(page).get_by_role("link", name="Kotak tugas")).to_be_focused()
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "true")
    _menu(page).get_by_role("link", name="Kasus", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "/kasus" in page.url


def test_header_menu_without_javascript_and_on_a_wide_screen(live_server, open_as):
    plain = open_as("admin", viewport=PHONE, java_script_enabled=False)
    expect(_menu(plain).get_by_role("link", name="Kasus", exact=True)).to_be_visible()
    expect(plain.get_by_role("button", name=re.compile("^Menu"))).to_be_hidden()

    wide = open_as("admin", viewport=WIDE)
    expect(wide.get_by_role("button", name=re.compile("^Menu"))).to_be_hidden()
    expect(_menu(wide).get_by_role("link", name="Kasus", exact=True)).to_be_visible()
    header = wide.locator("header.topbar").bounding_box()
    assert header["height"] <= 80, f"the desktop header is {header['height']} px tall (one row expected)"
