"""Headless Chromium shows the events examples/realtime streams, served by a real gunicorn.

Debian's ``chromium`` and ``chromium-driver`` packages are driven through
selenium with explicit paths, so selenium-manager never downloads a browser or
a driver; the browser gets a fresh profile under ``tmp_path`` and no network
features beyond the loopback server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import WAIT
from tests.support.servers import ROOT, Server, gunicorn

pytestmark = pytest.mark.browser

EXAMPLE = ROOT / "examples" / "realtime"


@pytest.fixture
def server() -> Iterator[Server]:
    env = {"REALTIME_TICK": "0.2"}
    with gunicorn(
        f"handlerkit:create_app({str(EXAMPLE)!r})", worker_class="gthread", threads=8, env=env
    ) as running:
        yield running


def items(driver: webdriver.Chrome, kind: str) -> list[str]:
    return [
        element.text
        for element in driver.find_elements(By.CSS_SELECTOR, f'#events li[data-kind="{kind}"]')
    ]


def test_the_page_renders_streamed_ticks_and_a_message_sent_from_its_form(
    server: Server, browser: webdriver.Chrome
) -> None:
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, WAIT, poll_frequency=0.1)

    wait.until(lambda driver: len(items(driver, "tick")) >= 3)
    ticks = items(browser, "tick")
    assert browser.find_element(By.ID, "status").text == "connected"
    # newest first: the page prepends; the server counts ticks from 1 per connection
    numbers = [int(text.split("#", 1)[1].split(" ", 1)[0]) for text in ticks]
    assert numbers == sorted(numbers, reverse=True) and min(numbers) == 1

    browser.find_element(By.ID, "text").send_keys("hello <b>browser</b>")
    browser.find_element(By.CSS_SELECTOR, "#send button").click()
    wait.until(lambda driver: items(driver, "message"))
    assert items(browser, "message") == ["message: hello <b>browser</b>"]
    assert browser.find_elements(By.CSS_SELECTOR, "#events b") == []  # rendered as text, not markup
    assert browser.find_element(By.ID, "text").get_attribute("value") == ""
