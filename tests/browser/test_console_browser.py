"""The web console in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium against a real ``vectorhouse serve`` holding a
small collection embedded by the bundled model.

Selenium is pointed at ``/usr/bin/chromedriver`` and ``/usr/bin/chromium``, so Selenium
Manager (which would download a driver) never runs; the test fails if it is called.
Chromium gets a proxy on a closed local port, so anything the page tried to load from
another host would fail, and the test checks that every resource came from the server.

The screenshot is saved under ``tests/artifacts/`` (ignored by git) and its path printed;
``docs/console.png`` in the README is a copy of it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import vectorhouse
from vectorhouse.server import RunningServer, running_server

from .corpus import records

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
TOKEN = "console-browser-token-42"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WINDOW = (1360, 860)
DASH = "\N{EN DASH}"  # as in the pager's "1-20 of 48"

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs Debian's chromium and chromium-driver: {INSTALL}")
    pytest.skip(f"needs Debian's chromium and chromium-driver ({INSTALL})", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.selenium_manager import SeleniumManager  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _no_selenium_manager(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("Selenium Manager was called: it would download a driver")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A served database with the corpus (embedded by the server with the bundled
    model) in ``console-demo``, and a small second collection."""
    path = tmp_path_factory.mktemp("console-db")
    with running_server(path, token=TOKEN) as running:
        with vectorhouse.HttpClient(
            host=running.host, port=running.port, headers=running.headers
        ) as client:
            demo = client.create_collection("console-demo", metadata={"hnsw:space": "cosine"})
            demo.add(**records())
            client.create_collection("notes").add(
                ids=["milk", "plumber", "dentist"],
                documents=["Buy milk and eggs", "Call the plumber about the sink", "Dentist at 3"],
                metadatas=[{"list": "shopping"}, {"list": "home"}, {"list": "health"}],
            )
        yield running


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in [
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        # No network beyond this machine: every non-loopback request goes to a closed port.
        "--proxy-server=http://127.0.0.1:9",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        patch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
        browser = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        try:
            yield browser
        finally:
            browser.quit()


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def by_id(driver: WebDriver, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def attr(driver: WebDriver, element_id: str, name: str) -> str | None:
    value: str | None = by_id(driver, element_id).get_attribute(name)
    return value


def map_settled(driver: WebDriver, points: int) -> None:
    wait(
        driver,
        lambda d: (
            attr(d, "map", "data-ready") == "true" and attr(d, "map", "data-points") == str(points)
        ),
    )


def open_console(driver: WebDriver, server: RunningServer) -> None:
    driver.get(server.url + "/")
    wait(
        driver,
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") != "loading",
    )


def pick(driver: WebDriver, collection: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#collections button[data-name="{collection}"]').click()
    wait(driver, lambda d: by_id(d, "collection-title").text == collection)


def search(driver: WebDriver, text: str) -> list[str]:
    box = by_id(driver, "search-input")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait(driver, lambda d: text in by_id(d, "search-summary").text)
    items = driver.find_elements(By.CSS_SELECTOR, "#search-results li")
    return [str(li.get_attribute("data-id")) for li in items]


def apply_filter(driver: WebDriver, where: dict[str, Any] | None) -> None:
    box = by_id(driver, "where-input")
    box.clear()
    if where is not None:
        box.send_keys(json.dumps(where))
    driver.find_element(By.CSS_SELECTOR, "#filter-form button[type=submit]").click()


def page_info(driver: WebDriver) -> str:
    """The pager's text, also while the records tab is hidden."""
    return str(by_id(driver, "page-info").get_attribute("textContent"))


def test_console_asks_for_the_token_then_searches_and_maps(
    driver: WebDriver, server: RunningServer
) -> None:
    open_console(driver, server)
    # Without a token: a clear message, and no data shown.
    assert by_id(driver, "token-panel").is_displayed()
    assert not by_id(driver, "app").is_displayed()
    assert "needs its bearer token" in by_id(driver, "token-message").text
    by_id(driver, "token-input").send_keys("not-the-token")
    driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
    wait(driver, lambda d: "refused this token" in by_id(d, "token-message").text)
    by_id(driver, "token-input").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
    wait(
        driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"
    )

    # The collections list, with counts, dimension, space and model.
    entries = {
        str(b.get_attribute("data-name")): b.text
        for b in driver.find_elements(By.CSS_SELECTOR, "#collections button")
    }
    assert set(entries) == {"console-demo", "notes"}
    assert "48 records · 384-d · cosine · default · all-MiniLM-L6-v2" in entries["console-demo"]
    assert "3 records" in entries["notes"]

    # The map: one point per record, coloured by the first metadata key.
    pick(driver, "console-demo")
    map_settled(driver, 48)
    assert by_id(driver, "color-key").get_attribute("value") == "topic"
    legend = by_id(driver, "legend").text
    for topic in ("astronomy", "cooking", "programming", "sports"):
        assert f"{topic} (12)" in legend

    # A search: the expected document first, query words marked, the query on the map.
    found = search(driver, "how long should bread dough rise")
    assert found[0] == "cooking-bread"
    assert len(found) == 10
    first = driver.find_element(By.CSS_SELECTOR, "#search-results li")
    marks = [m.text.lower() for m in first.find_elements(By.TAG_NAME, "mark")]
    assert marks == ["bread", "dough", "rise"]
    assert "cosine similarity" in first.text
    wait(driver, lambda d: attr(d, "map", "data-query-point"))
    ringed = json.loads(attr(driver, "map", "data-result-points") or "[]")
    assert len(ringed) == 10

    # Hovering the best result's point shows its document.
    canvas = by_id(driver, "map")
    x, y = ringed[0]
    size = canvas.size
    ActionChains(driver).move_to_element_with_offset(
        canvas, x - size["width"] // 2, y - size["height"] // 2
    ).perform()
    wait(driver, lambda d: by_id(d, "tooltip").is_displayed())
    assert "Bread dough should rise" in by_id(driver, "tooltip").text

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "console.png"
    assert driver.save_screenshot(str(shot))
    print(f"console screenshot: {shot}")
    assert shot.stat().st_size > 10_000

    # Everything came from the server itself: no CDN, no other host.
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(r.startswith(server.url + "/") for r in resources), resources
    problems = [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "/console/api/info - " not in e["message"]
    ]
    assert problems == [] or all("401" in p for p in problems), problems


def test_records_are_browsed_filtered_and_deleted_after_confirmation(
    driver: WebDriver, server: RunningServer
) -> None:
    with vectorhouse.HttpClient(host=server.host, port=server.port, headers=server.headers) as c:
        scratch = c.create_collection("scratch", metadata={"hnsw:space": "cosine"})
        data = records()
        scratch.add(**data)
    # The token was entered once: it is still in this tab's session storage.
    open_console(driver, server)
    assert not by_id(driver, "token-panel").is_displayed()
    pick(driver, "scratch")
    driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="records"]').click()
    wait(driver, lambda d: page_info(d) == f"1{DASH}20 of 48")
    rows = driver.find_elements(By.CSS_SELECTOR, "#records tbody tr")
    assert [r.get_attribute("data-id") for r in rows] == data["ids"][:20]
    by_id(driver, "page-next").click()
    wait(driver, lambda d: page_info(d) == f"21{DASH}40 of 48")

    # A record's full document and metadata.
    driver.find_element(By.CSS_SELECTOR, "#records tbody tr").click()
    wait(driver, lambda d: by_id(d, "record-dialog").is_displayed())
    assert by_id(driver, "record-id").text == data["ids"][20]
    assert by_id(driver, "record-document").text == data["documents"][20]
    assert json.loads(by_id(driver, "record-metadata").text) == data["metadatas"][20]
    driver.find_element(By.CSS_SELECTOR, "#record-dialog button[value=close]").click()

    # The filter narrows the records, the map and the search alike.
    apply_filter(driver, {"topic": "astronomy"})
    wait(driver, lambda d: page_info(d) == f"1{DASH}12 of 12 matching")
    map_settled(driver, 12)
    driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="search"]').click()
    found = search(driver, "how long should bread dough rise")
    assert found and all(f.startswith("astronomy-") for f in found)
    apply_filter(driver, {"year": {"$gt": "x"}})
    wait(driver, lambda d: "$gt" in by_id(d, "filter-error").text)
    wait(driver, lambda d: page_info(d) == "")  # no page of a bad filter
    apply_filter(driver, {"topic": "astronomy"})
    wait(driver, lambda d: page_info(d) == f"1{DASH}12 of 12 matching")
    assert by_id(driver, "filter-error").text == ""

    # Delete: cancelled first, then confirmed.
    driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="records"]').click()
    wait(driver, lambda d: page_info(d) == f"1{DASH}12 of 12 matching")
    target = "astronomy-mars"
    delete = f'#records button[data-delete="{target}"]'
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, delete))
    driver.find_element(By.CSS_SELECTOR, delete).click()
    wait(driver, lambda d: by_id(d, "confirm-dialog").is_displayed())
    assert target in by_id(driver, "confirm-text").text
    by_id(driver, "confirm-cancel").click()
    time.sleep(0.3)
    assert page_info(driver) == f"1{DASH}12 of 12 matching"
    driver.find_element(By.CSS_SELECTOR, delete).click()
    wait(driver, lambda d: by_id(d, "confirm-dialog").is_displayed())
    by_id(driver, "confirm-ok").click()
    wait(driver, lambda d: page_info(d) == f"1{DASH}11 of 11 matching")
    map_settled(driver, 11)
    assert "Deleted 1 record from scratch" in by_id(driver, "notice").text
    with vectorhouse.HttpClient(host=server.host, port=server.port, headers=server.headers) as c:
        assert c.get_collection("scratch").get(ids=[target])["ids"] == []
        assert c.get_collection("scratch").count() == 47


