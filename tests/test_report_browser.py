"""The report in a real browser: Debian's headless Chromium (installed by `make browser`, which
`make test` runs) loads the default scenario's report from a file URL with the network switched
off; no console errors, every figure drawn with data, and a screenshot that is not blank."""

import io
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed (`make browser` installs them "
        "with apt-get)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2400",
)
MIN_FIGURES = 8  # plan, frontier, break-even, ledger, levers, energy, routing, allocation


@pytest.fixture(scope="module")
def report(default_report) -> Path:
    return default_report[0]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    try:
        driver.set_network_conditions(
            offline=True, latency=0, download_throughput=0, upload_throughput=0
        )
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(browser, report):
    browser.get(report.as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "[...document.querySelectorAll('.plotly-graph-div')]"
            ".every(el => el.classList.contains('js-plotly-plot'))"
        )
    )
    return browser


def test_no_console_errors_offline(page):
    """Offline, any fetch the report tried would log a net::ERR_INTERNET_DISCONNECTED error."""
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    assert page.execute_script("return typeof Plotly") == "object"


def test_every_figure_is_drawn_with_data(page):
    figures = page.execute_script(
        """return [...document.querySelectorAll('.plotly-graph-div')].map(el => ({
            id: el.id,
            traces: (el._fullData || []).length,
            points: (el._fullData || []).reduce(
                (n, t) => n + ((t.z || t.x || t.y || []).length || 0), 0),
            svg: el.querySelectorAll('svg.main-svg').length,
            marks: el.querySelectorAll('.trace, .point, path.js-line, .hm, image').length}));"""
    )
    assert len(figures) >= MIN_FIGURES, [f["id"] for f in figures]
    for drawn in figures:
        assert drawn["traces"] >= 1 and drawn["points"] >= 2, drawn
        assert drawn["svg"] >= 1 and drawn["marks"] >= 1, drawn


def test_screenshot_is_not_blank(page):
    pixels = mpimg.imread(io.BytesIO(page.get_screenshot_as_png()), format="png")[..., :3]
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, "the screenshot is one flat colour"
    assert (pixels < 0.9).any(axis=2).mean() > 0.02, "almost nothing is drawn"
