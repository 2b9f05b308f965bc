"""The report in a real browser (Debian's chromium, headless, driven by selenium): one card
per claim, summary counts equal to results.json, working filters, no console errors, and a
screenshot for people. Skipped when chromium is absent, unless CLAIMS_REQUIRE_BROWSER=1
(CI sets it, after installing chromium)."""
import json
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[1] / "reports" / "browser" / "report.png"


@pytest.fixture
def browser():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if path is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        if os.environ.get("CLAIMS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test needs {', '.join(missing)}: apt-get install chromium "
                        f"chromium-driver")
        pytest.skip(f"no {', '.join(missing)} (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def report(pytester, synthetic_suite):
    """A report with three claims in two families and two verdicts."""
    synthetic_suite()
    synthetic_suite(name="test_two", id="G98", slopes="3.0")
    synthetic_suite(name="test_three", id="O99", slopes="0.0", expected="REFUTED")
    pytester.runpytest("--report-dir", "out").assert_outcomes(passed=3)
    return pytester.path / "out"


def _visible_cards(driver):
    return [c.get_attribute("id") for c in driver.find_elements("css selector", ".claim-card")
            if c.is_displayed()]


def test_report_renders_filters_and_has_no_console_errors(browser, report):
    document = json.loads((report / "results.json").read_text())
    browser.get((report / "index.html").as_uri())
    cards = browser.find_elements("css selector", ".claim-card")
    assert sorted(c.get_attribute("id") for c in cards) == sorted(
        f"claim-{c['id']}" for c in document["claims"])
    for verdict in ("SUPPORTED", "REFUTED", "INCONCLUSIVE"):
        tile = browser.find_element("css selector", f'[data-count-verdict="{verdict}"] b')
        assert int(tile.text) == sum(c["verdict"] == verdict for c in document["claims"])
    assert browser.find_elements("css selector", ".claim-card svg"), "plots missing"

    browser.find_element("css selector", 'input.filter[value="REFUTED"]').click()
    assert _visible_cards(browser) == ["claim-G98", "claim-G99"]
    browser.find_element("css selector", 'input.filter[data-kind="family"][value="G"]').click()
    assert _visible_cards(browser) == []
    assert "0 of 3 claims shown" in browser.find_element("id", "shown-count").text
    for box in browser.find_elements("css selector", "input.filter"):
        if not box.is_selected():
            box.click()
    assert len(_visible_cards(browser)) == 3

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))


CRITIC_CLAIM = '''
import numpy as np
from harness import Claim, Verdict

CLAIM = Claim(id="{id}", title="{id} synthetic", statement="y rises with x",
              source="tests/test_report_browser.py", expected=Verdict.SUPPORTED,
              why_expected="a known slope", speaks_to={speaks_to}, regime="{regime}")


def test_trend(claim, seeds):
    rng = seeds.numpy()
    x = np.linspace(0, 1, 6)
    claim.expect_trend(x, 2.0 * x[:, None] + rng.normal(0, 0.1, (6, 6)),
                       direction="increasing", min_effect=0.5, name="y rises with x")
    claim.control_trend(x, rng.normal(0, 0.1, (6, 6)), direction="increasing",
                        min_effect=0.5, name="pure noise (control)")
'''


@pytest.fixture
def critic_report(pytester):
    """An F claim (F97) that speaks to G97, which does not name it back."""
    pytester.makeini("[pytest]\naddopts = -p harness.plugin -p no:cacheprovider\n")
    pytester.makepyfile(
        test_g97=CRITIC_CLAIM.format(id="G97", speaks_to="()", regime="short runs"),
        test_f97=CRITIC_CLAIM.format(id="F97", speaks_to='("G97",)', regime="long runs"))
    pytester.runpytest("--report-dir", "out").assert_outcomes(passed=2)
    return pytester.path / "out"


def test_critics_view_renders_side_by_side_with_working_links(browser, critic_report):
    browser.get((critic_report / "index.html").as_uri())
    section = browser.find_element("id", "critics")
    assert section.is_displayed()
    pairs = section.find_elements("css selector", ".pair")
    assert [(p.get_attribute("data-critic"), p.get_attribute("data-target"))
            for p in pairs] == [("F97", "G97")]
    critic, target = pairs[0].find_elements("css selector", ".side")
    assert critic.location["y"] == target.location["y"]  # side by side, not stacked
    assert critic.location["x"] < target.location["x"]
    assert "long runs" in critic.text and "short runs" in target.text
    assert "SUPPORTED" in critic.text and "SUPPORTED" in target.text
    assert "different regimes" in pairs[0].find_element("css selector", ".sentence").text
    target.find_element("css selector", 'a[href="#claim-G97"]').click()
    assert browser.current_url.endswith("#claim-G97")
    card = browser.find_element("id", "claim-G97")
    back = card.find_element("css selector", ".backlinks")
    assert "Spoken to by: F97" in back.text
    back.find_element("css selector", 'a[href="#claim-F97"]').click()
    assert browser.current_url.endswith("#claim-F97")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
