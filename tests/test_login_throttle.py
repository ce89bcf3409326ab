"""Password guessing is slowed per (name, address) pair and per address, and locks nobody else out."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.auth.throttle import LoginThrottle
from geo_service.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _login(client: TestClient, name: str, password: str):
    return client.post("/auth/login", json={"name": name, "password": password})


def test_guessing_the_admins_password_elsewhere_does_not_lock_the_admin_or_colleagues_out(settings):
    """Old code: five wrong passwords for a name locked that name out everywhere (the admin too), and
    five typos from an address locked out everyone behind it (an office NAT)."""
    app = create_app(settings)
    with TestClient(app, client=("10.20.0.66", 40000)) as attacker:
        accounts = app.state.accounts
        accounts.add_user("chief", "admin", password="the chief's pw")
        accounts.add_user("clerk", "viewer", password="the clerk's pw")
        for _ in range(5):
            assert _login(attacker, "chief", "guess-guess").status_code == 401
        refused = _login(attacker, "chief", "the chief's pw")  # right, but this pair must wait
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert "秒后再试" in body["detail_zh"]
        assert "Too many failed sign-ins" in body["detail_en"]
        assert int(refused.headers["retry-after"]) >= 1
        # the admin at their own desk signs in as usual
        admin = TestClient(app, client=("10.20.0.5", 51000))
        assert _login(admin, "chief", "the chief's pw").status_code == 200
        # a colleague behind the same address as the guesser is not slowed by the guesser
        colleague = TestClient(app, client=("10.20.0.66", 40001))
        assert _login(colleague, "clerk", "the clerk's pw").status_code == 200
        # and one's own typos do not lock out the others behind one address
        for _ in range(5):
            assert _login(colleague, "clerk", "typo-typo").status_code == 401
        assert _login(colleague, "clerk", "the clerk's pw").status_code == 429
        accounts.add_user("clerk2", "viewer", password="clerk two pw")
        assert _login(colleague, "clerk2", "clerk two pw").status_code == 200


def test_each_further_guess_waits_twice_as_long_and_a_success_clears_the_pair():
    clock = Clock()
    t = LoginThrottle(limit=3, window_s=300, clock=clock)
    for _ in range(3):
        assert t.wait_s("li", "1.2.3.4") == 0
        t.record("li", "1.2.3.4", ok=False)
    waits = []
    for _ in range(9):
        wait = t.wait_s("li", "1.2.3.4")
        waits.append(wait)
        clock.now += wait
        assert t.wait_s("li", "1.2.3.4") == 0
        t.record("li", "1.2.3.4", ok=False)
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300]  # never longer than the window
    assert t.wait_s("li", "5.6.7.8") == 0  # another address is not slowed
    t.record("li", "1.2.3.4", ok=True)
    assert t.wait_s("li", "1.2.3.4") == 0
    # a pair's failures are forgotten after a window with none
    for _ in range(3):
        t.record("wang", "1.2.3.4", ok=False)
    assert t.wait_s("wang", "1.2.3.4") == 2
    clock.now += 300
    assert t.wait_s("wang", "1.2.3.4") == 0
    t.record("wang", "1.2.3.4", ok=False)
    assert t.wait_s("wang", "1.2.3.4") == 0  # one failure after the quiet window: counting starts again


def test_an_address_guessing_many_names_is_capped_far_above_one_users_limit():
    clock = Clock()
    t = LoginThrottle(limit=5, window_s=300, clock=clock)
    assert t.address_limit == 100
    for i in range(99):
        t.record(f"name{i}", "10.0.0.9", ok=False)
        clock.now += 1
    assert t.wait_s("someone", "10.0.0.9") == 0
    t.record("name99", "10.0.0.9", ok=True)  # a success does not reset the address's count
    t.record("name99", "10.0.0.9", ok=False)
    wait = t.wait_s("someone", "10.0.0.9")
    assert wait == pytest.approx(300 - 99)  # until the oldest failure leaves the window
    assert t.wait_s("someone", "10.0.0.10") == 0
    clock.now += wait
    assert t.wait_s("someone", "10.0.0.9") == 0


def test_the_settings_shape_the_throttle(tmp_path):
    app = create_app(
        Settings(workspace=tmp_path / "w.gpkg", login_attempts=2, login_window_s=60, login_address_attempts=7)
    )
    throttle = app.state.login_throttle
    assert (throttle.limit, throttle.window_s, throttle.address_limit) == (2, 60, 7)


def test_a_slowed_form_sign_in_shows_the_form_again(settings):
    """helper-33: in a browser, the sixth wrong password showed the raw 429 JSON, with no form and the
    page asked for lost; the form comes back saying how long to wait, and keeps where to go next."""
    app = create_app(settings)
    with TestClient(app) as browser:
        app.state.accounts.add_user("viewer1", "viewer", password="the right pw")
        form = {"name": "viewer1", "password": "wrong-wrong", "next": "/maps/plan?lang=en"}
        for _ in range(5):
            assert browser.post("/auth/login", data=form, follow_redirects=False).status_code == 303
        slowed = browser.post("/auth/login", data=form, follow_redirects=False)
        assert slowed.status_code == 303
        assert slowed.headers["retry-after"].isdigit()
        where = slowed.headers["location"]
        assert where.startswith("/auth/login?wait=")
        assert "next=%2Fmaps%2Fplan%3Flang%3Den" in where
        page = browser.get(where)
        assert page.status_code == 200
        assert "秒后再试" in page.text
        assert "Too many failed sign-ins" in page.text
        assert 'value="/maps/plan?lang=en"' in page.text


def test_a_sign_in_refused_by_the_throttle_is_in_the_audit_log(settings):
    """A 429 (or the form sent back with wait=N) left no trace: the audit log showed the five failed
    guesses and then nothing, however long the guessing went on. Each throttled try is now a row: the
    name tried, the address, that it was throttled and for how long; never the password."""
    app = create_app(settings)
    with TestClient(app, client=("10.20.0.66", 40000)) as attacker:
        accounts = app.state.accounts
        accounts.add_user("chief", "admin", password="the chief's pw")
        for _ in range(5):
            assert _login(attacker, "chief", "guess-guess").status_code == 401
        refused = _login(attacker, "chief", "secret guess 6")
        assert refused.status_code == 429
        form = attacker.post(
            "/auth/login",
            data={"name": "chief", "password": "secret guess 7", "next": "/maps/plan"},
            follow_redirects=False,
        )
        assert form.status_code == 303
        assert "wait=" in form.headers["location"]
        rows = sorted(
            (e for e in accounts.audit_log() if e.path == "/auth/login" and e.status == 429),
            key=lambda e: e.id,
        )
        assert len(rows) == 2
        for row in rows:
            assert (row.actor, row.method) == ("chief", "POST")
            assert row.detail["client"] == "10.20.0.66"
            assert row.detail["throttled"] is True
            assert row.detail["signed_in"] is False
            assert 1 <= row.detail["retry_after_s"] <= int(refused.headers["retry-after"])
            assert row.detail["refusal"]["code"] == "throttled"
        assert sum(1 for e in accounts.audit_log() if e.path == "/auth/login" and e.status == 401) == 5
        logged = repr([(e.actor, e.detail) for e in accounts.audit_log()])
        for password in ("secret guess 6", "secret guess 7", "guess-guess", "the chief's pw"):
            assert password not in logged


@pytest.fixture(params=["sqlite", "postgis"])
def accounts_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accounts.gpkg'}"
    return request.getfixturevalue("pg_schema_url")


def test_the_database_ledger_counts_as_the_memory_one_does(accounts_url):
    """A random run of failures, successes and quiet spells over a few names and addresses: the ledger in
    the accounts database (SQLite, PostgreSQL) answers every question as the in-memory one does."""
    import random

    from geo_service.auth.accounts import AccountStore
    from geo_service.auth.throttle import MemoryLedger

    accounts = AccountStore(accounts_url)
    try:
        table, memory = accounts.sign_in_ledger(), MemoryLedger()
        rng = random.Random(4)
        now, window = 1_000_000.0, 60.0
        for _ in range(400):
            name, client = rng.choice(["li", "wang", "zhao"]), rng.choice(["10.0.0.1", "10.0.0.2", "::1"])
            now += rng.choice([0.0, 0.5, 3.0, 20.0, 61.0])
            op = rng.random()
            for ledger in (table, memory):
                if op < 0.75:
                    ledger.failed(name, client, now, window)
                elif op < 0.85:
                    ledger.succeeded(name, client)
            assert table.streak(name, client, now, window) == memory.streak(name, client, now, window)
            assert table.recent(client, now, window) == memory.recent(client, now, window)
    finally:
        accounts.close()


def test_workers_over_one_workspace_share_the_counts(settings):
    """Before, each worker process counted failures in its own memory: with four workers a guesser got
    four times the tries. Two apps over one workspace stand for two workers here."""
    first, second = create_app(settings), create_app(settings)
    with (
        TestClient(first, client=("10.20.0.66", 40000)) as one,
        TestClient(second, client=("10.20.0.66", 40000)) as two,
    ):
        first.state.accounts.add_user("chief", "admin", password="the chief's pw")
        for worker in (one, two, one, two, one):
            assert _login(worker, "chief", "guess-guess").status_code == 401
        assert _login(two, "chief", "the chief's pw").status_code == 429
        assert _login(one, "chief", "the chief's pw").status_code == 429
