"""Consent records (coopwatt.consent): history kept, one grant in force per flow, what each meter may store."""

from __future__ import annotations

import psycopg
import pytest

from coopwatt import consent
from coopwatt.consent import Collection, ConsentError, collection_for
from coopwatt.consent_texts import all_texts, duration
from coopwatt.settings import Settings
from tests.factories import make_meters


def test_collection_follows_the_flows() -> None:
    assert collection_for("electricity", {consent.LOAD_CURVE}) is Collection.FULL
    assert collection_for("electricity", {consent.ELECTRICITY_DAILY}) is Collection.DAILY
    assert collection_for("electricity", {consent.GAS, consent.WATER}) is Collection.NONE
    assert collection_for("water", {consent.WATER}) is Collection.FULL
    assert collection_for("heat", {consent.GAS}) is Collection.NONE
    assert collection_for("heat", {consent.HEATING}) is Collection.FULL


def test_texts_say_the_retention_settings_in_both_languages() -> None:
    settings = Settings(retention_days=365, retention_hourly_days=730, retention_daily_days=1826,
                        comparison_min_group_size=7)
    fr, en = all_texts("fr", settings), all_texts("en", settings)
    assert list(fr) == list(consent.FLOWS) == list(en)
    assert "1 an" in fr[consent.LOAD_CURVE].how_long and "2 ans" in fr[consent.LOAD_CURVE].how_long
    assert "1 year" in en[consent.LOAD_CURVE].how_long and "2 years" in en[consent.LOAD_CURVE].how_long
    assert "5 years" in en[consent.ELECTRICITY_DAILY].how_long
    assert "7" in en[consent.COMPARISONS].who and "7" in fr[consent.COMPARISONS].who
    assert duration(90, "en") == "3 months" and duration(10, "fr") == "10 jours"


def test_history_is_kept_and_one_grant_is_in_force(migrated_db_url: str) -> None:
    meter = make_meters(migrated_db_url, ["c-1"])["c-1"]
    with psycopg.connect(migrated_db_url) as conn:
        dwelling = conn.execute("SELECT dwelling_id FROM meter WHERE id = %s", (meter,)).fetchone()[0]
        with pytest.raises(ConsentError, match="paper form"):
            consent.record_decision(conn, dwelling, consent.GAS, True, recorded_by="staff")
        with pytest.raises(ConsentError, match="unknown data flow"):
            consent.record_decision(conn, dwelling, "telepathy", True, recorded_by="household")
        online = consent.consents_in_force(conn, dwelling)[consent.WATER]  # make_meters: consented online
        assert online.recorded_by == "household" and online.text_version == consent.TEXT_VERSION
        refusal = consent.record_decision(conn, dwelling, consent.WATER, False, recorded_by="household")
        assert consent.WATER not in consent.consents_in_force(conn, dwelling)
        first = consent.record_decision(conn, dwelling, consent.WATER, True, recorded_by="staff", paper_form="F-12")
        assert consent.record_decision(conn, dwelling, consent.WATER, True, recorded_by="household") == first
        withdrawn = consent.withdraw(conn, dwelling, consent.WATER, by="household", choice="delete")
        assert withdrawn.id == first
        with pytest.raises(ConsentError, match="no consent"):
            consent.withdraw(conn, dwelling, consent.WATER, by="household")
        again = consent.record_decision(conn, dwelling, consent.WATER, True, recorded_by="household")
        conn.commit()
        history = consent.consent_history(conn, dwelling)
        water = [r for r in history if r.flow == consent.WATER]
        assert [r.id for r in water] == [again, first, refusal, online.id]
        assert water[1].withdrawn_at is not None and water[1].withdrawal_choice == "delete"
        assert not water[2].granted and water[3].withdrawn_at is not None  # the refusal closed the online grant
        assert water[1].recorded_by == "staff" and water[1].paper_form == "F-12"
        assert consent.consents_in_force(conn, dwelling)[consent.WATER].id == again
        assert consent.dwellings_consenting(conn, consent.WATER) >= {dwelling}


def test_the_panel_speaks_both_languages() -> None:
    from dashboard.consent_messages import MESSAGES

    assert set(MESSAGES["fr"]) == set(MESSAGES["en"])
    assert all(MESSAGES["fr"][key] != MESSAGES["en"][key] for key in MESSAGES["fr"])
