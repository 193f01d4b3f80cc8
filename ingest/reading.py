"""The one shape every adapter, importer and the simulator produce."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from datetime import datetime

from coopwatt.quantities import Quantity


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement from one device, already in its canonical unit.

    ``source`` is how the meter registry knows the device (``meter.source``);
    ``time`` is timezone-aware; ``value`` is in the unit named by ``quantity``.
    """

    source: str
    time: datetime
    quantity: Quantity
    value: float


class PayloadError(ValueError):
    """A message or row that cannot become readings; the text is the dead-letter reason."""


# Values quoted in a dead-letter reason are cut short: the payload itself is kept beside the reason.
_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlevel = 2
_SHORT.maxlist = _SHORT.maxdict = 4


def shown(value: object) -> str:
    """A value as a reason quotes it: repr, cut to a few dozen characters, never recursing deep."""
    return _SHORT.repr(value)
