"""Alert webhooks: one JSON POST per notification; a 2xx answer means delivered."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from analytics.notify.errors import DeliveryError

USER_AGENT = "coopwatt-alerts/1"


def post_json(url: str, payload: dict[str, Any], *, timeout_s: float, delivery_id: str) -> int:
    """POST the payload as JSON and return the HTTP status; raise DeliveryError unless it is 2xx."""
    if urlsplit(url).scheme not in ("http", "https"):
        # urllib would happily open file:// or ftp:// targets: only web URLs are webhooks.
        raise DeliveryError(f"webhook target is not an http(s) URL: {url!r}", permanent=True)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        # The same id on every attempt of one notification, so a receiver can drop a repeat.
        "X-Coopwatt-Delivery": delivery_id,
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook answered HTTP {status}")
    return status
