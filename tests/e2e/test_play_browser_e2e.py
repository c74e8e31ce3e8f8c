"""The web client ``/play`` in real headless Chromium, driven by Selenium.

Debian's Chromium through ``/usr/bin/chromedriver`` (``SE_OFFLINE``: no
driver download), as in test_accessibility_e2e.py. A person creates a
character in the page (the password typed into a masked field), walks,
sees a telnet player's ``say`` arrive while a half-typed line stays in the
input, clicks an exit button, and the page reconnects after the server drops
its socket (the same character logging in over telnet takes the session
over). Screenshots at 1280x900 and 390x844 go to ``$ARTIFACTS`` (or
``tests/artifacts``) for CI to keep and a person to look at.

Without Chromium or its driver the test skips ("not installed"); with
``CI=true`` it fails instead (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from serverproc import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ARTIFACTS") or ROOT / "tests" / "artifacts")


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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def _axe_serious(driver) -> list[str]:
    """axe-core's serious and critical violations on the current page."""
    from test_accessibility_e2e import _axe_source

    driver.set_script_timeout(60)
    driver.execute_script(_axe_source())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify("
        "[{id: 'axe-error', impact: 'critical', help: String(e)}])));"
    )
    return [
        f"{v['id']}: {v.get('help')} {[n.get('target') for n in v.get('nodes', [])][:4]}"
        for v in json.loads(result) if v.get("impact") in ("serious", "critical")
    ]


