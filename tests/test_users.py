"""``coopwatt users add|list|set-password|remove`` on a real database."""

from __future__ import annotations

import io
import os
from datetime import datetime

import psycopg
import pytest

from coopwatt.cli import main
from dashboard.auth import verify_password
from tests.dashboard_support import PARIS, Seed, seeded_cooperative


@pytest.fixture
def seeded(migrated_db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Seed]:
    """A seeded database that the CLI finds through COOPWATT_DATABASE_URL."""
    for key in [key for key in os.environ if key.startswith("COOPWATT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("COOPWATT_DATABASE_URL", migrated_db_url)
    return migrated_db_url, seeded_cooperative(migrated_db_url, today=datetime.now(PARIS).date(), days=3)


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    """Run the coopwatt command with some standard input."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def account(url: str, username: str) -> tuple[str, str, int | None, list[int], list[int]] | None:
    """(hash, role, dwelling, residences, buildings) of an account, or None."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT password_hash, role, dwelling_id,"
            " array(SELECT residence_id FROM account_residence WHERE account_id = a.id ORDER BY 1),"
            " array(SELECT building_id FROM account_building WHERE account_id = a.id ORDER BY 1)"
            " FROM account a WHERE username = %s", (username,),
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2], list(row[3]), list(row[4]))


def test_add_each_role_with_ids_or_codes(seeded: tuple[str, Seed], monkeypatch: pytest.MonkeyPatch) -> None:
    url, seed = seeded
    assert run(monkeypatch, ["users", "add", "Dora", "--role", "household", "--dwelling", "TIL/A/A-13",
                             "--password-stdin"], "long enough pw\n") == 0
    stored = account(url, "dora")
    assert stored is not None
    assert stored[1:] == ("household", seed.dwelling_b, [], [])
    assert stored[0].startswith("$argon2id$") and verify_password(stored[0], "long enough pw")

    assert run(monkeypatch, ["users", "add", "eve", "--role", "adviser", "--residence", "TIL", "--residence",
                             str(seed.other_residence_id), "--password-stdin"], "long enough pw\n") == 0
    eve = account(url, "eve")
    assert eve is not None and eve[1:] == ("adviser", None, sorted([seed.residence_id, seed.other_residence_id]), [])

    assert run(monkeypatch, ["users", "add", "gil", "--role", "manager", "--building", "ERA/B",
                             "--password-stdin"], "long enough pw\n") == 0
    gil = account(url, "gil")
    assert gil is not None and gil[1:] == ("manager", None, [], [seed.other_building_id])

    assert run(monkeypatch, ["users", "add", "ida", "--role", "admin", "--password-stdin"], "long enough pw\n") == 0
    ida = account(url, "ida")
    assert ida is not None and ida[1:] == ("admin", None, [], [])


@pytest.mark.parametrize("argv, stdin, message", [
    (["--role", "household", "--password-stdin"], "long enough pw\n", "needs --dwelling"),
    (["--role", "household", "--dwelling", "TIL/A/NOPE", "--password-stdin"], "long enough pw\n", "no such dwelling"),
    (["--role", "household", "--dwelling", "TIL/A", "--password-stdin"], "long enough pw\n", "expected an id"),
    (["--role", "adviser", "--building", "1", "--password-stdin"], "long enough pw\n", "--residence"),
    (["--role", "manager", "--password-stdin"], "long enough pw\n", "--building"),
    (["--role", "admin", "--dwelling", "1", "--password-stdin"], "long enough pw\n", "sees everything"),
    (["--role", "admin", "--password-stdin"], "short\n", "at least 10"),
])
def test_add_refuses_wrong_scopes_and_short_passwords(
    seeded: tuple[str, Seed], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str], stdin: str, message: str,
) -> None:
    url, _ = seeded
    assert run(monkeypatch, ["users", "add", "newbie", *argv], stdin) == 1
    assert message in capsys.readouterr().err
    assert account(url, "newbie") is None


def test_add_refuses_a_duplicate_name(seeded: tuple[str, Seed], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, ["users", "add", "ALICE", "--role", "admin", "--password-stdin"], "long enough pw\n") == 1
    assert "exists" in capsys.readouterr().err


