"""The accounts store over years of use: what it remembers stays bounded."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from geo_service.auth import accounts as accounts_module
from geo_service.auth.accounts import AccountStore, tokens


def test_made_up_tokens_do_not_grow_the_token_memory(tmp_path, monkeypatch):
    """Every token checked was remembered for good, made-up ones too: a scanner sending random bearer
    tokens grew the service's memory without end."""
    monkeypatch.setattr(accounts_module, "_TOKEN_CACHE_MOST", 50)
    store = AccountStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        store.add_user("li", "viewer", password="long enough pw")
        real = store.issue_token("li")
        for n in range(500):
            assert store.user_for_token(f"gs_made-up-{n}") is None
            assert len(store._cache) <= 50
        assert store.user_for_token(real).name == "li"  # still answered, from the database
    finally:
        store.close()


def test_sign_ins_do_not_pile_up_ended_sessions(tmp_path):
    """Each sign-in adds a session token; the ended ones were kept for ever."""
    store = AccountStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        store.add_user("li", "viewer", password="long enough pw")
        api = store.issue_token("li")  # an API token without an end stays
        for _ in range(5):
            assert (
                store.login("li", "long enough pw", ttl=dt.timedelta(seconds=-1)) is not None
            )  # ended at once
        live = store.login("li", "long enough pw")
        with store.engine.connect() as con:
            kinds = sorted(k for (k,) in con.execute(sa.select(tokens.c.kind)))
        assert kinds == [
            "api",
            "session",
        ]  # the five ended sessions are gone, the live one and the API token kept
        assert store.user_for_token(live).name == "li"
        assert store.user_for_token(api).name == "li"
    finally:
        store.close()
