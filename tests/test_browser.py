"""The app as a person meets it: headless chromium (Debian's chromium + chromedriver, never
downloaded) against the real server and the real built-in model. Screenshots are saved in
``test-artifacts/``."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.browser

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from freqrex_app.web.limits import Limits  # noqa: E402
from page import click, open_page, shot, toast_text, upload  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "examples" / "metal.ogg"
PLOT = "#{} .js-plotly-plot"  # a plotly figure drawn in a gr.Plot


@pytest.fixture(scope="module")
def app_limits(tmp_path_factory) -> Limits:
    return Limits(max_source_s=120.0, max_excerpt_s=10.0, default_excerpt_s=3.0,
                  max_budget=120, max_upload_mb=5.0, concurrency=1, queue_size=8,
                  cache=tmp_path_factory.mktemp("browser-cache"))


@pytest.fixture(scope="module")
def app_options() -> dict:
    """The examples warmed, and the default model timed for the estimates."""
    return {"warm": True, "calibrate": ["msd-musicnn"]}


@pytest.mark.slow
def test_upload_explain_and_listen(served, browser):
    open_page(browser, served.url)
    shot(browser, "app-initial")
    upload(browser, CLIP)
    WebDriverWait(browser, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    shot(browser, "app-uploaded")

    click(browser, "explain-btn")
    # while it runs: the verdict and the responsibility over frequency, marked provisional
    WebDriverWait(browser, 240, poll_frequency=0.2).until(
        lambda d: "so far" in d.find_element(By.ID, "headline").text.lower()
        and d.find_elements(By.CSS_SELECTOR, PLOT.format("fig-responsibility") + " .main-svg"))
    shot(browser, "app-live")
    # then the result
    WebDriverWait(browser, 240).until(
        lambda d: ".zip" in d.find_element(By.ID, "download-zip").text)
    WebDriverWait(browser, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, PLOT.format("fig-spectrogram"))))
    time.sleep(2.0)

    # the verdict, the lead (the least audible flip, in words, and its three players)
    headline = browser.find_element(By.ID, "headline").text
    assert "msd-musicnn" in headline and "hears" in headline
    assert "so far" not in headline.lower()
    lead = browser.find_element(By.ID, "lead").text
    assert "dB below the music makes the model hear" in lead or "Nothing this budget" in lead
    for elem in ("lead-original", "lead-changed", "lead-removed", "suff-true", "suff-loud"):
        assert browser.find_element(By.ID, elem).is_displayed(), elem
    assert browser.find_element(By.ID, "scores").text.strip()
    # the interactive figures (plotly) and the perturbation's PNG
    assert browser.find_elements(By.CSS_SELECTOR, PLOT.format("fig-spectrogram") + " .main-svg")
    img = browser.find_element(By.CSS_SELECTOR, "#fig-perturbation img")
    browser.execute_script("arguments[0].scrollIntoView()", img)  # loaded when in view
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return arguments[0].naturalWidth", img) > 400)
    browser.execute_script("window.scrollTo(0, 0)")
    assert "model calls" in browser.find_element(By.ID, "facts").text
    # players: the original and the perturbed clip, side by side
    for elem in ("player-original", "player-perturbed"):
        box = browser.find_element(By.ID, elem)
        # a loaded player: its waveform and its play button (an empty one shows neither)
        assert box.find_elements(By.CSS_SELECTOR, ".waveform-container #waveform"), elem
        assert box.find_elements(By.CSS_SELECTOR, "button.play-pause-button"), elem
    caption = browser.find_element(By.ID, "pert-caption").text
    assert "SNR" in caption
    table = browser.find_element(By.ID, "pert-table").text
    assert "Flip-5" in table and "STFT flip" in table and "Quiet flip" in table
    shot(browser, "app-results", full=True)

    # another perturbation: the caption, the player and the figure follow
    click(browser, "pert-flip_3")
    WebDriverWait(browser, 30).until(
        lambda d: "Flip-3" in d.find_element(By.ID, "pert-caption").text)
    # the necessary set's button is disabled when the set was not found: a click then
    # leaves Flip-3 shown
    found = browser.find_element(By.ID, "pert-necessary_removed").is_enabled()
    click(browser, "pert-necessary_removed")
    time.sleep(1.0)
    want = "Necessary removed" if found else "Flip-3"
    WebDriverWait(browser, 30).until(
        lambda d: want in d.find_element(By.ID, "pert-caption").text)
    browser.execute_script("document.getElementById('pert-caption').scrollIntoView()")
    time.sleep(0.8)
    shot(browser, "app-perturbation")

    # the other figures, in their tabs
    for tab, selector in (("Responsibility over frequency", PLOT.format("fig-responsibility")),
                          ("Notes and registers", PLOT.format("fig-notes")),
                          ("Spectrum and sets", "#fig-spectrum img")):
        [button] = [b for b in browser.find_elements(By.CSS_SELECTOR, "button[role='tab']")
                    if b.text.strip() == tab]  # the tab named, and only it
        browser.execute_script("arguments[0].click()", button)
        WebDriverWait(browser, 20).until(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, selector)))
    assert "musical range" in browser.find_element(By.ID, "notes-summary").get_attribute("textContent")
    # downloads are offered
    assert ".zip" in browser.find_element(By.ID, "download-zip").text
    assert "explanation.json" in browser.find_element(By.ID, "download-json").text


def test_bad_upload_shows_a_message_and_the_page_keeps_working(served, browser, tmp_path):
    open_page(browser, served.url)
    bad = tmp_path / "not-audio.wav"
    bad.write_text("definitely not a sound file\n" * 100)
    upload(browser, bad)
    message = toast_text(browser)
    assert "corrupt or not audio" in message.lower(), message
    shot(browser, "app-bad-upload")

    open_page(browser, served.url)
    long_clip = tmp_path / "too-long.wav"  # 150 s; this server takes sources up to 120 s
    sf.write(long_clip, (0.05 * np.random.default_rng(1).standard_normal(150 * 4000)
                         ).astype(np.float32), 4000)
    upload(browser, long_clip)
    message = toast_text(browser)
    assert "limit" in message.lower(), message

    # Explain with nothing uploaded
    open_page(browser, served.url)
    click(browser, "explain-btn")
    message = toast_text(browser)
    assert "no audio" in message.lower(), message


def test_precomputed_example_is_instant(served, browser, tmp_path):
    from freqrex_app.web.examples import list_examples

    examples = [e for e in list_examples() if e.precomputed is not None]
    if not examples:
        pytest.skip("no precomputed examples")
    open_page(browser, served.url)
    t0 = time.time()
    click(browser, f"example-{examples[0].stem}")
    WebDriverWait(browser, 90).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, PLOT.format("fig-spectrogram"))))
    assert examples[0].path.name in browser.find_element(By.ID, "headline").text
    shot(browser, "app-example", full=True)
    assert time.time() - t0 < 90
    # the perturbations table shows all its columns at this width (none cut off)
    box = browser.execute_script(
        "const t = document.querySelector('#pert-table'); const r = t.getBoundingClientRect();"
        "const h = [...t.querySelectorAll('th')].map(e => [e.innerText.trim(),"
        " e.getBoundingClientRect().right]); return [r.right, h];")
    right, headers = box
    names = [h for h, _ in headers]
    assert "outcome" in names and "SNR (dB)" in names, names
    assert all(edge <= right + 1 for _, edge in headers), (right, headers)
    # an example where the model is torn says so in the headline
    from freqrex_app.web.sentences import torn_between
    from freqrex_app.web.examples import example_job

    torn = next(e for e in examples if torn_between(example_job(e, Limits(
        cache=tmp_path)).exp))
    click(browser, f"example-{torn.stem}")
    WebDriverWait(browser, 90).until(
        lambda d: torn.path.name in d.find_element(By.ID, "headline").text)
    assert "torn between" in browser.find_element(By.ID, "headline").text
    WebDriverWait(browser, 90).until(  # the example has arrived
        lambda d: "processing" not in d.find_element(By.TAG_NAME, "body").text)
    browser.execute_script("document.getElementById('headline').scrollIntoView()")
    shot(browser, "app-example-torn")


def test_cancel_stops_the_job(served, browser, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="freqrex.app")
    open_page(browser, served.url)
    upload(browser, CLIP)
    WebDriverWait(browser, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    field = browser.find_element(By.CSS_SELECTOR, "#duration input[type=number]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("10", Keys.TAB)
    time.sleep(0.5)
    click(browser, "explain-btn")
    # cancelled while its provisional picture shows: the picture goes, the placeholder is back
    WebDriverWait(browser, 90, poll_frequency=0.2).until(
        lambda d: "so far" in d.find_element(By.ID, "headline").text.lower())
    shot(browser, "app-progress")
    [ticket] = [t for t in served.demo.freqrex_board.line() if t.state == "running"]
    asked = time.time()
    click(browser, "cancel-btn")
    WebDriverWait(browser, 30, poll_frequency=0.05).until(lambda d: ticket.ended)
    # the job stopped within about half a second of the click (docs/hosting.md: it asks before
    # each model call, about every half second); tests/test_cancel.py takes a median of three
    record = ticket.to_dict()
    assert record["state"] == "cancelled", record
    assert record["ended_at"] - asked < 1.0, record
    WebDriverWait(browser, 30, poll_frequency=0.5).until(
        lambda d: any("cancelled" in r.getMessage() for r in caplog.records))
    WebDriverWait(browser, 15, poll_frequency=0.2).until(
        lambda d: d.find_element(By.ID, "placeholder").is_displayed())
    time.sleep(2.0)  # and it stays: no picture of the cancelled job arrives after it
    assert browser.find_element(By.ID, "placeholder").is_displayed()
    assert not any(e.is_displayed() for e in browser.find_elements(By.ID, "headline"))


def test_a_second_explain_gets_its_line_and_the_button_waits(served, browser):
    open_page(browser, served.url)
    upload(browser, CLIP)
    WebDriverWait(browser, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    # a double click: the second arrives before the first has disabled the button
    browser.execute_script("const b = document.getElementById('explain-btn'); b.click(); "
                          "b.click();")
    message = toast_text(browser)
    assert "one at a time per visitor" in message, message
    assert "Traceback" not in message and "Error 500" not in message, message
    shot(browser, "app-second-explain")
    # the button is disabled while the job runs ...
    WebDriverWait(browser, 20).until(
        lambda d: not d.find_element(By.ID, "explain-btn").is_enabled())
    WebDriverWait(browser, 90).until(
        lambda d: "model calls" in d.find_element(By.ID, "queue-status").text)
    assert not browser.find_element(By.ID, "explain-btn").is_enabled()
    # ... and works again once it has ended (here: cancelled)
    click(browser, "cancel-btn")
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "explain-btn").is_enabled())


def test_record_from_the_microphone(served, browser):
    open_page(browser, served.url)

    def button(pred):
        for b in browser.find_elements(By.CSS_SELECTOR, "#audio-input button"):
            label = (b.get_attribute("aria-label") or "") + " " + (b.text or "")
            if pred(label.lower().strip()) and b.is_displayed():
                return b
        raise AssertionError("button not found")

    browser.execute_script("arguments[0].click()", button(lambda t: t == "record audio"))
    time.sleep(1.0)
    browser.execute_script("arguments[0].click()", button(lambda t: t == "record"))
    time.sleep(3.0)
    browser.execute_script("arguments[0].click()", button(lambda t: t == "stop"))
    # the recording reaches the server, is read, and its excerpt is offered
    WebDriverWait(browser, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    value = browser.find_element(By.CSS_SELECTOR, "#duration input[type=number]").get_attribute("value")
    assert 1.0 <= float(value) <= 10.0
    shot(browser, "app-recorded")
