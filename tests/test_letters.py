"""Monthly letters: content, the print file (pdftotext, pdftoppm), e-mail through a real SMTP server, privacy, opt-out and erasure."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from reports.letters import queue_month, send_due, write_print_file
from reports.preferences import LetterPreference, PreferenceError, erase_letter_details, save_preference
from reports.progress_store import refresh_progress
from reports.render import render_pdf
from tests.letters_support import PARIS, TODAY, Residence, seed_residence, settings_for
from tests.mqtt_tools import free_port
from tests.test_notify_outbox import Mailbox, smtp  # noqa: F401 - the real SMTP server fixture

MONTH = date(2026, 11, 1)
K = 5
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)


def _pdftotext(path: Path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is installed by run.py"
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def residence(migrated_db_url: str) -> Residence:
    """Five homes in building A (−10 % weather-normalised), four in B (+10 %); analytics results for A-1."""
    seeded = seed_residence(migrated_db_url, {"A": [-0.10] * K, "B": [0.10] * (K - 1)})
    a1, b1 = seeded.dwellings["A-1"], seeded.dwellings["B-1"]
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute("INSERT INTO suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year, evidence)"
                     " VALUES (%s, 'base_load', 438, 88.3, %s), (%s, 'offpeak_tariff', 0, 31, '{}')",
                     (a1, Jsonb({"base_load_w": 130.0, "efficient_base_load_w": 80.0}), a1))
        conn.execute("INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at)"
                     " VALUES ('above_baseline', 'warning', %s, %s, %s, %s)",
                     (seeded.meters["A-1"], a1, seeded.buildings["A"], datetime(2026, 11, 24, 7, tzinfo=PARIS)))
        # Similar homes: building A's five homes published; B-1 in a group of four, withheld.
        period = (date(2026, 11, 1), date(2026, 12, 1))
        conn.execute("INSERT INTO comparison_group (group_key, energy_kind, period_start, period_end, member_count,"
                     " published, average_kwh, average_kwh_per_m2, efficient_kwh_per_m2, efficient_home_count)"
                     " VALUES ('residence:1|55-75|electric', 'electricity', %s, %s, 5, true, 740, 12.34, NULL, 1)", period)
        conn.execute("INSERT INTO comparison_group (group_key, energy_kind, period_start, period_end, member_count,"
                     " published, withheld_reason) VALUES ('residence:1|55-75|other', 'electricity', %s, %s, 4, false,"
                     " 'fewer than 5')", period)
        for name in ("A-1", "A-2", "A-3", "A-4", "A-5"):
            conn.execute("INSERT INTO comparison_member VALUES ('residence:1|55-75|electric', 'electricity', %s, %s,"
                         " %s, 600, 10.04, NULL)", (*period, seeded.dwellings[name]))
        for name in ("B-1", "B-2", "B-3", "B-4"):
            conn.execute("INSERT INTO comparison_member VALUES ('residence:1|55-75|other', 'electricity', %s, %s,"
                         " %s, 777.77, 12.96, NULL)", (*period, seeded.dwellings[name]))
        save_preference(conn, LetterPreference(a1, "paper", None, "fr", "Famille Martin",
                                               "12 rue des Tilleuls\n69004 Lyon"), updated_by="test")
        save_preference(conn, LetterPreference(b1, "paper", None, "en", "Mr Smith", "1 Elm Street\n69004 Lyon"),
                        updated_by="test")
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        refresh_progress(conn, settings_for(migrated_db_url), TODAY)
    return seeded


def _letters(url: str) -> dict[int, tuple[str, str, str, dict]]:
    with psycopg.connect(url) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT dwelling_id, channel, target, language, content FROM letter WHERE month = %s", (MONTH,))}


def test_print_file_says_what_the_data_say(migrated_db_url: str, residence: Residence, tmp_path: Path,
                                           artifacts_dir: Path) -> None:
    settings = settings_for(migrated_db_url)
    a1, b1 = residence.dwellings["A-1"], residence.dwellings["B-1"]
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        stats = queue_month(conn, settings, MONTH, only=[a1, b1], now=NOW)
        assert (stats.email, stats.paper) == (0, 2)
        # Queued once: a second run of the month adds nothing.
        assert queue_month(conn, settings, MONTH, only=[a1, b1], now=NOW).paper == 0
        path, count = write_print_file(conn, settings, MONTH, directory=tmp_path, now=NOW)
        assert path is not None and count == 2
        assert write_print_file(conn, settings, MONTH, directory=tmp_path, now=NOW) == (None, 0)
    text = _pdftotext(path)
    french, english = text.split("Mr Smith", 1)
    squashed = re.sub(r"\s+", " ", french)
    # The month: November's 30 days at 6 °C, −10 %: 41 kWh × 0.9 a day.
    november_kwh = (5 + 2 * 12) * 0.9 * 30
    assert f"{november_kwh:.0f}".replace(".", ",") in squashed.replace("\u202f", "").replace(" ", "")
    assert "Famille Martin" in french and "69004 Lyon" in french
    # Against November 2025, weather for weather: 10 % less, but an alert is open, so no praise.
    assert "10 % de moins qu'un an plus tôt, à météo égale ; une alerte est en cours" in squashed.replace("\u202f", " ")
    assert "Bravo" not in squashed.split("Par rapport aux logements")[0]
    # Similar homes (published, rounded as shown), the most valuable suggestion with its own evidence only.
    assert "12,3 kWh/m²" in squashed.replace("\u202f", " ") and "10 kWh/m²" in squashed.replace("\u202f", " ")
    assert "Réduire la consommation de veille" in squashed and "130 W" in squashed
    assert "80 W" not in squashed  # the efficient neighbours' base load is a group figure: never quoted
    assert "heures creuses" not in squashed.split("La piste")[1].split("Points")[0]  # one suggestion only
    assert "plus élevée que d'habitude" in squashed
    # Collective progress: the residence (9 homes) is published; neither building is (B has 4 homes).
    assert "Ensemble dans votre résidence : Résidence PRO" in squashed
    assert "Objectif de la coopérative" in squashed
    assert "Votre bâtiment" not in squashed
    # English letter for B-1: its group of four is withheld and no figure of it is printed.
    squashed_en = re.sub(r"\s+", " ", english)
    assert "Your energy letter" in squashed_en and "fewer than 5 homes" in squashed_en
    assert "12,96" not in text and "12.96" not in text and "13 kWh/m²" not in squashed_en
    # Nothing about another household: no other dwelling's code in either letter.
    for name, dwelling in residence.dwellings.items():
        if name not in ("A-1", "B-1"):
            assert name not in text
    # Printed in batches and joined, the file says the same, page for page.
    with psycopg.connect(migrated_db_url) as conn:
        contents = [row[0] for row in conn.execute(
            "SELECT l.content FROM letter l JOIN dwelling d ON d.id = l.dwelling_id WHERE l.month = %s ORDER BY d.code",
            (MONTH,))]
    render_pdf(contents, tmp_path / "one-by-one.pdf", batch_letters=1)
    assert _pdftotext(tmp_path / "one-by-one.pdf") == text
    # Look at the pages: pdftoppm renders them for a person (tests/artifacts).
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(artifacts_dir / "letter-print")], check=True)
    assert (artifacts_dir / "letter-print-1.png").exists()


def test_email_sent_once_retried_and_bounce_recorded(migrated_db_url: str, residence: Residence,
                                                    smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    a1, a2, a3 = (residence.dwellings[n] for n in ("A-1", "A-2", "A-3"))
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        save_preference(conn, LetterPreference(a1, "email", "martin@coop.example", "fr"), updated_by="test")
        save_preference(conn, LetterPreference(a2, "email", "gone@coop.example", "en"), updated_by="test")
        save_preference(conn, LetterPreference(a3, "email", "later@coop.example", "en"), updated_by="test")
        mailbox.unknown.add("gone@coop.example")
        # The first round finds no server (a closed port): every letter waits for a retry.
        down = settings_for(migrated_db_url, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none",
                            smtp_from="coopwatt <lettres@coop.example>", alert_retry_base_s=60)
        assert queue_month(conn, down, MONTH, only=[a1, a2, a3], now=NOW).email == 3
        first = send_due(conn, down, now=NOW)
        assert (first.sent, first.retrying) == (0, 3)
        up = down.model_copy(update={"smtp_port": port})
        assert send_due(conn, up, now=NOW).sent == 0  # not due yet: the retry waits its delay
        second = send_due(conn, up, now=NOW + timedelta(minutes=2))
        assert (second.sent, second.to_paper) == (2, 1)
        assert send_due(conn, up, now=NOW + timedelta(hours=2)).sent == 0  # sent once
        bounce = conn.execute("SELECT reason FROM letter_bounce WHERE email = 'gone@coop.example'").fetchone()
        gone = conn.execute("SELECT channel, target, sent_at FROM letter WHERE dwelling_id = %s", (a2,)).fetchone()
    assert bounce is not None and "550" in bounce[0]
    assert gone == ("paper", "", None)  # the household still gets its letter, in the print file
    messages = mailbox.to("martin@coop.example")
    assert len(messages) == 1 and len(mailbox.to("later@coop.example")) == 1
    message = messages[0]
    assert message["Subject"] == "Votre lettre énergie : nov. 2026"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<svg" in html and "Réduire la consommation de veille" in html and "Réduire la consommation de veille" in text
    assert "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", html)  # nothing loads from elsewhere
    # The next month's letter for the bounced address goes on paper from the start.
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        assert queue_month(conn, up, date(2026, 12, 1), only=[a2], now=NOW).paper == 1


def test_opt_out_and_erasure(migrated_db_url: str, residence: Residence) -> None:
    settings = settings_for(migrated_db_url)
    a1, a2, a3 = (residence.dwellings[n] for n in ("A-1", "A-2", "A-3"))
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        save_preference(conn, LetterPreference(a2, "none"), updated_by="test")
        account = conn.execute("INSERT INTO account (username, password_hash, role, dwelling_id, language)"
                               " VALUES ('a3', 'x', 'household', %s, 'en') RETURNING id", (a3,)).fetchone()[0]
        with pytest.raises(PreferenceError):
            save_preference(conn, LetterPreference(a3, "email", "not an address"), updated_by="test")
        with pytest.raises(PreferenceError):
            save_preference(conn, LetterPreference(a3, "email", None), updated_by="test")
        conn.execute("INSERT INTO erasure_request (account_id, username, dwelling_id) VALUES (%s, 'a3', %s)",
                     (account, a3))
        queue_month(conn, settings, MONTH, only=[a1, a2, a3], now=NOW)
        assert set(_letters(migrated_db_url)) == {a1}  # opted out, and asked for erasure: no letter
        assert erase_letter_details(conn, a1) >= 2  # preference (name, address) and the queued letter
        assert conn.execute("SELECT count(*) FROM letter_preference WHERE dwelling_id = %s", (a1,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM letter WHERE dwelling_id = %s", (a1,)).fetchone()[0] == 0


def test_language_falls_back_on_the_account_then_the_cooperative(migrated_db_url: str, residence: Residence) -> None:
    a4, a5 = residence.dwellings["A-4"], residence.dwellings["A-5"]
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO account (username, password_hash, role, dwelling_id, language)"
                     " VALUES ('a4', 'x', 'household', %s, 'en')", (a4,))
        queue_month(conn, settings_for(migrated_db_url, letters_default_language="fr"), MONTH, only=[a4, a5], now=NOW)
    letters = _letters(migrated_db_url)
    assert letters[a4][2] == "en" and letters[a4][3]["subject"].startswith("Your energy letter")
    assert letters[a5][2] == "fr" and letters[a5][0] == "paper"


def test_the_month_run_follows_the_month_s_last_nightly_run(migrated_db_url: str) -> None:
    from analytics.job.scheduler import build_scheduler
    from reports.job import letters_schedule

    settings = settings_for(migrated_db_url, analytics_nightly_hour=3, letters_after_nightly_h=2)
    assert letters_schedule(settings) == (1, 5)
    assert letters_schedule(settings.model_copy(update={"analytics_nightly_hour": 23})) == (2, 1)
    scheduler = build_scheduler(migrated_db_url, settings)
    scheduler.start(paused=True)
    try:
        trigger = scheduler.get_job("letters").trigger
        fields = {field.name: str(field) for field in trigger.fields}
        assert (fields["day"], fields["hour"], fields["minute"]) == ("1", "5", "0")
    finally:
        scheduler.shutdown(wait=False)


def test_staff_change_preferences_and_print_with_the_cli(migrated_db_url: str, residence: Residence,
                                                         tmp_path: Path) -> None:
    import os
    import sys

    a5 = residence.dwellings["A-5"]
    env = dict(os.environ, COOPWATT_DATABASE_URL=migrated_db_url, COOPWATT_TIMEZONE="Europe/Paris")

    def coopwatt(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coopwatt.cli", "reports", *args], env=env, capture_output=True,
                              text=True, timeout=300)

    bad = coopwatt("prefs", str(a5), "--delivery", "email", "--email", "nope")
    assert bad.returncode == 1 and "not an e-mail address" in bad.stderr
    done = coopwatt("prefs", str(a5), "--delivery", "paper", "--name", "Mme Durand", "--address", "3 place X\\n69001 Lyon",
                    "--language", "en")
    assert done.returncode == 0, done.stderr
    assert "delivery=paper" in done.stdout and "3 place X / 69001 Lyon" in done.stdout
    built = coopwatt("build", "--month", "2026-11", "--dwelling", str(a5))
    assert built.returncode == 0 and "0 to e-mail, 1 on paper queued" in built.stdout, built.stderr
    printed = coopwatt("print", "--month", "2026-11", "--dir", str(tmp_path))
    assert printed.returncode == 0 and "(1 letter(s))" in printed.stdout, printed.stderr
    text = _pdftotext(next(tmp_path.glob("letters-2026-11-*.pdf")))
    assert "Mme Durand" in text and "69001 Lyon" in text and "Your energy letter" in text
    erased = coopwatt("erase", str(a5))
    assert erased.returncode == 0 and "erased" in erased.stdout
    with psycopg.connect(migrated_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM letter_preference WHERE dwelling_id = %s", (a5,)).fetchone()[0] == 0


def test_an_erasure_request_from_the_household_page_removes_letter_details(migrated_db_url: str,
                                                                           residence: Residence) -> None:
    from dashboard.actions import request_erasure
    from dashboard.scope import load_scope

    a1 = residence.dwellings["A-1"]
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        save_preference(conn, LetterPreference(a1, "email", "martin@coop.example", "fr", "Famille Martin", "12 rue X"),
                        updated_by="test")
        queue_month(conn, settings_for(migrated_db_url), MONTH, only=[a1], now=NOW)
        account = conn.execute("INSERT INTO account (username, password_hash, role, dwelling_id)"
                               " VALUES ('martin', 'x', 'household', %s) RETURNING id", (a1,)).fetchone()[0]
        scope = load_scope(conn, account)
        assert scope is not None
        with conn.transaction():
            request_erasure(conn, scope)
        left = conn.execute("SELECT (SELECT count(*) FROM letter_preference WHERE dwelling_id = %(d)s),"
                            " (SELECT count(*) FROM letter WHERE dwelling_id = %(d)s)", {"d": a1}).fetchone()
        assert left == (0, 0)
        # And no new letter is built while the request is open.
        assert queue_month(conn, settings_for(migrated_db_url), date(2026, 12, 1), only=[a1], now=NOW).paper == 0


def test_the_letter_s_days_agree_with_the_household_page_s_queries(migrated_db_url: str, residence: Residence) -> None:
    """read_days/months/paired (meters pushed into the view) give what dashboard.queries gives, gaps and estimates included."""
    from coopwatt.rollups import refresh_rollups
    from dashboard import queries
    from reports.letter_days import months, paired, read_days

    a2 = residence.dwellings["A-2"]
    meter = residence.meters["A-2"]
    settings = settings_for(migrated_db_url)
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        # 10 November: half the day missing; 12 November: estimated; 20 November 2025: missing last year.
        conn.execute("DELETE FROM consumption_hourly WHERE meter_id = %s AND hour >= %s AND hour < %s",
                     (meter, datetime(2026, 11, 10, tzinfo=PARIS), datetime(2026, 11, 10, 12, tzinfo=PARIS)))
        conn.execute("UPDATE consumption_hourly SET estimated = true WHERE meter_id = %s AND hour = %s",
                     (meter, datetime(2026, 11, 12, 12, tzinfo=PARIS)))
        conn.execute("DELETE FROM consumption_hourly WHERE meter_id = %s AND hour >= %s AND hour < %s",
                     (meter, datetime(2025, 11, 20, tzinfo=PARIS), datetime(2025, 11, 21, tzinfo=PARIS)))
        for since in (datetime(2025, 11, 19, tzinfo=PARIS), datetime(2026, 11, 9, tzinfo=PARIS)):
            refresh_rollups(conn, settings, since, since + timedelta(days=5))
        days = read_days(conn, a2, [(date(2025, 11, 1), date(2026, 12, 1))], timezone="Europe/Paris",
                         gas_kwh_per_m3=settings.gas_kwh_per_m3)
        shift = (MONTH - date(2025, 11, 1)).days
        expected_pair = queries.paired_use(conn, a2, "electricity", MONTH, date(2026, 12, 1), shift_days=shift,
                                           timezone="Europe/Paris", gas_kwh_per_m3=settings.gas_kwh_per_m3)
        expected_months = [p for p in queries.consumption_by_period(
            conn, a2, "electricity", "month", timezone="Europe/Paris", gas_kwh_per_m3=settings.gas_kwh_per_m3,
            today=date(2026, 11, 30)) if date(2025, 11, 1) <= p.start < date(2026, 12, 1)]
    got = paired(days, "electricity", MONTH, date(2026, 12, 1), shift)
    assert got.days == expected_pair.days and len(got.days) == 27  # 30 days less the 10th, 12th and 20th
    assert got.this_period == pytest.approx(expected_pair.this_period)
    assert got.last_year == pytest.approx(expected_pair.last_year)
    assert [(p.start, p.days, p.estimated_days) for p in months(days, "electricity")] == \
        [(p.start, p.days, p.estimated_days) for p in expected_months]
    assert [p.amount for p in months(days, "electricity")] == pytest.approx([p.amount for p in expected_months])
