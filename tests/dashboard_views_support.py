"""Analytics results seeded by hand for the dashboard view tests (the analytics job is tested elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from coopwatt.rollups import refresh_rollups
from coopwatt.settings import load_settings
from tests.dashboard_support import PARIS, Seed, local_hours


@dataclass
class AnalyticsSeed:
    """Ids of what seed_analytics created."""

    alice_leak_alert: int
    c_alerts: list[int] = field(default_factory=list)
    building_alert: int = 0  # on building B's own heat meter, started ten days ago
    silent_meter_source: str = "src-c-water"
    intervention_id: int = 0
    # Ranking periods, local days [start, end): claire's residence has "latest" and "previous";
    # "other_scope" exists only for dwelling A, outside claire's residence.
    periods: dict[str, tuple[date, date]] = field(default_factory=dict)


def _last_tuesday_2am(today: date) -> datetime:
    days_back = (today.weekday() - 1) % 7 or 7
    return datetime.combine(today - timedelta(days=days_back), datetime.min.time(), PARIS).replace(hour=2)


def seed_analytics(url: str, seed: Seed, *, today: date) -> AnalyticsSeed:
    """Comparison groups (alice published, bob below k), baselines, alerts, suggestions, rankings, savings.

    Rankings cover two periods (the last twelve months and the twelve before) in both residences,
    and a third period in dwelling A's residence only.

    Also hourly consumption of dwelling C (its drill-down curve), a silent water meter in
    building B, and outdoor temperatures of both residences over this year's and last year's
    last 30 days.
    """
    now = datetime.now(PARIS)
    period_end = today - timedelta(days=1)
    period_start = period_end - timedelta(days=364)
    with psycopg.connect(url) as conn:
        # Alice's group is published (12 homes, its efficient level over 5 of them); bob's is below k: its
        # figures must never be shown, so they are filled here with a value easy to spot if it leaked.
        conn.execute(
            "INSERT INTO comparison_group (group_key, energy_kind, period_start, period_end, member_count, published,"
            " average_kwh, average_kwh_per_m2, efficient_kwh, efficient_kwh_per_m2, efficient_home_count)"
            " VALUES ('residence:%s|55-75|gas', 'electricity', %s, %s, 12, true, 2600, 40.5, 1500, 25.25, 5)",
            (seed.residence_id, period_start, period_end),
        )
        conn.execute(
            "INSERT INTO comparison_group (group_key, energy_kind, period_start, period_end, member_count, published,"
            " withheld_reason, average_kwh, average_kwh_per_m2)"
            " VALUES ('residence:%s|35-55|electric', 'electricity', %s, %s, 3, false, 'group_too_small', 98765, 4321.75)",
            (seed.residence_id, period_start, period_end),
        )
        conn.execute(
            "INSERT INTO comparison_member VALUES ('residence:%s|55-75|gas', 'electricity', %s, %s, %s, 2230, 34.84, 40)",
            (seed.residence_id, period_start, period_end, seed.dwelling_a),
        )
        conn.execute(
            "INSERT INTO comparison_member VALUES ('residence:%s|35-55|electric', 'electricity', %s, %s, %s,"
            " 283000, 5895.8, 90)", (seed.residence_id, period_start, period_end, seed.dwelling_b),
        )
        conn.execute(
            "INSERT INTO baseline (dwelling_id, energy_kind, period_start, period_end, qualified, params, cv_rmse, nmbe,"
            " base_kwh_per_day, heating_kwh_per_degree_day, heating_balance_point_c, normalised_kwh_per_year)"
            " VALUES (%s, 'electricity', %s, %s, true, '{}', 0.12, 0.0, 5.5, 0.25, 16.0, 2300)",
            (seed.dwelling_a, period_start, period_end),
        )
        conn.execute(
            "INSERT INTO baseline (dwelling_id, energy_kind, period_start, period_end, qualified, reasons, params,"
            " cv_rmse, nmbe, base_kwh_per_day, heating_kwh_per_degree_day, heating_balance_point_c)"
            " VALUES (%s, 'electricity', %s, %s, true, '[]', '{\"cv_folds\": 10}', 0.08, 0.013, 480, 2.5, 17.0)",
            (seed.dwelling_c, period_start, period_end),
        )
        # Outdoor temperatures: 8 °C this year, 10 °C a year ago (a colder period this year).
        for residence in (seed.residence_id, seed.other_residence_id):
            for n in range(31):
                for year_back, temperature in ((0, 8.0), (365, 10.0)):
                    day = today - timedelta(days=n + year_back)
                    for hour in (0, 12):
                        conn.execute("INSERT INTO outdoor_temperature VALUES (%s, %s, %s)",
                                     (residence, datetime.combine(day, datetime.min.time(), PARIS).replace(hour=hour),
                                      temperature))
        leak = conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, evidence)"
            " VALUES ('water_leak', 'critical', %s, %s, %s, %s, %s) RETURNING id",
            (seed.meters["a-water"], seed.dwelling_a, seed.building_id, _last_tuesday_2am(today),
             Jsonb({"min_flow_l_per_h": 12.0})),
        ).fetchone()
        assert leak is not None
        result = AnalyticsSeed(alice_leak_alert=int(leak[0]))
        # Building B: an older warning and a newer info, so "most severe first" and "newest first" both matter.
        rise = {"nights": 4.0, "base_load_w": 380.0, "reference_w": 120.0, "rise_w": 260.0,
                "extra_kwh_per_year": 2277.6}
        for kind, severity, hours_ago, evidence in (("above_baseline", "warning", 30, {}), ("spike", "info", 2, {}),
                                                    ("base_load_rise", "critical", 50, rise)):
            row = conn.execute(
                "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, detected_at,"
                " evidence) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (kind, severity, seed.meters["c-elec"], seed.dwelling_c, seed.other_building_id,
                 now - timedelta(hours=hours_ago + 5), now - timedelta(hours=hours_ago), Jsonb(evidence)),
            ).fetchone()
            assert row is not None
            result.c_alerts.append(int(row[0]))
        for kind, kwh, eur in (("base_load", 310.0, 62.5), ("offpeak_tariff", 0.0, 48.0), ("leak", 0.0, 120.0)):
            conn.execute("INSERT INTO suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year)"
                         " VALUES (%s, %s, %s, %s)", (seed.dwelling_a, kind, kwh, eur))
        conn.execute("INSERT INTO suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year)"
                     " VALUES (%s, 'heating_setpoint', 900, 181)", (seed.dwelling_c,))
        result.periods = {
            "latest": (today - timedelta(days=365), today),
            "previous": (today - timedelta(days=730), today - timedelta(days=365)),
            "other_scope": (today - timedelta(days=395), today - timedelta(days=30)),
        }
        for dwelling, kind, use, median, rank, reason, period in (
            (seed.dwelling_c, "electricity", 2894.3, 95.0, 1, "Consommation de veille élevée", "latest"),
            (seed.dwelling_a, "electricity", 35.2, 30.0, 2, "Hausse d'une année sur l'autre", "latest"),
            (seed.dwelling_c, "electricity", 1987.6, 90.0, 1, "Consommation de veille élevée", "previous"),
            (seed.dwelling_a, "electricity", 33.3, 30.0, 2, "Hausse d'une année sur l'autre", "previous"),
            (seed.dwelling_a, "electricity", 44.4, 30.0, 1, "Hausse d'une année sur l'autre", "other_scope"),
        ):
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, normalised_kwh_per_m2, group_median_kwh_per_m2,"
                " ratio_to_group, rank, reasons, period_start, period_end)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (dwelling, kind, use, median, use / median, rank,
                 Jsonb([{"code": "base_load", "message_fr": reason, "message_en": "High base load"
                         if rank == 1 else "Year-on-year growth", "evidence": {}}]), *result.periods[period]),
            )
        # Dwelling C's hourly curve over 14 days (a daily shape: 15 kWh at night, 27.1875 kWh from 7:00 to
        # 22:59), in place of the hours seed_cooperative gave it: still 555 kWh a local day (DST days: the
        # noon hour takes the difference), so the rollups refreshed below keep its daily bars.
        curve_start = datetime.combine(today - timedelta(days=14), datetime.min.time(), PARIS)
        conn.execute("DELETE FROM consumption_hourly WHERE meter_id = %s AND hour >= %s",
                     (seed.meters["c-elec"], curve_start))
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh) FROM STDIN") as copy:
            for n in range(14, -1, -1):
                hours = local_hours(today - timedelta(days=n))
                local = [hour.astimezone(PARIS).hour for hour in hours]
                energy = [27.1875 if 7 <= h <= 22 else 15.0 for h in local]
                noon = local.index(12)
                energy[noon] += 555.0 - sum(energy)
                for hour, kwh in zip(hours, energy, strict=True):
                    copy.write_row((seed.meters["c-elec"], hour, kwh))
        water = conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) VALUES (%s, 'water', 'index',"
                             " 'src-c-water') RETURNING id", (seed.dwelling_c,)).fetchone()
        assert water is not None
        # Its last week of water (a little by day, nothing at night) ends three days ago.
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, volume_m3) FROM STDIN") as copy:
            last = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
            for h in range(7 * 24):
                hour = last - timedelta(hours=h)
                copy.write_row((water[0], hour, 0.02 if 7 <= hour.hour <= 22 else 0.0))
        # Building B's own heat meter (no dwelling), its index frozen for ten days.
        heat = conn.execute("INSERT INTO meter (building_id, kind, mode, source) VALUES (%s, 'heat', 'index',"
                            " 'src-b-heat') RETURNING id", (seed.other_building_id,)).fetchone()
        assert heat is not None
        building_alert = conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, building_id, started_at, detected_at)"
            " VALUES ('frozen_index', 'warning', %s, %s, %s, %s) RETURNING id",
            (heat[0], seed.other_building_id, now - timedelta(days=10), now - timedelta(days=9)),
        ).fetchone()
        assert building_alert is not None
        result.building_alert = int(building_alert[0])
        intervention = conn.execute(
            "INSERT INTO intervention (building_id, day, description) VALUES (%s, %s, 'Isolation des combles')"
            " RETURNING id", (seed.other_building_id, today - timedelta(days=200)),
        ).fetchone()
        assert intervention is not None
        result.intervention_id = int(intervention[0])
        conn.execute(
            "INSERT INTO savings_result (intervention_id, energy_kind, reporting_days, avoided_kwh, avoided_fraction,"
            " band_kwh, confidence) VALUES (%s, 'electricity', 180, 12345.6, 0.143, 2100, 0.9)",
            (result.intervention_id,),
        )
    # The hours written above reach the daily rollups through the product's refresh, in either storage mode.
    refresh_rollups(url, load_settings({}, database_url=url, timezone="Europe/Paris"),
                    since=curve_start - timedelta(days=1), until=datetime.combine(today + timedelta(days=1),
                                                                                  datetime.min.time(), PARIS))
    return result
