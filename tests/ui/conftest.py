"""UI fixtures: one chat server over a temporary copy of the seeds, and a headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _apt(args: list[str]) -> subprocess.CompletedProcess:
    cmd = ["apt-get", *args] if os.geteuid() == 0 else ["sudo", "-n", "apt-get", *args]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)


def ensure_chromium() -> str:
    """Debian's chromium: installed with apt-get when missing; skip only when apt cannot be used."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if shutil.which("apt-get") is None:
        pytest.skip("Browser tests need /usr/bin/chromium; it is missing and apt-get is not available to install it.")
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        pytest.skip("Browser tests need /usr/bin/chromium; installing it needs root (or sudo) for apt-get.")
    result = _apt(["install", "-y", "-q", "chromium"])
    if result.returncode != 0:
        _apt(["update", "-q"])
        result = _apt(["install", "-y", "-q", "chromium"])
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(f"apt-get install chromium failed:\n{(result.stdout + result.stderr)[-2000:]}")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def ui_corpus(tmp_path_factory, seed_assistant, seed_index_dir):
    """A writable copy of the seeds with a copy of their index (nothing to embed again)."""
    root = tmp_path_factory.mktemp("ui")
    corpus, index_dir = root / "corpus", root / "index"
    shutil.copytree(SEEDS, corpus)
    shutil.copytree(seed_index_dir, index_dir)
    return corpus, index_dir


@pytest.fixture(scope="session")
def ui_service(ui_corpus, settings, encoder):
    from ui.service import ChatService

    corpus, index_dir = ui_corpus
    return ChatService.from_folder(corpus, settings=settings, index_dir=index_dir, encoder=encoder)


@pytest.fixture(scope="session")
def ui_url(ui_service):
    """The app served on 127.0.0.1 for the whole session, closed at the end."""
    from ui.app import launch

    port = free_port()
    server = launch(ui_service, host="127.0.0.1", port=port, block=False, quiet=True)
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def open_browser(tmp_path_factory):
    """``open_browser()`` → a new Chromium with a fresh ``--user-data-dir``: a user of its own (closed at the end)."""
    executable = ensure_chromium()
    from playwright.sync_api import sync_playwright

    opened = []
    with sync_playwright() as p:
        def open_one():
            profile = tmp_path_factory.mktemp("chromium-profile")
            context = p.chromium.launch_persistent_context(
                str(profile), executable_path=executable, args=CHROMIUM_FLAGS, headless=True,
                viewport={"width": 1400, "height": 1000}, locale="vi-VN", accept_downloads=True,
            )
            context.set_default_timeout(30_000)
            opened.append(context)
            return context

        yield open_one
        for context in opened:
            context.close()


@pytest.fixture(scope="session")
def browser_context(open_browser):
    return open_browser()


@pytest.fixture
def page(browser_context, ui_url):
    """A fresh tab on the app; ``page.external_requests`` lists any request that left 127.0.0.1."""
    page = browser_context.new_page()
    page.external_requests = []
    page.on("request", lambda r: None if r.url.startswith((ui_url, "data:", "blob:"))
            else page.external_requests.append(r.url))
    page.goto(ui_url)
    page.locator("#virag-question textarea").wait_for()
    # the tabs of one browser share its localStorage, and the chat restores the conversation it finds there
    if page.evaluate("localStorage.length"):
        page.evaluate("localStorage.clear()")
        page.reload()
        page.locator("#virag-question textarea").wait_for()
    yield page
    page.evaluate("localStorage.clear()")
    page.close()
