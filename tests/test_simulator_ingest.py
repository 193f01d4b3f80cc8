"""Simulator → real broker → coopwatt's ingester → PostgreSQL: every reading meant is stored, nothing dead-lettered."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from coopwatt.quantities import Quantity
from coopwatt.simulator.encode import iter_messages
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.publish import Publisher
from coopwatt.simulator.register import register_residences
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import Simulation
from ingest.service import IngestService


def _forget_session(host: str, port: int, client_id: str) -> None:
    """Remove the ingester's persistent session from the shared broker."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                         clean_session=True)
    client.connect(host, port)
    client.loop_start()
    client.disconnect()
    client.loop_stop()


def test_simulated_history_goes_through_the_ingester_without_loss_or_dead_letter(settings, broker):
    residences = make_residences(18, 21)
    meters = [m for r in residences for m in r.meters]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    until = start + timedelta(days=1)
    faults = plan_faults(residences, start, until, 21)
    with psycopg.connect(settings.database_url) as conn:
        registered = register_residences(conn, residences, installed_at=start - timedelta(days=1))
        conn.commit()
    simulation = Simulation(residences, start, seed=21, faults=faults)
    chunk = simulation.advance(until, 1800)
    meant: set[tuple[int, int, datetime]] = set()
    temperatures = 0
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(30)
        with Publisher(broker.url, topic_prefix=settings.mqtt_topic_prefix, max_outstanding=200) as publisher:
            for message in iter_messages(chunk, meters, timed=True, tz=settings.timezone):
                publisher.publish(message.topic, message.payload)
                for r in message.expected:
                    if r.quantity == Quantity.TEMPERATURE_C:
                        temperatures += 1
                    else:
                        meant.add((registered.meter_ids[r.source], int(r.quantity), r.time))
        # Shelly devices send no time: their history travels as native JSON, the source percent-encoded.
        shelly = {m.source for m in meters if "/" in m.source}
        assert shelly and {s for s in shelly if any(k[0] == registered.meter_ids[s] for k in meant)} == shelly
        deadline = time.monotonic() + 90
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                stored = conn.execute("SELECT count(*) FROM reading").fetchone()[0]
                dead = conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0]
                if stored >= len(meant) or dead:
                    break
                time.sleep(0.5)
            reasons = conn.execute("SELECT DISTINCT reason FROM dead_letter").fetchall()
            rows = conn.execute("SELECT meter_id, quantity_id, time FROM reading").fetchall()
            stored_temperatures = conn.execute("SELECT count(*) FROM outdoor_temperature").fetchone()[0]
    finally:
        service.stop()
        _forget_session(broker.host, broker.port, settings.mqtt_client_id)
    assert reasons == []
    assert len(rows) == len(meant)
    assert meant <= set(rows)
    assert stored_temperatures == temperatures == len(chunk.times)
