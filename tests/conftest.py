"""Shared fixtures: the real app served in this process, the Gradio client to it, and headless
chromium. One copy of each, so that every test meets the app the same way.

A module chooses its server's settings by overriding ``app_limits`` (and ``app_options``, the
keywords of :func:`~freqrex_app.web.testing.serve_in_thread`); the server is started once per
module and shut down after it. The browser is started once per session.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

import pytest

from freqrex_app.web.limits import Limits
from freqrex_app.web.testing import serve_in_thread, shutdown

CHROMIUM = os.environ.get("FREQREX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FREQREX_CHROMEDRIVER", "/usr/bin/chromedriver")


@dataclass(frozen=True)
class Served:
    """The app serving on ``url``; ``demo`` is its Blocks (its board, limits and functions)."""

    url: str
    demo: Any


@pytest.fixture(scope="module")
def app_limits(tmp_path_factory) -> Limits:
    """The served app's limits (override in a module for its own)."""
    return Limits(cache=tmp_path_factory.mktemp("app-cache"))


@pytest.fixture(scope="module")
def app_options() -> dict[str, Any]:
    """Keywords of ``serve_in_thread`` (``warm``, ``calibrate``); override in a module."""
    return {}


@pytest.fixture(scope="module")
def served(app_limits, app_options):
    """The real app on a free port of 127.0.0.1, for the tests of one module."""
    url, demo = serve_in_thread(app_limits, **app_options)
    yield Served(url, demo)
    shutdown(demo)


@pytest.fixture(scope="module")
def client(served):
    """The Gradio Python client, one session, to the served app."""
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    return Client(served.url, verbose=False)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless chromium (Debian's chromium and chromedriver, never downloaded) with a fake
    microphone that needs no permission prompt. Screenshots go to ``test-artifacts/``."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("chromium and chromedriver are needed (make browser)")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download anything
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1440,1000",
                "--autoplay-policy=no-user-gesture-required",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