def test_list_shows_roles_and_scopes(seeded: tuple[str, Seed], monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, ["users", "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(lines) == {"alice", "bob", "claire", "marc", "root"}
    assert "household" in lines["alice"] and "dwelling TIL/A/A-12" in lines["alice"]
    assert "residences ERA" in lines["claire"]
    assert "buildings ERA/B" in lines["marc"]
    assert "everything" in lines["root"] and "never" in lines["root"]


def test_set_password_and_remove(seeded: tuple[str, Seed], monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = seeded
    before = account(url, "alice")
    assert run(monkeypatch, ["users", "set-password", "alice", "--password-stdin"], "another long one\n") == 0
    after = account(url, "alice")
    assert before is not None and after is not None and after[0] != before[0]
    assert verify_password(after[0], "another long one")
    assert run(monkeypatch, ["users", "set-password", "nobody", "--password-stdin"], "another long one\n") == 1
    assert run(monkeypatch, ["users", "remove", "alice"]) == 0
    assert account(url, "alice") is None
    assert run(monkeypatch, ["users", "remove", "alice"]) == 1
    assert "no such account" in capsys.readouterr().err


def test_demo_accounts_one_per_role_and_usable(seeded: tuple[str, Seed]) -> None:
    from coopwatt.users import ensure_demo_accounts

    url, seed = seeded
    with psycopg.connect(url) as conn:
        # A second building in the household's residence: the demo manager has both.
        extra = conn.execute("INSERT INTO building (residence_id, code) VALUES (%s, 'A2') RETURNING id",
                             (seed.residence_id,)).fetchone()[0]
        conn.commit()
        first = ensure_demo_accounts(conn)
        again = ensure_demo_accounts(conn)
        conn.commit()
    assert [(name, role) for name, _, role in first] == [(name, role) for name, _, role in again]
    assert {role for _, _, role in first} == {"household", "adviser", "manager", "admin"}
    for (name, password, role), (_, old_password, _) in zip(again, first, strict=True):
        stored = account(url, name)
        assert stored is not None and stored[1] == role
        assert verify_password(stored[0], password) and not verify_password(stored[0], old_password)
    household = account(url, "demo-foyer")
    adviser = account(url, "demo-conseil")
    manager = account(url, "demo-gestion")
    assert household is not None and household[2] == seed.dwelling_a
    assert adviser is not None and adviser[3] == [seed.residence_id]
    assert manager is not None and manager[4] == sorted([seed.building_id, extra])
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM account_building WHERE building_id = %s", (extra,))
        conn.execute("DELETE FROM building WHERE id = %s", (extra,))
        conn.commit()


def test_demo_household_is_a_home_whose_comparison_is_published(seeded: tuple[str, Seed]) -> None:
    """The demo shows the comparison with similar homes: its household lives in a published group when there is one."""
    from coopwatt.users import ensure_demo_accounts

    url, seed = seeded
    with psycopg.connect(url) as conn:
        ensure_demo_accounts(conn)  # no comparison yet: the first dwelling
        for published, members in ((True, [seed.dwelling_c]), (False, [seed.dwelling_b])):
            key = f"test|{'pub' if published else 'withheld'}"
            conn.execute("INSERT INTO comparison_group (group_key, energy_kind, period_start, period_end, member_count,"
                         " published, average_kwh) VALUES (%s, 'electricity', '2026-10-01', '2026-11-01', 5, %s, %s)",
                         (key, published, 120.0 if published else None))
            for dwelling in members:
                conn.execute("INSERT INTO comparison_member VALUES (%s, 'electricity', '2026-10-01', '2026-11-01', %s,"
                             " 100, 1.5, 50)", (key, dwelling))
        ensure_demo_accounts(conn)
        conn.commit()
    household, manager = account(url, "demo-foyer"), account(url, "demo-gestion")
    assert household is not None and household[2] == seed.dwelling_c
    assert manager is not None and manager[4] == [seed.other_building_id]  # the household's residence's, only
