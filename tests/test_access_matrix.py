"""Every endpoint × every role: allowed or refused, as this table (written apart from the policy) says.

A route the table does not know fails the test, so a new endpoint cannot slip in unreviewed.
"""

from __future__ import annotations

import pytest

from tests.conftest import authed

ROLES = ("admin", "planner", "dispatcher", "crew", "viewer")
EVERYONE = {*ROLES, None}
SIGNED_IN = set(ROLES)
READERS = {"admin", "planner", "dispatcher", "viewer"}
ADMIN = {"admin"}
PLANNERS = {"admin", "planner"}
DISPATCHERS = {"admin", "dispatcher"}
CREW_OWN = READERS | {"crew"}  # crew: its own crew only (the path names crew 一组, the crew user's)

TABLE: dict[tuple[str, str], set[str | None]] = {
    ("GET", "/health"): EVERYONE,
    ("GET", "/auth/login"): EVERYONE,
    ("POST", "/auth/login"): EVERYONE,
    ("POST", "/auth/logout"): SIGNED_IN,
    ("GET", "/auth/me"): SIGNED_IN,
    ("POST", "/auth/tokens"): SIGNED_IN,
    ("GET", "/users"): ADMIN,
    ("POST", "/users"): ADMIN,
    ("PATCH", "/users/{name}"): ADMIN,
    ("GET", "/users/{name}/tokens"): ADMIN,
    ("DELETE", "/users/{name}/tokens/{token_id}"): ADMIN,
    ("GET", "/audit"): ADMIN,
    ("GET", "/audit/export"): ADMIN,
    ("GET", "/backup"): ADMIN,
    ("POST", "/backup/restore"): ADMIN,
    ("GET", "/"): READERS,
    ("GET", "/conformance"): READERS,
    ("GET", "/collections"): READERS,
    ("GET", "/collections/{collection_id}"): READERS,
    ("GET", "/collections/{collection_id}/schema"): READERS,
    ("GET", "/collections/{collection_id}/items"): READERS,
    ("GET", "/collections/{collection_id}/items/{feature_id}"): READERS,
    ("GET", "/collections/{collection_id}/items/{feature_id}/history"): READERS,
    ("GET", "/collections/{collection_id}/history"): READERS,
    ("GET", "/collections/{collection_id}/export"): READERS,
    ("GET", "/export"): READERS,
    # the layer used here is stall_sites, edited by planners (depots are checked below)
    ("POST", "/collections/{collection_id}/items"): PLANNERS,
    ("PUT", "/collections/{collection_id}/items/{feature_id}"): PLANNERS,
    ("PATCH", "/collections/{collection_id}/items/{feature_id}"): PLANNERS,
    ("DELETE", "/collections/{collection_id}/items/{feature_id}"): PLANNERS,
    ("POST", "/collections/{collection_id}/items/{feature_id}/restore"): PLANNERS,
    ("POST", "/collections/{collection_id}/import"): PLANNERS,
    ("POST", "/collections/{collection_id}/rewind"): PLANNERS,
    ("GET", "/coverage/who"): READERS,
    ("GET", "/coverage/beats"): READERS,
    ("GET", "/coverage/sites"): READERS,
    ("GET", "/coverage/beats/week"): READERS,
    ("GET", "/coverage/service-areas"): READERS,
    ("POST", "/coverage/what-if"): PLANNERS,
    ("POST", "/dispatch/cases"): DISPATCHERS,
    ("POST", "/dispatch/cases/upload"): DISPATCHERS,
    ("GET", "/dispatch/workload"): READERS,
    ("GET", "/services.json"): READERS,
    ("POST", "/requests.json"): DISPATCHERS,
    ("GET", "/requests.json"): READERS,
    ("GET", "/requests/{request_id}.json"): READERS,
    ("POST", "/planning/vendors"): PLANNERS,
    ("POST", "/planning/sites"): PLANNERS,
    ("POST", "/siting/check"): PLANNERS,
    ("GET", "/siting/report"): READERS,
    ("GET", "/plans/snow"): READERS,
    ("POST", "/plans/snow"): DISPATCHERS,
    ("GET", "/plans/snow/{plan_id}"): READERS,
    ("GET", "/plans/snow/{plan_id}/crews/{crew}"): CREW_OWN,
    ("GET", "/plans/snow/{plan_id}/crews/{crew}.gpx"): CREW_OWN,
    ("GET", "/plans/snow/{plan_id}/crews/{crew}/sheet"): CREW_OWN,
    ("GET", "/maps/plan"): READERS,
    ("GET", "/maps/plan.{fmt}"): READERS,
    ("GET", "/maps/coverage"): READERS,
    ("GET", "/maps/coverage.{fmt}"): READERS,
    ("GET", "/maps/route/{plan_id}/{crew}"): CREW_OWN,
    ("GET", "/maps/route/{plan_id}/{crew}.{fmt}"): CREW_OWN,
    ("GET", "/maps/crews/{crew}"): CREW_OWN,
}
PARAMS = {
    "collection_id": "stall_sites",
    "feature_id": "1",
    "name": "nobody",
    "plan_id": "p0",
    "crew": "一组",
    "fmt": "gif",
}


def _routes(app):
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            yield method.upper(), path


def test_table_covers_every_route(client):
    missing = [r for r in _routes(client.app) if r not in TABLE]
    assert missing == []
    stale = [r for r in TABLE if r not in set(_routes(client.app))]
    assert stale == []


def _call(client, method, path, headers):
    url = path
    for key, value in PARAMS.items():
        url = url.replace("{" + key + "}", value)
    kwargs = {"headers": {**headers, "Accept": "application/json"}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return client.request(method, url, **kwargs)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_access_matrix(anon_client, role):
    headers = {} if role is None else authed(anon_client, role, crew="一组" if role == "crew" else None)
    wrong = []
    for method, path in TABLE:
        if (method, path) in (("POST", "/auth/logout"), ("POST", "/auth/login")):
            continue  # logout ends the session the loop uses; login answers 401 to empty credentials (test_auth)
        resp = _call(anon_client, method, path, headers)
        allowed = role in TABLE[(method, path)]
        refused = resp.status_code in (401, 403)
        if allowed == refused:
            wrong.append((method, path, resp.status_code))
        if refused:
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert resp.status_code == (401 if role is None else 403)
    assert wrong == []


def test_crew_refused_other_crews_and_layer_editors(anon_client):
    crew = authed(anon_client, "crew", crew="二组")
    assert anon_client.get("/plans/snow/p0/crews/一组", headers=crew).status_code == 403
    assert anon_client.get("/maps/route/p0/一组.gif", headers=crew).status_code == 403
    assert anon_client.get("/maps/crews/一组", headers=crew).status_code == 403
    for role, code in (("dispatcher", 400), ("planner", 403)):
        r = anon_client.post("/collections/depots/items", json={}, headers=authed(anon_client, role))
        assert r.status_code == code, (role, r.status_code)
