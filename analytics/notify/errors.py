"""The one exception a delivery channel raises, and whether retrying could help."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message was not delivered; ``permanent`` means retrying cannot help (the outbox gives up)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
