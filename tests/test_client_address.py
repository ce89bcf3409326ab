"""The client address the audit log and sign-in throttling see cannot be chosen by the client: an
X-Forwarded-For header counts only from a proxy GEO_TRUSTED_PROXIES names (none by default)."""

from __future__ import annotations

import pydantic
import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.settings import Settings


def _sign_in_clients(app) -> list[str]:
    return [
        e.detail["client"]
        for e in app.state.accounts.audit_log()
        if e.path == "/auth/login" and e.detail and "client" in e.detail
    ]


def test_a_forged_forwarded_for_changes_neither_the_audit_nor_the_throttle(tmp_path):
    app = create_app(Settings(workspace=tmp_path / "w.gpkg"))
    with TestClient(app, client=("203.0.113.9", 40000)) as c:
        app.state.accounts.add_user("ma", "viewer", password="ma's password")
        for i in range(5):  # each guess claims to come from somewhere else
            r = c.post(
                "/auth/login",
                json={"name": "ma", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"10.99.0.{i}"},
            )
            assert r.status_code == 401
        assert set(_sign_in_clients(app)) == {"203.0.113.9"}
        r = c.post(
            "/auth/login",
            json={"name": "ma", "password": "guess-guess"},
            headers={"X-Forwarded-For": "10.99.0.200"},
        )
        assert r.status_code == 429  # the throttle counted the real address, not the forged ones


def test_a_trusted_proxy_names_the_client(tmp_path):
    # helper-32: 192.0.2.5/24 (host bits set) passed the check, then matched nothing in uvicorn
    app = create_app(Settings(workspace=tmp_path / "w.gpkg", trusted_proxies="192.0.2.5/24, 198.51.100.7"))
    assert app.state.settings.trusted_proxies == "192.0.2.0/24,198.51.100.7"
    with TestClient(app, client=("192.0.2.10", 40000)) as proxy:
        proxy.post(
            "/auth/login",
            json={"name": "nobody", "password": "x" * 8},
            headers={"X-Forwarded-For": "10.5.6.7"},
        )
        other = TestClient(app, client=("203.0.113.9", 40000))  # not a proxy: its header is ignored
        other.post(
            "/auth/login",
            json={"name": "nobody", "password": "x" * 8},
            headers={"X-Forwarded-For": "10.5.6.8"},
        )
    assert sorted(_sign_in_clients(app)) == ["10.5.6.7", "203.0.113.9"]


def test_trusted_proxies_must_be_addresses(tmp_path):
    with pytest.raises(pydantic.ValidationError, match="not an IP address"):
        Settings(workspace=tmp_path / "w.gpkg", trusted_proxies="proxy.example")
    assert Settings(workspace=tmp_path / "w.gpkg").trusted_proxies == ""
