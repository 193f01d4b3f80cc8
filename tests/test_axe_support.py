"""The axe-core fetcher of the browser tests: pinned, checked, cached, and a clear reason when it cannot be had."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.axe_support import AXE_VERSION, AxeUnavailable, fetch_axe, integrity_of


def test_integrity_is_npms_sha512_format() -> None:
    assert integrity_of(b"") == ("sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6"
                                 "+SfaPg==")


def test_without_npm_the_reason_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(AxeUnavailable, match="npm could not run"):
        fetch_axe(npm=str(tmp_path / "no-npm-here"))
    assert not (tmp_path / "coopwatt-tests" / f"axe-core-{AXE_VERSION}" / "axe.min.js").exists()


def test_fetches_the_pinned_version_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = fetch_axe()
    assert path == tmp_path / "coopwatt-tests" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
    assert f"axe v{AXE_VERSION}" in path.read_text()[:200]
    # A second call uses the cached copy: it does not even look for npm.
    assert fetch_axe(npm=str(tmp_path / "no-npm-here")) == path