def _wait(predicate, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_play_in_the_browser(tmp_path):
    """Create, walk, hear a telnet player mid-typing, click an exit, reconnect; screenshots."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with ServerProcess(tmp_path, expect=("telnet", "http")) as server:
        driver = _driver()
        try:
            driver.set_page_load_timeout(20)
            driver.get(f"http://127.0.0.1:{server.ports['http']}/play")
            output = driver.find_element(By.ID, "output")
            command = driver.find_element(By.ID, "command")
            text = lambda: output.text  # noqa: E731
            _wait(lambda: "Type your character's name" in text(), "the banner")
            assert output.get_attribute("role") == "log"

            def send(line: str) -> None:
                command.send_keys(line + Keys.ENTER)

            # The interactive sign-up: the password prompts mask the input.
            send("Webby")
            _wait(lambda: "(y/n)" in text(), "the new-character question")
            send("y")
            _wait(lambda: command.get_attribute("type") == "password", "a masked input")
            send("secret99")
            _wait(lambda: "Repeat the password" in text(), "the second password prompt")
            assert command.get_attribute("type") == "password"
            send("secret99")
            _wait(lambda: "Welcome to Tiny Test World, Webby" in text(), "the welcome")
            _wait(lambda: command.get_attribute("type") == "text", "echo back on")
            assert "secret99" not in text()
            room = driver.find_element(By.ID, "room-name")
            _wait(lambda: room.text == "The Hall", "Room.Info in the panel")
            _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#map g.room.here"), "the map")
            here = driver.find_element(By.CSS_SELECTOR, "#map g.room.here")
            assert here.get_attribute("id") == "room-hall"

            # Walk by typing.
            send("north")
            _wait(lambda: room.text == "The Library", "the library")
            _wait(lambda: driver.find_element(By.CSS_SELECTOR, "#map g.room.here")
                  .get_attribute("id") == "room-library", "the map following")

            # A telnet player speaks while a line is half typed.
            telnet = server.telnet()
            telnet.command("create Telly secret99")
            telnet.command("north")
            command.send_keys("say half-typ")
            telnet.command("say hello, browser")
            _wait(lambda: 'Telly says, "hello, browser"' in text(), "the telnet player's say")
            assert command.get_attribute("value") == "say half-typ"
            # History keeps the draft: Up shows the last command, Down brings it back.
            command.send_keys(Keys.ARROW_UP)
            assert command.get_attribute("value") == "north"
            command.send_keys(Keys.ARROW_DOWN)
            assert command.get_attribute("value") == "say half-typ"
            command.send_keys("ed" + Keys.ENTER)
            telnet.expect('Webby says, "half-typed"')

            for width, height in ((1280, 900), (390, 844)):
                driver.set_window_size(width, height)
                time.sleep(0.5)
                driver.save_screenshot(str(ARTIFACTS / f"play-{width}x{height}.png"))
                # axe-core on the page in play (exits, who is here, the map drawn in).
                serious = _axe_serious(driver)
                assert not serious, serious
            driver.set_window_size(1280, 900)

            # Click an exit button.
            buttons = lambda: driver.find_elements(By.CSS_SELECTOR, "#exits button")  # noqa: E731
            button = _wait(lambda: [b for b in buttons() if b.text == "south"], "south")[0]
            button.click()
            _wait(lambda: room.text == "The Hall", "the hall after clicking south")

            # The server drops the socket (the character is taken over from
            # telnet): the page says so and connects again by itself.
            again = server.telnet()
            again.conn.write(b"connect Webby secret99\r\n")
            status = driver.find_element(By.ID, "status")
            _wait(lambda: "connection to the game was lost" in text(), "the lost-connection notice")
            _wait(lambda: "reconnect" in status.text.lower(), "the status line")
            _wait(lambda: status.text == "Connected.", "the reconnection", timeout=20)
            _wait(lambda: text().count("Type your character's name") >= 2, "a new banner")
            send("connect Webby secret99")
            _wait(lambda: text().count("Welcome") >= 2, "logged in again")
            driver.save_screenshot(str(ARTIFACTS / "play-reconnected-1280x900.png"))
            again.close()
            telnet.close()
            errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                      and "/ws" not in e.get("message", "")]
            assert not errors, errors
        finally:
            driver.quit()


def test_the_page_comes_back_logged_in_after_a_bounce(tmp_path):
    """@bounce closes the page's socket as an upgrade would: the page keeps the
    Client.Resume token, reconnects by itself and lands logged in, saying so in
    its status line (role=status); nobody types a password again."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with ServerProcess(tmp_path, expect=("telnet", "http"), admins=("Root",)) as server:
        driver = _driver()
        try:
            driver.set_page_load_timeout(20)
            driver.get(f"http://127.0.0.1:{server.ports['http']}/play")
            output = driver.find_element(By.ID, "output")
            command = driver.find_element(By.ID, "command")
            status = driver.find_element(By.ID, "status")
            room = driver.find_element(By.ID, "room-name")
            text = lambda: output.text  # noqa: E731
            _wait(lambda: "Type your character's name" in text(), "the banner")
            command.send_keys("create Bouncy secret99" + Keys.ENTER)
            _wait(lambda: room.text == "The Hall", "logged in")
            command.send_keys("north" + Keys.ENTER)
            _wait(lambda: room.text == "The Library", "the library")
            assert status.get_attribute("role") == "status"

            admin = server.telnet()
            admin.command("connect Root secret")
            reply = admin.command("@bounce Bouncy")
            assert "You bounce Bouncy" in reply, reply
            _wait(lambda: "Server upgraded; reconnecting" in text(), "the notice")
            _wait(lambda: text().count("Type your character's name") >= 2, "a new connection")
            _wait(lambda: status.text == "Reconnected: you are back in the game.",
                  "landing logged in", timeout=20)
            _wait(lambda: room.text == "The Library", "back where they were")
            assert "Password" not in text()
            command.send_keys("say back again" + Keys.ENTER)
            _wait(lambda: 'You say, "back again"' in text(), "a command after resuming")
            assert "please log in again" not in text()
            driver.save_screenshot(str(tmp_path / "resumed.png"))
            admin.close()
            errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                      and "/ws" not in e.get("message", "")]
            assert not errors, errors
        finally:
            driver.quit()
