"""Ctrl-C on `python3 run.py demo` and `coopwatt demo`, as a terminal sends it (SIGINT to the foreground group).

Documented exit status: 0 when Ctrl-C ends the live phase (the usual way to stop the demo; it
finishes cleanly), 130 when it comes during the set-up. Either way: no traceback, every service
it started stopped, and one bilingual goodbye line.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.demo_process import DemoProcess, demo_environment, postgres_running_on

GOODBYE = "[demo] au revoir : démo arrêtée proprement, données gardées dans {data} / goodbye: demo stopped cleanly, " \
          "data kept in {data}\n"


def _assert_clean_stop(demo: DemoProcess, data: Path) -> None:
    assert "Traceback" not in demo.output and "KeyboardInterrupt" not in demo.output, demo.output
    assert demo.output.count("goodbye") == 1 and demo.lines[-1] == GOODBYE.format(data=data.resolve()), demo.output
    assert "embedded PostgreSQL stopped" in demo.output and "embedded MQTT broker stopped" in demo.output
    assert postgres_running_on(data) == [], "the demo must stop the PostgreSQL it started"
    assert (data / "demo.lock").read_text() == "", "a clean stop leaves the lock free and its record empty"


def test_ctrl_c_while_live_stops_cleanly_with_status_0(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = DemoProcess(demo_environment(data), "--days", "2", "--dwellings", "6", via_run_py=True)
    demo.wait_for("live (Ctrl-C to stop)")
    demo.wait_for("catching up")  # one status line: the live phase is under way
    demo.ctrl_c()
    assert demo.finish() == 0, demo.output
    _assert_clean_stop(demo, data)
    # The live phase was finished, not dropped: what was published was stored and summarised.
    assert "stop requested: stopping cleanly" in demo.output
    assert "no message set aside: everything received was valid" in demo.output, demo.output
    assert demo.output.index("stop requested") < demo.output.index("embedded PostgreSQL stopped")


def test_ctrl_c_during_set_up_stops_cleanly_with_status_130(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # `coopwatt demo` itself: through run.py, a demo killed by SIGINT would still show as 130 (run.py's 128 + 2).
    demo = DemoProcess(demo_environment(data), "--days", "60", "--dwellings", "12")
    demo.wait_for("history from")
    demo.ctrl_c()
    # Impatient: Ctrl-C again and again until it has ended. None may cut the stop short, nor land in the
    # moment between the demo's last line and its exit (a late one there once ended it killed by SIGINT).
    while demo.process.poll() is None:
        time.sleep(0.05)
        try:
            demo.ctrl_c()
        except ProcessLookupError:
            break
    assert demo.finish() == 130, demo.output
    assert "already stopping, one moment" in demo.output, demo.output
    _assert_clean_stop(demo, data)
    assert "interrupted during set-up: stopping the services" in demo.output
    assert "live (Ctrl-C" not in demo.output
