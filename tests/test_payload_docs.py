"""docs/payload-formats.md shows real examples: each file example is the very file the import tests read,
and each MQTT example line is parsed here and gives what the doc says it stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coopwatt.quantities import Quantity
from ingest.adapters import AdapterState, parse_message
from ingest.importer import read_lines

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "payload-formats.md").read_text(encoding="utf-8")
_FILE_EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```text\n(.*?)\n```", re.DOTALL)
_MQTT_EXAMPLES = re.compile(r"<!-- mqtt-examples:[^>]*-->\n```text\n(.*?)\n```", re.DOTALL)


def test_the_doc_has_an_example_of_each_imported_format() -> None:
    assert {path for path, _ in _FILE_EXAMPLE.findall(DOC)} == {
        f"tests/data/csv/{name}.csv" for name in (
            "enedis_daily_consumption", "enedis_index", "enedis_max_power", "enedis_measures", "grdf_daily",
            "water_index")}
    assert len(_MQTT_EXAMPLES.findall(DOC)) == 2  # Shelly Gen1 and ESPHome


@pytest.mark.parametrize(("path", "shown"), _FILE_EXAMPLE.findall(DOC), ids=lambda v: str(v)[:40])
def test_each_file_example_is_the_test_file(path: str, shown: str) -> None:
    """What the doc shows is the file tests/test_import_utility.py imports (decoded, line ends aside)."""
    assert read_lines(ROOT / path) == shown.split("\n")


MQTT_LINES = [line for block in _MQTT_EXAMPLES.findall(DOC) for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("line", MQTT_LINES)
def test_each_mqtt_example_stores_what_the_doc_says(line: str) -> None:
    topic, payload, *stored = line.split()
    readings = parse_message(topic, payload.encode(), datetime(2026, 1, 5, tzinfo=UTC), AdapterState(),
                             ZoneInfo("Europe/Paris"))
    if stored == ["-"]:
        assert readings == []
    else:
        quantity, value = stored
        assert [(r.quantity, r.value) for r in readings] == [(Quantity[quantity.upper()], pytest.approx(float(value)))]
