"""A household with only daily data (a year of Enedis daily consumption, imported) in the nightly analytics
and the dashboard's daily queries, next to households measured hourly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from analytics.job.nightly import run_nightly
from coopwatt.settings import Settings, load_settings
from dashboard import household_analytics
from dashboard.queries import consumption_by_period
from ingest.importer import import_file
from tests.nightly_support import TZ, Home, daily_temperature, home_daily_kwh, write_coop

TODAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 3, tzinfo=UTC)
HISTORY_DAYS = 731  # write_coop's default: the temperatures below are the same days, the same seed


@pytest.fixture
def nightly_settings(migrated_db_url: str, tmp_path: Path) -> Settings:
    """Settings for a nightly run on this test's database."""
    return load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, analytics_comparison_months=3,
                         timezone=TZ)


def _enedis_daily_export(path: Path, prm: str, home: Home, days: int) -> dict[date, float]:
    """Write the last ``days`` days of the home's true use as an Enedis daily-consumption export (Wh)."""
    start = pd.Timestamp(TODAY) - pd.Timedelta(days=HISTORY_DAYS)
    local_days = pd.date_range(start, periods=HISTORY_DAYS, freq="D", tz=TZ)
    kwh = home_daily_kwh(home, local_days, daily_temperature(local_days), TODAY, seed=777)
    wanted = {day.date(): float(value) for day, value in zip(local_days[-days:], kwh[-days:])}
    lines = ["Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;"
             "Etape metier;Unite",
             f"{prm};Consommation quotidienne;;;Energie active;Consommation;Comptage Brut;Wh",
             "Horodate;Valeur"]
    lines += [f"{day.isoformat()};{round(value * 1000)}" for day, value in wanted.items()]
    path.write_bytes("\r\n".join(lines).encode("latin-1"))
    return wanted


def test_a_daily_only_household_gets_a_baseline_and_appears_in_comparisons(nightly_settings: Settings,
                                                                          tmp_path: Path) -> None:
    hourly_homes = [Home(f"A{i}", slope_kwh_per_degree_day=1.0 + 0.2 * i) for i in range(5)]
    # Registered like the others, but never measured by the hour: first_day after today writes no hours.
    daily_home = Home("DAILY", slope_kwh_per_degree_day=1.5, balance_c=16.0, first_day=date(2099, 1, 1))
    coop = write_coop(nightly_settings, [*hourly_homes, daily_home], TODAY)
    truth = Home("DAILY", slope_kwh_per_degree_day=1.5, balance_c=16.0)
    path = tmp_path / "enedis_daily_year.csv"
    written = _enedis_daily_export(path, "elec-DAILY", truth, days=366)
    with psycopg.connect(nightly_settings.database_url) as conn:
        summary = import_file(conn, path, nightly_settings, meter_source="elec-DAILY", progress=False)
        assert summary.days.stored == 366 and summary.rejected == 0
        assert conn.execute("SELECT count(*) FROM consumption_hourly WHERE meter_id = %s",
                            (coop.meter_ids["DAILY"],)).fetchone()[0] == 0

    result = run_nightly(nightly_settings.database_url, nightly_settings, now=NOW)
    assert result.status == "ok" and result.failures == 0
    dwelling = coop.dwelling_ids["DAILY"]
    with psycopg.connect(nightly_settings.database_url) as conn:
        qualified, slope, balance, params = conn.execute(
            "SELECT qualified, heating_kwh_per_degree_day, heating_balance_point_c, params FROM baseline"
            " WHERE dwelling_id = %s AND energy_kind = 'electricity'", (dwelling,)).fetchone()
        periods = conn.execute(
            "SELECT g.period_start, g.member_count, g.published FROM comparison_member m"
            " JOIN comparison_group g USING (group_key, energy_kind, period_start, period_end)"
            " WHERE m.dwelling_id = %s ORDER BY g.period_start", (dwelling,)).fetchall()
        months = consumption_by_period(conn, dwelling, "electricity", "month", timezone=TZ,
                                       gas_kwh_per_m3=nightly_settings.gas_kwh_per_m3, today=TODAY)
    assert qualified and params["n_days"] >= 350
    assert slope == pytest.approx(1.5, rel=0.10) and balance == pytest.approx(16.0, abs=1.0)
    # In its residence's group with the five homes measured hourly, for each of the three complete months.
    assert periods == [(date(2026, 8, 1), 6, True), (date(2026, 9, 1), 6, True), (date(2026, 10, 1), 6, True)]
    # Features that need hours say so (counted in the run log) instead of running on spread-out days.
    assert result.skipped["hourly_features_no_hourly_data"] == 1
    # The dashboard's monthly figures are the imported days' sums.
    october = next(m for m in months if m.start == date(2026, 10, 1))
    expected = sum(round(v * 1000) / 1000 for d, v in written.items() if d.month == 10 and d.year == 2026)
    assert october.amount == pytest.approx(expected) and october.days == 31
    # The household's page says why it has no standby, leak or off-peak advice; a home measured hourly is not told.
    with psycopg.connect(nightly_settings.database_url) as conn:
        shown = {code: str(household_analytics.suggestions(conn, coop.dwelling_ids[code], "fr"))
                 for code in ("DAILY", "A0")}
    assert "suggestions-daily-only" in shown["DAILY"] and "courbe de charge" in shown["DAILY"]
    assert "suggestions-daily-only" not in shown["A0"]
