"""Building rows from parsed messages: validation applies to every reading, temperatures included."""

from datetime import UTC, datetime

from ingest.adapters import AdapterState
from ingest.batch import Message, build_rows, parse_batch
from ingest.validate import MeterInfo, ValidationLimits

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
METERS = {"m1": MeterInfo(meter_id=7, kind="electricity", mode="index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))}


def _rows(*messages: tuple[str, bytes]):
    parsed = parse_batch([Message(t, p, NOW) for t, p in messages], AdapterState(), UTC)
    return build_rows(parsed, METERS, {"R1": 3}, {}, NOW, ValidationLimits())


def test_outdoor_temperature_is_validated_like_any_reading() -> None:
    rows = _rows(
        ("coopwatt/R1/temperature", b'{"time": "2026-01-05T11:00:00Z", "value": 4.5}'),
        ("coopwatt/R1/temperature", b'{"time": "2026-01-05T11:30:00Z", "value": 400}'),
        ("coopwatt/R1/temperature", b'{"time": "2027-01-05T11:00:00Z", "value": 3}'),
        ("coopwatt/R9/temperature", b'{"time": "2026-01-05T11:00:00Z", "value": 3}'),
    )
    assert rows.temperatures == [(3, datetime(2026, 1, 5, 11, tzinfo=UTC), 4.5)]
    reasons = [d[3] for d in rows.dead_letters]
    assert len(reasons) == 3
    assert "outside" in reasons[0] and "future" in reasons[1] and "unknown residence 'R9'" in reasons[2]


def test_good_readings_of_a_message_are_kept_when_another_is_refused() -> None:
    payload = (b'{"time": "2026-01-05T11:00:00Z", "readings": ['
               b'{"quantity": "energy_index", "value": 12.5, "unit": "kWh"},'
               b'{"quantity": "power", "value": -5, "unit": "W"}]}')
    rows = _rows(("coopwatt/m1/reading", payload))
    assert rows.readings == [(7, 1, datetime(2026, 1, 5, 11, tzinfo=UTC), 12.5)]
    assert len(rows.dead_letters) == 1 and "negative" in rows.dead_letters[0][3]
    assert rows.rejected == {"invalid": 1}
