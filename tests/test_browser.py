"""The app as a person meets it: headless chromium (Debian's chromium + chromedriver, never
downloaded) against the real server and the real built-in model. Screenshots are saved in
``test-artifacts/``."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = [
    pytest.mark.browser,
    # gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

CHROMIUM = os.environ.get("FREQREX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FREQREX_CHROMEDRIVER", "/usr/bin/chromedriver")
if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    pytest.skip("chromium and chromedriver are needed (make browser)", allow_module_level=True)
os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download anything

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from freqrex_app.app.limits import Limits  # noqa: E402
from freqrex_app.app.testing import serve_in_thread, shutdown  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CLIP = ROOT / "assets" / "examples" / "metal.ogg"
PLOT = "#{} .js-plotly-plot"  # a plotly figure drawn in a gr.Plot


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    limits = Limits(max_source_s=120.0, max_excerpt_s=10.0, default_excerpt_s=3.0,
                    max_budget=120, max_upload_mb=5.0, concurrency=1, queue_size=8,
                    cache=tmp_path_factory.mktemp("browser-cache"))
    # the examples warmed, and the default model timed for the estimates
    url, demo = serve_in_thread(limits, warm=True, calibrate=["msd-musicnn"])
    yield url
    shutdown(demo)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1440,1000",
                "--autoplay-policy=no-user-gesture-required",
                # a fake microphone (a beep) that needs no permission prompt
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    ARTIFACTS.mkdir(exist_ok=True)
    yield drv
    drv.quit()


def _shot(driver, name: str, full: bool = False) -> Path:
    path = ARTIFACTS / f"{name}.png"
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1440, min(int(height) + 40, 6000))
        time.sleep(0.8)
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(1440, 1000)
    return path


def _open(driver, url):
    driver.get(url)
    WebDriverWait(driver, 60).until(EC.presence_of_element_located((By.ID, "explain-btn")))
    time.sleep(1.0)


def _upload(driver, path: Path):
    field = WebDriverWait(driver, 30).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#audio-input input[type=file]")))
    field.send_keys(str(path))


def _click(driver, elem_id: str):
    driver.execute_script(f"document.getElementById('{elem_id}').click()")


def _toast_text(driver, timeout: float = 30) -> str:
    """Text of the error toast Gradio shows (waits for it)."""
    def find(d):
        texts = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".toast-body, [data-testid='toast-body']")
                 if e.text.strip()]
        return " ".join(texts) if texts else False
    return WebDriverWait(driver, timeout).until(find)


@pytest.mark.slow
def test_upload_explain_and_listen(server, driver):
    _open(driver, server)
    _shot(driver, "app-initial")
    _upload(driver, CLIP)
    WebDriverWait(driver, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    _shot(driver, "app-uploaded")

    _click(driver, "explain-btn")
    # while it runs: the verdict and the responsibility over frequency, marked provisional
    WebDriverWait(driver, 240, poll_frequency=0.2).until(
        lambda d: "so far" in d.find_element(By.ID, "headline").text.lower()
        and d.find_elements(By.CSS_SELECTOR, PLOT.format("fig-responsibility") + " .main-svg"))
    _shot(driver, "app-live")
    # then the result
    WebDriverWait(driver, 240).until(
        lambda d: ".zip" in d.find_element(By.ID, "download-zip").text)
    WebDriverWait(driver, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, PLOT.format("fig-spectrogram"))))
    time.sleep(2.0)

    # the verdict, the lead (the least audible flip, in words, and its three players)
    headline = driver.find_element(By.ID, "headline").text
    assert "msd-musicnn" in headline and "hears" in headline
    assert "so far" not in headline.lower()
    lead = driver.find_element(By.ID, "lead").text
    assert "dB below the music makes the model hear" in lead or "Nothing this budget" in lead
    for elem in ("lead-original", "lead-changed", "lead-removed", "suff-true", "suff-loud"):
        assert driver.find_element(By.ID, elem).is_displayed(), elem
    assert driver.find_element(By.ID, "scores").text.strip()
    # the interactive figures (plotly) and the perturbation's PNG
    assert driver.find_elements(By.CSS_SELECTOR, PLOT.format("fig-spectrogram") + " .main-svg")
    img = driver.find_element(By.CSS_SELECTOR, "#fig-perturbation img")
    driver.execute_script("arguments[0].scrollIntoView()", img)  # loaded when in view
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return arguments[0].naturalWidth", img) > 400)
    driver.execute_script("window.scrollTo(0, 0)")
    assert "model calls" in driver.find_element(By.ID, "facts").text
    # players: the original and the perturbed clip, side by side
    for elem in ("player-original", "player-perturbed"):
        box = driver.find_element(By.ID, elem)
        assert box.find_elements(By.CSS_SELECTOR, "audio, [data-testid='waveform-x'], #waveform, .waveform-container, button"), elem
    caption = driver.find_element(By.ID, "pert-caption").text
    assert "SNR" in caption
    table = driver.find_element(By.ID, "pert-table").text
    assert "Flip-5" in table and "STFT flip" in table and "Quiet flip" in table
    _shot(driver, "app-results", full=True)

    # another perturbation: the caption, the player and the figure follow
    _click(driver, "pert-flip_3")
    WebDriverWait(driver, 30).until(
        lambda d: "Flip-3" in d.find_element(By.ID, "pert-caption").text)
    _click(driver, "pert-necessary_removed")
    time.sleep(1.0)
    caption = driver.find_element(By.ID, "pert-caption").text
    assert "Necessary removed" in caption or "Flip-3" in caption  # disabled when not found
    driver.execute_script("document.getElementById('pert-caption').scrollIntoView()")
    time.sleep(0.8)
    _shot(driver, "app-perturbation")

    # the other figures, in their tabs
    for tab, selector in (("Responsibility over frequency", PLOT.format("fig-responsibility")),
                          ("Notes and registers", PLOT.format("fig-notes")),
                          ("Spectrum and sets", "#fig-spectrum img")):
        for button in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']"):
            if button.text.strip() == tab:
                driver.execute_script("arguments[0].click()", button)
        WebDriverWait(driver, 20).until(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, selector)))
    assert "musical range" in driver.find_element(By.ID, "notes-summary").get_attribute("textContent")
    # downloads are offered
    assert ".zip" in driver.find_element(By.ID, "download-zip").text
    assert "explanation.json" in driver.find_element(By.ID, "download-json").text


def test_bad_upload_shows_a_message_and_the_page_keeps_working(server, driver, tmp_path):
    _open(driver, server)
    bad = tmp_path / "not-audio.wav"
    bad.write_text("definitely not a sound file\n" * 100)
    _upload(driver, bad)
    message = _toast_text(driver)
    assert "format" in message.lower() or "audio" in message.lower(), message
    _shot(driver, "app-bad-upload")

    _open(driver, server)
    long_clip = tmp_path / "too-long.wav"  # 150 s; this server takes sources up to 120 s
    sf.write(long_clip, (0.05 * np.random.default_rng(1).standard_normal(150 * 4000)
                         ).astype(np.float32), 4000)
    _upload(driver, long_clip)
    message = _toast_text(driver)
    assert "limit" in message.lower(), message

    # Explain with nothing uploaded
    _open(driver, server)
    _click(driver, "explain-btn")
    message = _toast_text(driver)
    assert "no audio" in message.lower(), message


def test_precomputed_example_is_instant(server, driver, tmp_path):
    from freqrex_app.app.examples import list_examples

    examples = [e for e in list_examples() if e.precomputed is not None]
    if not examples:
        pytest.skip("no precomputed examples")
    _open(driver, server)
    t0 = time.time()
    _click(driver, f"example-{examples[0].stem}")
    WebDriverWait(driver, 90).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, PLOT.format("fig-spectrogram"))))
    assert examples[0].path.name in driver.find_element(By.ID, "headline").text
    _shot(driver, "app-example", full=True)
    assert time.time() - t0 < 90
    # the perturbations table shows all its columns at this width (none cut off)
    box = driver.execute_script(
        "const t = document.querySelector('#pert-table'); const r = t.getBoundingClientRect();"
        "const h = [...t.querySelectorAll('th')].map(e => [e.innerText.trim(),"
        " e.getBoundingClientRect().right]); return [r.right, h];")
    right, headers = box
    names = [h for h, _ in headers]
    assert "outcome" in names and "SNR (dB)" in names, names
    assert all(edge <= right + 1 for _, edge in headers), (right, headers)
    # an example where the model is torn says so in the headline
    from freqrex_app.app.sentences import torn_between
    from freqrex_app.app.examples import example_job

    torn = next(e for e in examples if torn_between(example_job(e, Limits(
        cache=tmp_path)).exp))
    _click(driver, f"example-{torn.stem}")
    WebDriverWait(driver, 90).until(
        lambda d: torn.path.name in d.find_element(By.ID, "headline").text)
    assert "torn between" in driver.find_element(By.ID, "headline").text
    WebDriverWait(driver, 90).until(  # the example has arrived
        lambda d: "processing" not in d.find_element(By.TAG_NAME, "body").text)
    driver.execute_script("document.getElementById('headline').scrollIntoView()")
    _shot(driver, "app-example-torn")


def test_cancel_stops_the_job(server, driver, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="freqrex.app")
    _open(driver, server)
    _upload(driver, CLIP)
    WebDriverWait(driver, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    field = driver.find_element(By.CSS_SELECTOR, "#duration input[type=number]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("10", Keys.TAB)
    time.sleep(0.5)
    _click(driver, "explain-btn")
    # cancelled while its provisional picture shows: the picture goes, the placeholder is back
    WebDriverWait(driver, 90, poll_frequency=0.2).until(
        lambda d: "so far" in d.find_element(By.ID, "headline").text.lower())
    _shot(driver, "app-progress")
    _click(driver, "cancel-btn")
    WebDriverWait(driver, 30, poll_frequency=0.5).until(
        lambda d: any("cancelled" in r.getMessage() for r in caplog.records))
    WebDriverWait(driver, 15, poll_frequency=0.2).until(
        lambda d: d.find_element(By.ID, "placeholder").is_displayed())
    time.sleep(2.0)  # and it stays: no picture of the cancelled job arrives after it
    assert driver.find_element(By.ID, "placeholder").is_displayed()
    assert not any(e.is_displayed() for e in driver.find_elements(By.ID, "headline"))


def test_a_second_explain_gets_its_line_and_the_button_waits(server, driver):
    _open(driver, server)
    _upload(driver, CLIP)
    WebDriverWait(driver, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    # a double click: the second arrives before the first has disabled the button
    driver.execute_script("const b = document.getElementById('explain-btn'); b.click(); "
                          "b.click();")
    message = _toast_text(driver)
    assert "one at a time per visitor" in message, message
    assert "Traceback" not in message and "Error 500" not in message, message
    _shot(driver, "app-second-explain")
    # the button is disabled while the job runs ...
    WebDriverWait(driver, 20).until(
        lambda d: not d.find_element(By.ID, "explain-btn").is_enabled())
    WebDriverWait(driver, 90).until(
        lambda d: "model calls" in d.find_element(By.ID, "queue-status").text)
    assert not driver.find_element(By.ID, "explain-btn").is_enabled()
    # ... and works again once it has ended (here: cancelled)
    _click(driver, "cancel-btn")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "explain-btn").is_enabled())


def test_record_from_the_microphone(server, driver):
    _open(driver, server)

    def button(pred):
        for b in driver.find_elements(By.CSS_SELECTOR, "#audio-input button"):
            label = (b.get_attribute("aria-label") or "") + " " + (b.text or "")
            if pred(label.lower().strip()) and b.is_displayed():
                return b
        raise AssertionError("button not found")

    driver.execute_script("arguments[0].click()", button(lambda t: t == "record audio"))
    time.sleep(1.0)
    driver.execute_script("arguments[0].click()", button(lambda t: t == "record"))
    time.sleep(3.0)
    driver.execute_script("arguments[0].click()", button(lambda t: t == "stop"))
    # the recording reaches the server, is read, and its excerpt is offered
    WebDriverWait(driver, 60).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#excerpt-preview img")))
    value = driver.find_element(By.CSS_SELECTOR, "#duration input[type=number]").get_attribute("value")
    assert 1.0 <= float(value) <= 10.0
    _shot(driver, "app-recorded")
