"""axe-core in the browser tests: fetched once from npm into a cache, injected into a Playwright page, run.

axe-core is pinned (version and the registry's sha512 integrity) and never committed: the first
run asks npm for the package (``npm pack``, npm's own cache makes later runs offline), checks its
integrity and keeps ``axe.min.js`` under ``$XDG_CACHE_HOME/coopwatt-tests`` (``~/.cache`` by default).
Without npm the accessibility tests skip saying so; with CI=true they fail instead.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
BLOCKING_IMPACTS = ("serious", "critical")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Runs axe on the whole document and returns only what a report needs (the full result is megabytes).
_RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
    summary: v.nodes.length ? (v.nodes[0].failureSummary || '') : '',
  }));
}"""


class AxeUnavailable(RuntimeError):
    """axe-core could not be fetched (no npm, no network, a tarball that fails its integrity check)."""


@dataclass(frozen=True)
class Violation:
    """One axe rule broken on a page, with up to five of the elements that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    summary: str

    def describe(self) -> str:
        """One readable line for an assertion message."""
        detail = self.summary.strip().splitlines()[-1].strip() if self.summary.strip() else ""
        return f"{self.impact} {self.rule}: {self.help} — {', '.join(self.targets)} ({detail})"


def cache_dir() -> Path:
    """Where the pinned axe-core is kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coopwatt-tests" / f"axe-core-{AXE_VERSION}"


def integrity_of(data: bytes) -> str:
    """The npm-style sha512 integrity string of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_axe(npm: str | None = None) -> Path:
    """The path of the pinned axe.min.js, fetching it with npm the first time (idempotent, atomic)."""
    target = cache_dir() / "axe.min.js"
    if target.exists():
        return target
    npm = npm or shutil.which("npm")
    if npm is None:
        raise AxeUnavailable("npm is not installed (apt-get install -y npm): axe-core cannot be fetched")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        try:
            done = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", scratch, "--silent"],
                                  capture_output=True, text=True, timeout=180, check=False)
        except OSError as error:
            raise AxeUnavailable(f"npm could not run ({npm}): {error}") from error
        tarballs = list(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise AxeUnavailable(f"npm pack axe-core@{AXE_VERSION} failed: {done.stderr.strip()[-500:]}")
        data = tarballs[0].read_bytes()
        if integrity_of(data) != AXE_INTEGRITY:
            raise AxeUnavailable(f"axe-core {AXE_VERSION} tarball does not match its pinned integrity")
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.extractfile("package/axe.min.js")
            if member is None:
                raise AxeUnavailable("axe-core tarball has no package/axe.min.js")
            staged = Path(scratch) / "axe.min.js"
            staged.write_bytes(member.read())
        # Two test processes may fetch at once: each renames a complete file into place.
        os.replace(staged, target)
    return target


def axe_source_or_skip() -> str:
    """The axe-core script, or a skip with the reason (a failure under CI=true)."""
    try:
        return fetch_axe().read_text()
    except (AxeUnavailable, OSError, subprocess.TimeoutExpired) as error:
        if IN_CI:
            pytest.fail(f"axe-core is needed in CI: {error}")
        pytest.skip(str(error))


def axe_violations(page: object, source: str) -> list[Violation]:
    """Inject axe into the page (if not already there) and return every violation it finds."""
    # Evaluated through the DevTools protocol, so the dashboard's Content-Security-Policy (no inline
    # script) does not block it, and the page is tested with its real policy in force.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):  # type: ignore[attr-defined]
        page.evaluate(source + "\n;true")  # type: ignore[attr-defined]
    found = page.evaluate(_RUN_AXE)  # type: ignore[attr-defined]
    return [Violation(v["id"], v["impact"] or "", v["help"], tuple(v["targets"]), v["summary"]) for v in found]


def blocking(violations: list[Violation]) -> list[Violation]:
    """The violations that fail a test: serious or critical ones."""
    return [v for v in violations if v.impact in BLOCKING_IMPACTS]