def test_a_read_only_server_offers_no_delete(driver: WebDriver, tmp_path: Path) -> None:
    with vectorhouse.PersistentClient(path=tmp_path) as setup:
        col = setup.create_collection("frozen", embedding_function=None)
        col.add(
            ids=[f"v{i}" for i in range(30)],
            embeddings=[[float(i % 3), float(i % 5), float(i)] for i in range(30)],
            documents=[f"vector {i}" for i in range(30)],
            metadatas=[{"group": i % 3} for i in range(30)],
        )
    with running_server(tmp_path, args=["--read-only"]) as server:
        open_console(driver, server)  # no token on this server: no prompt
        wait(
            driver,
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
        )
        assert "read-only" in by_id(driver, "server-info").text
        map_settled(driver, 30)
        driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="records"]').click()
        wait(driver, lambda d: page_info(d) == f"1{DASH}20 of 30")
        assert driver.find_elements(By.CSS_SELECTOR, "#records button[data-delete]") == []
        driver.find_element(By.CSS_SELECTOR, "#records tbody tr").click()
        wait(driver, lambda d: by_id(d, "record-dialog").is_displayed())
        assert not by_id(driver, "record-delete").is_displayed()
        driver.find_element(By.CSS_SELECTOR, "#record-dialog button[value=close]").click()
        # and the server itself refuses the write the page does not offer
        status = driver.execute_async_script(
            """const done = arguments[arguments.length - 1];
            fetch('/api/v2/tenants/default_tenant/databases/default_database/collections',
                  {method: 'POST', headers: {'Content-Type': 'application/json'},
                   body: JSON.stringify({name: 'sneaky'})})
              .then(r => done(r.status));"""
        )
        assert status == 403
        # a collection of raw vectors has no model to embed a text query with
        driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="search"]').click()
        box = by_id(driver, "search-input")
        assert not box.is_enabled()
        assert "no embedding function" in str(box.get_attribute("placeholder"))
