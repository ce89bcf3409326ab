"""Planning answers echo what the planner sent, exactly (user test ut68): a vendor or candidate named by a
number or true/false was a 500, and an id given to some features only came back as a float (1 as 1.0, a
long id rounded), so the answer no longer matched the input."""

from __future__ import annotations

import pytest


def _fc(points, props, ids=None):
    feats = []
    for k, (pt, pr) in enumerate(zip(points, props, strict=True)):
        f = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(pt)}, "properties": pr}
        if ids is not None and ids[k] is not None:
            f["id"] = ids[k]
        feats.append(f)
    return {"type": "FeatureCollection", "features": feats}


def _site_corner(c):
    site = c.get("/collections/stall_sites/items", params={"limit": 1}).json()["features"][0]
    x, y = site["geometry"]["coordinates"][0][0]
    return (x, y)


def _good_candidate(c):
    """A place the siting rules allow: a new site of the default answer (the rules judged it)."""
    body = c.post("/planning/sites", json={"method": "mclp", "p": 1, "keep_existing": False}).json()
    new = [f for f in body["sites"]["features"] if not f["properties"]["fixed"]]
    return tuple(new[0]["geometry"]["coordinates"])


@pytest.mark.parametrize("name", [3, 3.5, True])
def test_a_vendor_named_by_a_number_or_true_is_answered_with_that_name(demo_client, name):
    spot = _site_corner(demo_client)
    r = demo_client.post("/planning/vendors", json={"vendors": _fc([spot], [{"name": name}])})
    assert r.status_code == 200, r.text
    got = r.json()["assignments"][0]["name"]
    assert got == name
    assert type(got) is type(name)


@pytest.mark.parametrize("name", [7, True])
def test_a_candidate_named_by_a_number_or_true_is_answered_with_that_name(demo_client, name):
    good = _good_candidate(demo_client)
    r = demo_client.post(
        "/planning/sites",
        json={"method": "mclp", "p": 1, "keep_existing": False, "candidates": _fc([good], [{"name": name}])},
    )
    assert r.status_code == 200, r.text
    got = r.json()["sites"]["features"][0]["properties"]["name"]
    assert got == name
    assert type(got) is type(name)


def test_ids_given_to_some_vendors_only_come_back_exactly(demo_client):
    spot = _site_corner(demo_client)
    big = 12345678901234567  # beyond a float's 53 bits
    body = demo_client.post(
        "/planning/vendors",
        json={"vendors": _fc([spot] * 4, [{}, {}, {"id": 7}, {}], ids=[big, None, None, None])},
    ).json()
    ids = [a["id"] for a in body["assignments"]]
    assert ids == [big, None, 7, None]
    assert type(ids[2]) is int


def test_ids_and_names_of_candidates_come_back_exactly(demo_client):
    good = _good_candidate(demo_client)
    site = _site_corner(demo_client)  # on a stall site: left out by the spacing rule
    body = demo_client.post(
        "/planning/sites",
        json={
            "method": "mclp",
            "p": 1,
            "keep_existing": False,
            "candidates": _fc([good, site], [{"id": 1}, {"name": 7}]),
        },
    ).json()
    chosen = body["sites"]["features"][0]["properties"]
    assert chosen["id"] == 1
    assert type(chosen["id"]) is int
    left = body["left_out"][0]
    assert left["name"] == 7
    assert type(left["name"]) is int


def test_a_candidate_whose_hours_are_no_time_is_refused_by_name(demo_client):
    good = _good_candidate(demo_client)
    r = demo_client.post(
        "/planning/sites",
        json={
            "method": "mclp",
            "p": 1,
            "keep_existing": False,
            "candidates": _fc([good, good], [{}, {"hours": "25:00-26:00"}]),
        },
    )
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["feature"] == "candidates[1]"
    assert problem["field"] == "hours"
    assert "candidates[1]" in problem["detail_zh"]
    assert "candidates[1]" in problem["detail_en"]


@pytest.mark.parametrize("p", [True, "2"])
def test_p_that_is_no_number_is_refused(demo_client, p):
    r = demo_client.post("/planning/sites", json={"method": "mclp", "p": p})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "p"
    assert r.json()["detail_zh"]


def test_a_day_given_as_true_is_not_called_a_number(demo_client):
    spot = _site_corner(demo_client)
    r = demo_client.post("/planning/vendors", json={"vendors": _fc([spot], [{}]), "on": True})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "on"
    assert "true" in r.json()["detail_en"]
    assert "number" not in r.json()["detail_en"]
