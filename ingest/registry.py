"""The meter registry as the ingester sees it: which device is which meter.

Loaded from the database by the writer thread (never from an MQTT callback),
refreshed when an unknown device shows up, at most once per refresh interval.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import psycopg

from coopwatt.consent import Collection, meter_collections
from coopwatt.device_ids import meter_source_problem
from coopwatt.quantities import Quantity
from ingest.validate import MeterInfo

log = logging.getLogger(__name__)

RESIDENCE_SOURCE_PREFIX = "residence:"

# What an auto-registered meter is, judged from the first quantity it sends.
_KIND_BY_QUANTITY: dict[Quantity, tuple[str, str]] = {
    Quantity.ENERGY_INDEX_KWH: ("electricity", "index"),
    Quantity.ENERGY_INDEX_OFFPEAK_KWH: ("electricity", "index"),
    Quantity.ENERGY_INDEX_PEAK_KWH: ("electricity", "index"),
    Quantity.ENERGY_KWH: ("electricity", "interval"),
    Quantity.POWER_W: ("electricity", "index"),
    Quantity.APPARENT_POWER_VA: ("electricity", "index"),
    Quantity.VOLUME_INDEX_M3: ("water", "index"),
    Quantity.VOLUME_M3: ("water", "interval"),
}


@dataclass
class Registry:
    """Device source → meter, and residence code → residence id, cached in memory."""

    refresh_interval_s: float = 5.0
    meters: dict[str, MeterInfo] = field(default_factory=dict)
    residences: dict[str, int] = field(default_factory=dict)
    # meter id → what its household consented to (coopwatt.consent); a meter absent is collected in full.
    collections: dict[int, Collection] = field(default_factory=dict)
    _loaded_at: float = field(default=float("-inf"), repr=False)
    _consents_loaded_at: float = field(default=float("-inf"), repr=False)

    def load(self, conn: psycopg.Connection) -> None:
        """Read every meter and residence (a few thousand rows at most per cooperative)."""
        rows = conn.execute(
            "SELECT id, source, kind, mode, installed_at, removed_at FROM meter"
        ).fetchall()
        self.meters = {
            source: MeterInfo(meter_id=mid, kind=kind, mode=mode, installed_at=installed, removed_at=removed)
            for mid, source, kind, mode, installed, removed in rows
        }
        self.residences = dict(conn.execute("SELECT code, id FROM residence").fetchall())
        self._loaded_at = time.monotonic()
        self.load_consents(conn)
        log.debug("registry: %d meters, %d residences", len(self.meters), len(self.residences))

    def load_consents(self, conn: psycopg.Connection) -> None:
        """Read what every meter may store under its household's consents (one query)."""
        self.collections = {mid: c for mid, c in meter_collections(conn).items() if c is not Collection.FULL}
        self._consents_loaded_at = time.monotonic()

    def refresh_consents_if_stale(self, conn: psycopg.Connection, interval_s: float) -> bool:
        """Re-read the consents when the last read is older than ``interval_s``; True if re-read."""
        if time.monotonic() - self._consents_loaded_at < interval_s:
            return False
        self.load_consents(conn)
        return True

    def refresh_if_stale(self, conn: psycopg.Connection) -> bool:
        """Reload when the last load is older than the refresh interval; True if reloaded."""
        if time.monotonic() - self._loaded_at < self.refresh_interval_s:
            return False
        self.load(conn)
        return True

    def register(self, conn: psycopg.Connection, source: str, quantity: Quantity) -> MeterInfo | None:
        """Create a meter for an unknown device (when auto-registration is on); None if impossible."""
        kind_mode = _KIND_BY_QUANTITY.get(quantity)
        if kind_mode is None:
            return None
        problem = meter_source_problem(source)
        if problem is not None:
            # The rules of the registry import: an id that could collide on the broker is never a meter.
            log.warning("device %r not auto-registered: %s", source[:200], problem)
            return None
        kind, mode = kind_mode
        row = conn.execute(
            "INSERT INTO meter (kind, mode, source, format, auto_registered, installed_at)"
            " VALUES (%s, %s, %s, 'auto', true, '2000-01-01 00:00+00')"
            " ON CONFLICT (source) DO UPDATE SET source = excluded.source"
            " RETURNING id, kind, mode, installed_at, removed_at",
            (kind, mode, source),
        ).fetchone()
        assert row is not None
        info = MeterInfo(meter_id=row[0], kind=row[1], mode=row[2], installed_at=row[3], removed_at=row[4])
        self.meters[source] = info
        log.info("auto-registered device %r as %s meter %d", source, kind, info.meter_id)
        return info
