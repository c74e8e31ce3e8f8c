"""The website passes an automated accessibility audit: axe-core inside headless Chromium.

Every page a visitor reaches (:data:`PAGES`) is loaded by Selenium in
Debian's Chromium through ``/usr/bin/chromedriver`` (no Selenium Manager
download: the driver's path is given and ``SE_OFFLINE`` is set), axe-core
(npm, pinned in ``tests/accessibility/package.json``, installed there with
``npm ci``) is injected and run, and no violation of impact "serious" or
"critical" may remain. Screenshots at 1280x900 and 390x844 are written to
the test's temporary folder for a person to look at.

Without Chromium, its driver, node/npm or axe-core the test skips ("not
installed"); with ``CI=true`` it fails instead (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from serverproc import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "tests" / "accessibility"
AXE = AUDIT / "node_modules" / "axe-core" / "axe.min.js"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: The pages audited, each with why it is there. Adding one is one line; a
#: path that answers 404 (a page another part of the work has not added yet)
#: is skipped with that reason, every other page must pass.
PAGES = [
    ("/", "the front page"),
    ("/who", "who is online"),
    ("/~alice", "a player's homepage with content"),
    ("/help", "the help pages"),
    ("/rooms", "the map's text alternative"),
    ("/play", "the web client (before it has connected and after)"),
    ("/no-such-page", None),  # the 404 page itself (None: its status is 404 on purpose)
]

#: Screen sizes for the screenshots: a laptop and a phone.
SIZES = [(1280, 900), (390, 844)]


def _axe_source() -> str:
    """axe-core's script, installed with ``npm ci`` from the project's lockfile if missing."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("node/npm is not installed (needed for axe-core)")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=AUDIT, capture_output=True,
            text=True, timeout=300,
        )
        if done.returncode != 0 or not AXE.exists():
            pytest.skip(f"axe-core is not installed (npm ci failed: {done.stderr[-500:]})")
    return AXE.read_text(encoding="utf-8")


def _driver():
    if CHROMIUM is None or not os.access(CHROMEDRIVER, os.X_OK):
        pytest.skip("chromium or chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_every_page_passes_axe_core(tmp_path):
    """No serious or critical axe-core violation on any page, at laptop and phone sizes."""
    axe = _axe_source()
    with ServerProcess(tmp_path, expect=("telnet", "http")) as server:
        alice = server.telnet()
        alice.command("create Alice secret12")
        alice.command("homepage # Alice's travels\n")
        alice.command(
            "homepage I keep a **journal** of the [village](/rooms).\n\n"
            "| day | where |\n|---|---|\n| 1 | The Hall |"
        )
        base = f"http://127.0.0.1:{server.ports['http']}"
        driver = _driver()
        problems: list[str] = []
        skipped: list[str] = []
        audited: list[tuple[str, int, list[str]]] = []
        try:
            driver.set_page_load_timeout(20)
            driver.set_script_timeout(60)
            for path, what in PAGES:
                status = _status(base + path)
                if status == 404 and what is not None:
                    skipped.append(f"{path} ({what}): 404, not on the site yet")
                    continue
                for width, height in SIZES:
                    driver.set_window_size(width, height)
                    driver.get(base + path)
                    name = (path.strip("/").replace("/", "_").replace("~", "home-") or "front")
                    driver.save_screenshot(str(tmp_path / f"{name}-{width}x{height}.png"))
                    driver.execute_script(axe)
                    result = driver.execute_async_script(
                        "const done = arguments[arguments.length - 1];"
                        "axe.run(document, {resultTypes: ['violations']})"
                        ".then(r => done(JSON.stringify(r.violations)))"
                        ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical',"
                        " help: String(e), nodes: []}])));"
                    )
                    violations = json.loads(result)
                    audited.append((path, width, [v["id"] for v in violations]))
                    for violation in violations:
                        if violation.get("impact") in ("serious", "critical"):
                            targets = [n.get("target") for n in violation.get("nodes", [])][:3]
                            problems.append(
                                f"{path} at {width}x{height}: {violation['id']}"
                                f" ({violation['impact']}): {violation['help']} {targets}"
                            )
        finally:
            driver.quit()
            alice.close()
    assert not problems, "\n".join(problems)
    # axe really ran on each page that is there (at both sizes).
    assert len(audited) == 2 * (len(PAGES) - len(skipped)), audited
    print("audited:", audited)
    if skipped:
        # Every other page passed; say plainly which were not there to audit.
        print("not audited:", "; ".join(skipped))
