"""Debian's headless Chromium for the browser tests, launched the same way everywhere (or a skip saying why)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A Playwright Browser on /usr/bin/chromium; skipped without it (a failure under CI)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def peers_text(page: Any, needle: str) -> str:
    """The similar-homes card's text once it says `needle`: its callback may answer after the graph's."""
    try:
        page.wait_for_function("(n) => { const e = document.getElementById('typical-peers');"
                               " return e !== null && e.innerText.includes(n); }", arg=needle)
    except Exception as exc:
        raise AssertionError(f"#typical-peers never said {needle!r}: {page.inner_text('#typical-peers')!r}") from exc
    return page.inner_text("#typical-peers")
