"""Driving the app's page in the browser (the ``browser`` fixture of conftest.py): open it,
upload, click an element by its id, read the error toast, save a screenshot."""
from __future__ import annotations

import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def open_page(driver, url: str) -> None:
    """Load the page and wait until its Explain button is there."""
    driver.get(url)
    WebDriverWait(driver, 60).until(EC.presence_of_element_located((By.ID, "explain-btn")))
    time.sleep(1.0)


def upload(driver, path: Path) -> None:
    field = WebDriverWait(driver, 30).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#audio-input input[type=file]")))
    field.send_keys(str(path))


def click(driver, elem_id: str) -> None:
    """Click the element with this id (it must exist: a missing one fails here)."""
    assert driver.find_elements(By.ID, elem_id), f"no element #{elem_id} on the page"
    driver.execute_script(f"document.getElementById('{elem_id}').click()")


def toast_text(driver, timeout: float = 30) -> str:
    """Text of the error toast Gradio shows (waits for it)."""
    def find(d):
        texts = [e.text for e in d.find_elements(
            By.CSS_SELECTOR, ".toast-body, [data-testid='toast-body']") if e.text.strip()]
        return " ".join(texts) if texts else False
    return WebDriverWait(driver, timeout).until(find)


def shot(driver, name: str, full: bool = False) -> Path:
    """A screenshot in ``test-artifacts/`` (``full``: the whole page's height)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1440, min(int(height) + 40, 6000))
        time.sleep(0.8)
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(1440, 1000)
    return path
