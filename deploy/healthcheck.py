"""Container health check: GET $HEALTHCHECK_URL, healthy on a 2xx answer (stdlib only)."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def check(url: str, timeout_s: float = 4.0) -> tuple[bool, str]:
    """Whether `url` answers 2xx within the timeout, and a one-line reason."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (local URL from the deploy)
            reason = f"{url}: HTTP {response.status}"
            for line in _failed_jobs(response.read()):
                reason += f"\nwarning: {line}"
            return 200 <= response.status < 300, reason
    except urllib.error.HTTPError as exc:
        return False, f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {exc}"


def _failed_jobs(body: bytes) -> list[str]:
    """The failed TimescaleDB jobs a /health answer lists (they show in `docker inspect`'s health log)."""
    try:
        detail = json.loads(body)
    except ValueError:
        return []
    jobs = detail.get("timescaledb_jobs_failed") if isinstance(detail, dict) else None
    return [str(job) for job in jobs] if isinstance(jobs, list) else []


def main() -> int:
    """Exit 0 when healthy (or when this service declares no URL), 1 otherwise."""
    url = os.environ.get("HEALTHCHECK_URL", "").strip()
    if not url:
        return 0
    healthy, reason = check(url)
    print(reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
