"""The interactive docs page (``App(docs_path=...)``) in headless Chromium, served by a real gunicorn.

The page loads with no network but the loopback server (Swagger UI's files come
from the ``docs`` extra, never a CDN), lists the app's operations, and "Try it
out" on a GET reaches the app and shows its 200.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from handlerkit.testing import write_app
from tests.browser.conftest import WAIT
from tests.support.servers import Server, gunicorn

pytestmark = pytest.mark.browser

ROUTES = {
    "api/items/[id]/route.py": (
        "def GET(request, context):\n"
        "    '''One item, by id.'''\n"
        "    return {'id': context.params['id'], 'name': 'item ' + context.params['id']}\n"
    ),
    "api/health/route.py": "def GET():\n    '''Liveness.'''\n    return {'ok': True}\n",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    app_dir = write_app(tmp_path / "app", ROUTES)
    target = f"handlerkit:create_app({str(app_dir)!r}, openapi_path='/openapi.json', docs_path='/docs')"
    with gunicorn(target) as running:
        yield running


def test_the_page_is_self_contained_and_locked_down(server: Server) -> None:
    with urllib.request.urlopen(server.url + "/docs", timeout=10) as response:
        page = response.read().decode()
        headers = response.headers
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]  # no inline script runs
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    # the docs routes are not operations of the API itself
    with urllib.request.urlopen(server.url + "/openapi.json", timeout=10) as response:
        assert set(json.loads(response.read())["paths"]) == {"/api/items/{id}", "/api/health"}


def test_the_page_lists_the_operations_and_try_it_out_gets_a_200(
    server: Server, browser: webdriver.Chrome
) -> None:
    browser.get(server.url + "/docs")
    wait = WebDriverWait(browser, WAIT, poll_frequency=0.1)

    def operations(driver: webdriver.Chrome) -> list[tuple[str, str]]:
        return sorted(
            (
                block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
                block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text.replace("\u200b", ""),
            )
            for block in driver.find_elements(By.CSS_SELECTOR, ".opblock")
        )

    wait.until(lambda driver: len(operations(driver)) == 4)
    assert operations(browser) == [  # HEAD is documented beside each GET, as the App answers it
        ("GET", "/api/health"), ("GET", "/api/items/{id}"), ("HEAD", "/api/health"), ("HEAD", "/api/items/{id}"),
    ]

    item = next(
        block for block in browser.find_elements(By.CSS_SELECTOR, ".opblock-get")
        if "/api/items/{id}" in block.text.replace("\u200b", "")
    )
    item.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda driver: item.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    item.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    field = wait.until(lambda driver: item.find_element(By.CSS_SELECTOR, ".parameters input"))
    field.send_keys("42")
    item.find_element(By.CSS_SELECTOR, ".execute").click()

    def status(driver: webdriver.Chrome) -> str:
        cells = item.find_elements(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status")
        return cells[0].text if cells else ""

    wait.until(lambda driver: status(driver))
    assert status(browser).splitlines()[0] == "200"  # then "Undocumented": the spec says 2XX
    body = item.find_element(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_description pre").text
    assert json.loads(body) == {"id": "42", "name": "item 42"}
    # nothing the page asked for left the loopback server, and nothing it asked for failed
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    entries = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert entries and all(name.startswith(server.url) for name in entries), entries
