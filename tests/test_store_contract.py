"""One contract, two stores: the embedded GeoPackage and PostGIS behave the same."""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest
import shapely

from geo_service.errors import Conflict, NotFound
from geo_service.store.base import NewFeature, Query

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path, catalog):
    if request.param == "gpkg":
        from geo_service.store.gpkg import GeoPackageStore

        s = GeoPackageStore(tmp_path / "w.gpkg", catalog)
        yield s
        s.close()
    else:
        yield request.getfixturevalue("pg_store")


def depot(name: str, x: float = 113.25, y: float = 35.21, salt: bool = True) -> NewFeature:
    return NewFeature({"name": name, "salt_store": salt, "district": "山阳区"}, shapely.Point(x, y))


def test_create_get_and_types_round_trip(store, catalog):
    spec = catalog["incidents"]
    props = spec.validate_properties(
        {
            "source": "12345",
            "category": "噪声扰民",
            "description": "塔北路高音喇叭",
            "reported_at": "2026-11-30T21:15:00+08:00",
        }
    )
    [f] = store.create_features("incidents", [NewFeature(props, shapely.Point(113.24, 35.22))], actor="li")
    got = store.get_feature("incidents", f.id)
    assert got.version == 1
    assert got.properties["description"] == "塔北路高音喇叭"
    assert got.properties["reported_at"] == dt.datetime(2026, 11, 30, 21, 15, tzinfo=TZ)
    assert got.properties["reported_at"].utcoffset() == dt.timedelta(hours=8)
    assert got.geometry.equals(shapely.Point(113.24, 35.22))
    site = catalog["stall_sites"].validate_properties(
        {"name": "甲", "district": "山阳区", "capacity": 12, "valid_from": "2026-01-01"}
    )
    [s] = store.create_features(
        "stall_sites", [NewFeature(site, shapely.box(113.2, 35.2, 113.2001, 35.2001))], actor="li"
    )
    back = store.get_feature("stall_sites", s.id).properties
    assert back["valid_from"] == dt.date(2026, 1, 1)
    assert back["valid_to"] is None
    assert back["capacity"] == 12
    assert (
        store.get_feature(
            "depots", store.create_features("depots", [depot("甲")], actor="x")[0].id
        ).properties["salt_store"]
        is True
    )
    with pytest.raises(NotFound):
        store.get_feature("depots", 999_999)


def test_listing_bbox_filters_time_paging(store, catalog):
    store.create_features(
        "depots", [depot(f"d{i}", 113.20 + i * 0.01, 35.21, i % 2 == 0) for i in range(6)], actor="x"
    )
    page = store.list_features("depots", Query(limit=2, offset=2))
    assert page.number_matched == 6
    assert [f.properties["name"] for f in page.features] == ["d2", "d3"]
    inside = store.list_features("depots", Query(bbox=(113.205, 35.2, 113.235, 35.22)))
    assert sorted(f.properties["name"] for f in inside.features) == ["d1", "d2", "d3"]
    salted = store.list_features("depots", Query(filters={"salt_store": True}))
    assert salted.number_matched == 3
    both = store.list_features(
        "depots", Query(filters={"salt_store": True}, bbox=(113.205, 35.2, 113.235, 35.22))
    )
    assert [f.properties["name"] for f in both.features] == ["d2"]
    # a box with no width or height is a point or a line: it finds what it touches, in both stores
    # (a collapsed envelope met nothing in PostGIS)
    assert [
        f.properties["name"]
        for f in store.list_features("depots", Query(bbox=(113.22, 35.21, 113.22, 35.21))).features
    ] == ["d2"]
    line = Query(bbox=(113.205, 35.21, 113.235, 35.21))
    assert sorted(f.properties["name"] for f in store.list_features("depots", line).features) == [
        "d1",
        "d2",
        "d3",
    ]
    area = catalog["districts"].validate_properties({"name": "甲区", "code": "410811"})
    store.create_features("districts", [NewFeature(area, shapely.box(113.0, 35.0, 113.5, 35.5))], actor="x")
    for box in ((113.2, 35.2, 113.2, 35.2), (113.2, 35.2, 113.3, 35.2), (113.0, 35.1, 113.0, 35.2)):
        assert store.list_features("districts", Query(bbox=box)).number_matched == 1, box
    spec = catalog["stall_sites"]
    for name, a, b in (("早", "2026-01-01", "2026-06-30"), ("晚", "2026-07-01", None)):
        props = spec.validate_properties(
            {"name": name, "district": "山阳区", "capacity": 3, "valid_from": a, "valid_to": b}
        )
        store.create_features(
            "stall_sites", [NewFeature(props, shapely.box(113.2, 35.2, 113.2001, 35.2001))], actor="x"
        )

    def at(d):
        return [
            f.properties["name"]
            for f in store.list_features(
                "stall_sites", Query(at=dt.datetime.fromisoformat(d).replace(tzinfo=TZ))
            ).features
        ]

    assert at("2026-03-01T12:00") == ["早"]
    assert at("2026-06-30T23:00") == ["早"]
    assert at("2027-03-01T12:00") == ["晚"]

    def during(a, b):
        moment = [None if d is None else dt.datetime.fromisoformat(d).replace(tzinfo=TZ) for d in (a, b)]
        return [
            f.properties["name"]
            for f in store.list_features("stall_sites", Query(during=tuple(moment))).features
        ]

    assert during("2026-06-01T00:00", "2026-08-01T00:00") == ["早", "晚"]  # meets both windows
    assert during("2026-07-02T00:00", "2027-12-31T00:00") == ["晚"]
    assert during(None, "2026-02-01T00:00") == ["早"]
    assert during("2026-07-01T00:00", None) == ["晚"]


def test_update_stale_version_conflicts_and_changes_nothing(store):
    [f] = store.create_features("depots", [depot("甲")], actor="a")
    v2 = store.update_feature("depots", f.id, depot("乙"), expected_version=1, actor="b")
    assert v2.version == 2
    assert v2.properties["name"] == "乙"
    with pytest.raises(Conflict) as info:
        store.update_feature("depots", f.id, depot("丙"), expected_version=1, actor="c")
    assert info.value.details["current_version"] == 2
    assert store.get_feature("depots", f.id).properties["name"] == "乙"
    with pytest.raises(Conflict):
        store.delete_feature("depots", f.id, expected_version=1, actor="c")
    assert store.get_feature("depots", f.id).version == 2


def test_delete_restore_and_history(store):
    [f] = store.create_features("depots", [depot("甲")], actor="a")
    store.update_feature(
        "depots", f.id, depot("乙", salt=False), expected_version=1, actor="b", reason="改名"
    )
    store.delete_feature("depots", f.id, expected_version=2, actor="c")
    with pytest.raises(NotFound):
        store.get_feature("depots", f.id)
    back = store.restore_feature("depots", f.id, actor="d")
    assert back.properties["name"] == "乙"
    assert back.properties["salt_store"] is False
    assert back.version == 4
    with pytest.raises(NotFound):
        store.restore_feature("depots", f.id, actor="d")  # not deleted now
    hist = store.history("depots", f.id)
    assert [(c.op, c.actor, c.version) for c in hist] == [
        ("restore", "d", 4),
        ("delete", "c", 3),
        ("update", "b", 2),
        ("create", "a", 1),
    ]
    assert hist[2].reason == "改名"
    assert hist[2].before["properties"]["name"] == "甲"
    assert hist[2].after["properties"]["name"] == "乙"
    assert hist[1].before["geometry"]["type"] == "Point"
    assert hist[1].after is None


def test_batches_are_all_or_nothing(store, catalog):
    spec = catalog["crews"]
    good = NewFeature(spec.validate_properties({"crew": "一组", "depot": "甲", "vehicles": 1}))
    dup = NewFeature(spec.validate_properties({"crew": "一组", "depot": "乙", "vehicles": 2}))
    with pytest.raises(Conflict) as twice:
        store.create_features("crews", [good, dup], actor="x")
    assert "occurs twice in the batch" in twice.value.en  # the same words from both stores
    assert store.count("crews") == 0
    stored = store.create_features("crews", [good], actor="x")[0]
    with pytest.raises(Conflict) as clash:
        store.create_features("crews", [dup], actor="x")  # clashes with the stored one
    assert clash.value.feature is None  # the feature refused has no id yet
    assert clash.value.details == {"conflicting_feature": stored.id}
    assert store.count("crews") == 1


def test_layer_version_moves_on_writes_only(store):
    seen = [store.layer_version("depots")]
    roads = store.layer_version("roads")

    def moved() -> None:
        now = store.layer_version("depots")
        assert now > seen[-1]
        assert store.layer_versions(["depots", "roads"]) == {"depots": now, "roads": roads}
        seen.append(now)

    store.list_features("depots")
    store.read_frame("depots")
    assert store.layer_version("depots") == seen[-1]
    [f] = store.create_features("depots", [depot("甲")], actor="x")
    moved()
    store.get_feature("depots", f.id)
    store.history("depots", f.id)
    assert store.layer_version("depots") == seen[-1]
    store.update_feature("depots", f.id, depot("乙"), expected_version=1, actor="x")
    moved()
    with pytest.raises(Conflict):
        store.update_feature("depots", f.id, depot("丙"), expected_version=1, actor="x")
    assert store.layer_version("depots") == seen[-1]  # a refused write changes nothing
    store.delete_feature("depots", f.id, expected_version=2, actor="x")
    moved()
    store.restore_feature("depots", f.id, actor="x")
    moved()
    store.replace_layer("depots", [depot("丁")], actor="x")
    moved()
    assert store.layer_version("roads") == roads
    # all at once, as each alone
    assert store.layer_versions(["depots", "roads"]) == {"depots": seen[-1], "roads": roads}
    assert store.layer_versions(list(store.catalog)) == {n: store.layer_version(n) for n in store.catalog}
    assert store.layer_versions([]) == {}
    with pytest.raises(NotFound):
        store.layer_versions(["depots", "no_such_layer"])


def test_layer_versions_follow_writes_through_another_connection(tmp_path, catalog):
    """A GeoPackage store reads the versions again only when the file changed (SQLite's data_version):
    a write by another store on the same file (another worker, another process) is seen at the next
    ask, as is its own; a refused write changes nothing."""
    from geo_service.store.gpkg import GeoPackageStore

    one, two = GeoPackageStore(tmp_path / "w.gpkg", catalog), GeoPackageStore(tmp_path / "w.gpkg", catalog)
    try:
        before = two.layer_versions(["depots", "roads"])
        assert two.layer_versions(["depots", "roads"]) == before  # (read once, asked twice)
        [f] = one.create_features("depots", [depot("甲")], actor="x")
        after = two.layer_versions(["depots", "roads"])
        assert after == {"depots": before["depots"] + 1, "roads": before["roads"]}
        two.update_feature("depots", f.id, depot("乙"), expected_version=1, actor="x")
        assert two.layer_versions(["depots"]) == {"depots": after["depots"] + 1}
        assert one.layer_versions(["depots"]) == {"depots": after["depots"] + 1}
        with pytest.raises(Conflict):
            one.update_feature("depots", f.id, depot("丙"), expected_version=1, actor="x")
        assert (
            two.layer_versions(["depots"])
            == one.layer_versions(["depots"])
            == {"depots": after["depots"] + 1}
        )
        # a change written by another program (sqlite3 here, as a GIS desktop would)
        with sqlite3.connect(tmp_path / "w.gpkg") as con:
            con.execute("UPDATE geo_layer_state SET version = version + 5 WHERE layer = 'roads'")
        assert (
            one.layer_versions(["roads"]) == two.layer_versions(["roads"]) == {"roads": before["roads"] + 5}
        )
    finally:
        one.close()
        two.close()


def test_table_layers_and_numbers(store, catalog):
    spec = catalog["crews"]
    rows = [
        NewFeature(
            spec.validate_properties(
                {
                    "crew": f"第{i}组",
                    "depot": "焦作东",
                    "vehicles": i,
                    "work_speed_kph": 12.5 + i,
                    "salt_capacity_t": 0.1,
                }
            )
        )
        for i in range(1, 4)
    ]
    made = store.create_features("crews", rows, actor="x")
    got = store.get_feature("crews", made[1].id)
    assert got.geometry is None
    assert got.properties["vehicles"] == 2
    assert type(got.properties["vehicles"]) is int
    assert got.properties["work_speed_kph"] == 14.5
    assert got.properties["salt_capacity_t"] == 0.1
    assert got.properties["empty_speed_kph"] == rows[1].properties["empty_speed_kph"]  # the declared default
    page = store.list_features("crews", Query(filters={"depot": "焦作东"}, limit=2))
    assert page.number_matched == 3
    assert [f.properties["crew"] for f in page.features] == ["第1组", "第2组"]
    frame = store.read_frame("crews")
    assert list(frame.index) == [f.id for f in made]
    assert list(frame["vehicles"]) == [1, 2, 3]
    assert list(frame["_version"]) == [1, 1, 1]
    updated = store.update_feature(
        "crews",
        made[0].id,
        NewFeature(spec.validate_properties({"crew": "第1组", "depot": "焦作西", "vehicles": 5})),
        expected_version=1,
        actor="y",
    )
    assert updated.properties["depot"] == "焦作西"
    assert updated.version == 2


def test_read_frame(store):
    store.create_features("depots", [depot(f"d{i}", 113.2 + i / 100) for i in range(3)], actor="x")
    frame = store.read_frame("depots")
    assert list(frame["name"]) == ["d0", "d1", "d2"]
    assert (frame["_version"] == 1).all()
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[1].equals_exact(shapely.Point(113.21, 35.21), 1e-9)


def test_large_batches_and_replace_layer(store, catalog):
    spec = catalog["demand"]
    feats = [
        NewFeature(
            spec.validate_properties({"population": i, "district": "山阳区"}),
            shapely.Point(113.2 + i * 1e-5, 35.2),
        )
        for i in range(2500)
    ]
    made = store.create_features("demand", feats, actor="bulk")
    assert len(made) == 2500
    assert store.count("demand") == 2500
    assert store.get_feature("demand", made[-1].id).properties["population"] == 2499
    n = store.replace_layer("demand", feats[:10], actor="bulk")
    assert n == 10
    assert store.count("demand") == 10
    ops = [c.op for c in store.history("demand", limit=100_000)]
    assert ops.count("delete") == 2500
    assert ops.count("create") == 2510


def test_documents_are_never_overwritten(store):
    store.put_document("snow_plan", "p1", {"title": "冻雨预案", "crews": [1, 2]}, actor="disp")
    assert store.get_document("snow_plan", "p1")["title"] == "冻雨预案"
    with pytest.raises(Conflict):
        store.put_document("snow_plan", "p1", {"title": "other"}, actor="disp")
    assert store.get_document("snow_plan", "p1")["title"] == "冻雨预案"
    store.put_document("snow_plan", "p2", {"title": "二"}, actor="disp")
    assert {k for k, _, _ in store.list_documents("snow_plan")} == {"p1", "p2"}
    with pytest.raises(NotFound):
        store.get_document("snow_plan", "p3")
    assert len(store.all_documents()) == 2


def test_bulk_import_history_reads_as_a_single_create(store, catalog):
    """A large batch may record its creates compactly; the history answers as for a single create."""
    spec = catalog["incidents"]

    def incident(i: int) -> NewFeature:
        props = spec.validate_properties(
            {
                "source": "12345",
                "category": "油烟污染",
                "description": f"第{i}号\t夜间" if i % 2 else None,
                "reported_at": dt.datetime(2026, 11, 30, 21, 15, i % 60, 250_000 * (i % 2), tzinfo=TZ),
                "beat": f"B{i % 7}",
            }
        )
        return NewFeature(props, shapely.Point(113.2 + i * 1e-5, 35.2 + (i % 9) * 1e-4))

    [single] = store.create_features("incidents", [incident(3)], actor="单", reason="逐条")
    [expected] = [c.after for c in store.history("incidents", single.id)]
    assert expected["properties"]["description"] == "第3号\t夜间"
    assert expected["geometry"] == {"type": "Point", "coordinates": [113.2 + 3e-5, 35.2 + 3e-4]}
    made = store.create_features("incidents", [incident(i) for i in range(1500)], actor="导入", reason="批量")
    assert [f.version for f in made[:2]] == [1, 1]
    [change] = store.history("incidents", made[3].id)
    assert (change.op, change.actor, change.reason, change.version, change.before) == (
        "create",
        "导入",
        "批量",
        1,
        None,
    )
    assert change.after == expected
    store.update_feature("incidents", made[3].id, incident(4), expected_version=1, actor="改")
    store.delete_feature("incidents", made[5].id, expected_version=1, actor="删")
    updated = store.history("incidents", made[3].id)
    assert [c.op for c in updated] == ["update", "create"]
    assert updated[1].after == expected == updated[0].before
    deleted = store.history("incidents", made[5].id)
    assert [c.op for c in deleted] == ["delete", "create"]
    assert deleted[1].after == deleted[0].before
    assert deleted[1].after["properties"]["description"] == "第5号\t夜间"
    assert store.restore_feature("incidents", made[5].id, actor="复").properties == made[5].properties
    newest = store.history("incidents", limit=4)
    assert [(c.op, c.feature_id) for c in newest] == [
        ("restore", made[5].id),
        ("delete", made[5].id),
        ("update", made[3].id),
        ("create", made[-1].id),
    ]
    assert newest[3].after == store.history("incidents", made[-1].id)[0].after
    everything = store.history("incidents", limit=100_000)
    assert sum(c.op == "create" for c in everything) == 1501
    assert all(c.after is not None for c in everything if c.op == "create")


@pytest.mark.parametrize("kind", ["gpkg", "postgis"])
def test_a_field_added_to_a_declaration_becomes_a_column(kind, tmp_path, request):
    """Declarations change over the years: a new field is added to the existing workspace's table."""
    import shutil

    from geo_service.catalog import load_catalog
    from geo_service.settings import default_layers_dir

    def open_store(catalog):
        if kind == "gpkg":
            from geo_service.store.gpkg import GeoPackageStore

            return GeoPackageStore(tmp_path / "w.gpkg", catalog)
        from geo_service.store.postgis import PostGISStore

        return PostGISStore(request.getfixturevalue("pg_schema_url"), catalog)

    layers = tmp_path / "layers"
    shutil.copytree(default_layers_dir(), layers)
    before = open_store(load_catalog(layers))
    try:
        old = before.create_features("depots", [depot("老场站")], actor="t")[0]
    finally:
        before.close()
    text = (layers / "depots.yaml").read_text(encoding="utf-8")
    field = "  - {name: plough_count, type: integer, min: 0, title: {zh: 推雪铲数, en: Ploughs}}\n"
    (layers / "depots.yaml").write_text(text.replace("fields:\n", "fields:\n" + field, 1), encoding="utf-8")
    after = open_store(load_catalog(layers))
    try:
        assert after.get_feature("depots", old.id).properties["plough_count"] is None
        new = after.create_features(
            "depots",
            [NewFeature({**depot("新场站").properties, "plough_count": 3}, depot("新场站").geometry)],
            actor="t",
        )[0]
        assert after.get_feature("depots", new.id).properties["plough_count"] == 3
        assert after.read_frame("depots")["plough_count"].tolist()[-1] == 3
    finally:
        after.close()


@pytest.mark.parametrize("kind", ["gpkg", "postgis"])
def test_a_workspace_keeps_its_identity_and_one_made_again_gets_another(kind, tmp_path, request, catalog):
    """Validators name the identity beside a layer's version: a workspace opened again (another worker,
    a restart) keeps it; one deleted and made again, its versions counted from 0 again, gets another."""
    import sqlalchemy as sa

    if kind == "postgis":
        from geo_service.store.postgis import PostGISStore

        url = request.getfixturevalue("pg_schema_url")
        schema = url.rsplit("%3D", 1)[1].split(",")[0]

        def open_store():
            return PostGISStore(url, catalog)

        def remove() -> None:
            engine = sa.create_engine(url)
            with engine.begin() as con:
                con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
                con.execute(sa.text(f"CREATE SCHEMA {schema}"))
            engine.dispose()
    else:
        from geo_service.store.gpkg import GeoPackageStore

        def open_store():
            return GeoPackageStore(tmp_path / "w.gpkg", catalog)

        def remove() -> None:
            (tmp_path / "w.gpkg").unlink()

    first, again = open_store(), open_store()
    try:
        assert first.identity == again.identity
        assert len(first.identity) >= 16
        first.create_features("depots", [depot("甲")], actor="t")
        version = first.layer_version("depots")
    finally:
        first.close()
        again.close()
    reopened = open_store()
    try:
        assert reopened.identity == first.identity
    finally:
        reopened.close()
    remove()
    made_again = open_store()
    try:
        made_again.create_features("depots", [depot("乙")], actor="t")
        assert made_again.layer_version("depots") == version  # the same number for another layer
        assert made_again.identity != first.identity
    finally:
        made_again.close()


def _demand(props: dict, catalog) -> NewFeature:
    return NewFeature(catalog["demand"].validate_properties(props), shapely.Point(113.25, 35.21))


BIG = 2**53 + 1  # the first whole number a float cannot hold


def test_a_backup_restores_big_numbers_exactly_and_keeps_deleted_ids_taken(store, tmp_path, catalog):
    """helper-23: a column of whole numbers with a gap went through a frame as floats (2**53 + 1 came
    back one less); after a restore a new feature took the id of a deleted one, which could then no
    longer be restored."""
    from geo_service.backup import create_backup, restore_backup
    from geo_service.store.gpkg import GeoPackageStore

    a, _ = store.create_features(
        "demand",
        [_demand({"population": 5, "households": BIG}, catalog), _demand({"population": 6}, catalog)],
        actor="x",
    )
    _, gone = store.create_features("depots", [depot("甲"), depot("乙")], actor="x")
    store.delete_feature("depots", gone.id, expected_version=1, actor="x")
    back = GeoPackageStore(tmp_path / "back.gpkg", catalog)
    try:
        restore_backup(create_backup(store), back)
        assert back.get_feature("demand", a.id).properties["households"] == BIG
        [new] = back.create_features("depots", [depot("丙")], actor="y")
        assert new.id > gone.id
        assert back.restore_feature("depots", gone.id, actor="y").properties["name"] == "乙"
    finally:
        back.close()


def test_a_restore_into_either_store_keeps_deleted_ids_taken(store, tmp_path, catalog):
    """The same, restored into each store: ids go on after the deleted ones, also in a layer the
    backup holds no feature of (only its history)."""
    from geo_service.backup import create_backup, restore_backup
    from geo_service.store.gpkg import GeoPackageStore

    source = GeoPackageStore(tmp_path / "source.gpkg", catalog)
    try:
        _, gone = source.create_features("depots", [depot("甲"), depot("乙")], actor="x")
        source.delete_feature("depots", gone.id, expected_version=1, actor="x")
        [only] = source.create_features(
            "crews",
            [
                NewFeature(
                    catalog["crews"].validate_properties({"crew": "一组", "depot": "甲", "vehicles": 1})
                )
            ],
            actor="x",
        )
        source.delete_feature("crews", only.id, expected_version=1, actor="x")  # a layer left empty
        restore_backup(create_backup(source), store)
    finally:
        source.close()
    [new] = store.create_features("depots", [depot("丙")], actor="y")
    assert new.id > gone.id
    [crew] = store.create_features(
        "crews",
        [NewFeature(catalog["crews"].validate_properties({"crew": "二组", "depot": "甲", "vehicles": 1}))],
        actor="y",
    )
    assert crew.id > only.id
    assert store.restore_feature("depots", gone.id, actor="y").properties["name"] == "乙"


def test_replacing_a_layer_refuses_a_value_twice_and_changes_nothing(store):
    """helper-23: the GeoPackage store wrote two depots of one name in a replace-mode import (then
    neither could be edited); PostGIS refused it."""
    store.create_features("depots", [depot("甲"), depot("乙")], actor="x")
    with pytest.raises(Conflict) as twice:
        store.replace_layer("depots", [depot("丙"), depot("丙")], actor="x")
    assert "occurs twice in the batch" in twice.value.en
    assert sorted(f.properties["name"] for f in store.list_features("depots").features) == ["乙", "甲"]
    assert [c.op for c in store.history("depots")].count("delete") == 0


def test_a_bulk_create_records_numbers_as_a_single_create_does(store, catalog):
    """PostGIS recorded the creates of a large batch in SQL, and jsonb gave whole numbers back without
    their fraction (15 for 15.0) until the feature was edited; the history reads them as floats."""
    spec = catalog["bridges_culverts"]

    def bridge(i: int) -> NewFeature:
        props = spec.validate_properties({"name": f"桥{i}", "kind": "bridge", "salt_t": 2.0})
        return NewFeature(props, shapely.Point(113.2 + i * 1e-5, 35.2))

    [one] = store.create_features("bridges_culverts", [bridge(0)], actor="x")
    many = store.create_features("bridges_culverts", [bridge(i) for i in range(1, 1202)], actor="x")
    single = store.history("bridges_culverts", one.id)[0].after["properties"]
    bulk = store.history("bridges_culverts", many[7].id)[0].after["properties"]
    assert type(single["service_min"]) is float
    assert type(bulk["service_min"]) is float
    assert type(bulk["salt_t"]) is float
    assert {k: v for k, v in bulk.items() if k != "name"} == {k: v for k, v in single.items() if k != "name"}


class _EditedDuringBackup:
    """The real store, with another user's edit of depot 甲 committed each time a backup reads the depots'
    history (``edits`` times): what a nightly backup meets while the service is in use."""

    def __init__(self, store, edits: int) -> None:
        self._store, self.edits = store, edits

    def __getattr__(self, name):
        return getattr(self._store, name)

    def history(self, layer, **kw):
        if layer == "depots" and self.edits:
            self.edits -= 1
            [f] = [f for f in self._store.list_features("depots").features if f.properties["name"] == "甲"]
            props = {**f.properties, "salt_store": not f.properties["salt_store"]}
            self._store.update_feature(
                "depots", f.id, NewFeature(props, f.geometry), expected_version=f.version, actor="other"
            )
        return self._store.history(layer, **kw)


def test_a_backup_taken_while_users_edit_is_read_at_one_moment(store, tmp_path, catalog):
    """A backup reads each layer and then its history: an edit landing in between saved the feature at
    version 1 and its history at version 2. Now the backup reads again until nothing moved meanwhile,
    and gives up with a Conflict (no file) if the workspace never holds still."""
    import io
    import json
    import zipfile

    from geo_service.backup import create_backup, restore_backup
    from geo_service.store.gpkg import GeoPackageStore

    store.create_features("depots", [depot("甲"), depot("乙")], actor="x")
    data = create_backup(_EditedDuringBackup(store, edits=1))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        saved = {f["id"]: f["version"] for f in json.loads(z.read("layers/depots.json"))}
        history = json.loads(z.read("history/depots.json"))
    for fid, version in saved.items():
        assert version == max(c["version"] for c in history if c["feature"] == fid)
    assert sorted(saved.values()) == [1, 2]  # the edit is in, in both
    back = GeoPackageStore(tmp_path / "back.gpkg", catalog)
    try:
        restore_backup(data, back)
        [jia] = [f for f in back.list_features("depots").features if f.properties["name"] == "甲"]
        assert (jia.version, jia.properties["salt_store"]) == (
            2,
            store.get_feature("depots", jia.id).properties["salt_store"],
        )
    finally:
        back.close()
    with pytest.raises(Conflict, match="changed during each of 3 attempts"):
        create_backup(_EditedDuringBackup(store, edits=10), attempts=3)


def test_a_replacing_batch_keeps_the_ids_it_names_and_their_history(store):
    """helper-33: exporting a layer and importing it back with mode=replace gave every feature a new id
    and restarted its history, so ids dispatchers had noted (a closed road, a locked bridge) vanished."""
    a, b, c = store.create_features("depots", [depot("甲"), depot("乙"), depot("丙")], actor="x")
    store.update_feature("depots", b.id, depot("乙", x=113.26), expected_version=1, actor="x")
    before = store.layer_version("depots")
    n = store.replace_layer(
        "depots",
        [depot("甲"), depot("乙", x=113.27), depot("丁"), depot("戊")],
        actor="imp",
        reason="重新导入",
        ids=[a.id, b.id, None, 99_999],
    )
    assert n == 4
    assert store.layer_version("depots") > before
    by_name = {f.properties["name"]: f for f in store.list_features("depots").features}
    assert set(by_name) == {"甲", "乙", "丁", "戊"}
    # unchanged: the same feature at the same version, nothing in its history
    assert (by_name["甲"].id, by_name["甲"].version) == (a.id, 1)
    assert [h.op for h in store.history("depots", a.id)] == ["create"]
    # changed: the same id at its next version, the change in its history
    assert (by_name["乙"].id, by_name["乙"].version) == (b.id, 3)
    assert by_name["乙"].geometry.x == pytest.approx(113.27)
    [last, *_] = store.history("depots", b.id)
    assert (last.op, last.version, last.actor, last.reason) == ("update", 3, "imp", "重新导入")
    assert last.before["geometry"]["coordinates"][0] == pytest.approx(113.26)
    # not named: deleted, and can be restored under its id
    assert [h.op for h in store.history("depots", c.id)][:1] == ["delete"]
    # new rows (and an id the layer does not have) get new ids after every id the layer has had
    assert {by_name["丁"].id, by_name["戊"].id}.isdisjoint({a.id, b.id, c.id, 99_999})
    assert min(by_name["丁"].id, by_name["戊"].id) > c.id
    assert store.restore_feature("depots", c.id, actor="y").properties["name"] == "丙"


def test_a_replacing_batch_may_swap_unique_values_between_kept_features(store):
    a, b = store.create_features("depots", [depot("甲"), depot("乙")], actor="x")
    store.replace_layer("depots", [depot("乙"), depot("甲")], actor="x", ids=[a.id, b.id])
    assert store.get_feature("depots", a.id).properties["name"] == "乙"
    assert store.get_feature("depots", b.id).properties["name"] == "甲"
    # refused whole: the ids and values stay as they were
    with pytest.raises(Conflict):
        store.replace_layer("depots", [depot("丙"), depot("丙")], actor="x", ids=[a.id, None])
    assert store.get_feature("depots", a.id).properties["name"] == "乙"
    assert store.get_feature("depots", a.id).version == 2


def test_the_geopackage_lock_holds_across_processes(tmp_path, catalog):
    """helper-38: a command-line import and the service could both pass the spacing check, as the
    GeoPackage store's lock was one process's own. Another process holding it keeps this one out until
    it lets go (it writes a mark just before); taken twice by its holder, it is one lock."""
    import subprocess
    import sys
    import time

    from geo_service.store.gpkg import GeoPackageStore

    path, mark = tmp_path / "w.gpkg", tmp_path / "released"
    GeoPackageStore(path, catalog).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from geo_service.catalog import load_catalog\n"
            "from geo_service.settings import default_layers_dir\n"
            "from geo_service.store.gpkg import GeoPackageStore\n"
            "s = GeoPackageStore(sys.argv[1], load_catalog(default_layers_dir()))\n"
            "with s.exclusive('siting'):\n"
            "    pathlib.Path(sys.argv[2] + '.held').touch()\n"
            "    time.sleep(1.0)\n"
            "    pathlib.Path(sys.argv[2]).touch()\n",
            str(path),
            str(mark),
        ]
    )
    try:
        while not (tmp_path / "released.held").exists():
            assert holder.poll() is None, "the holder ended early"
            time.sleep(0.05)
        store = GeoPackageStore(path, catalog)
        try:
            with store.exclusive("references"), store.exclusive("siting"):
                assert mark.exists()  # only after the other process let go
        finally:
            store.close()
    finally:
        holder.wait(timeout=30)


def test_a_replacing_batch_is_refused_when_a_feature_it_takes_over_moved_meanwhile(store):
    """helper-41: the features an import read before its write could be changed by someone else in
    between, and the import then undid that change; the store checks the versions read."""
    a, b = store.create_features("depots", [depot("甲"), depot("乙")], actor="x")
    store.update_feature("depots", a.id, depot("甲", x=113.3), expected_version=1, actor="other")
    with pytest.raises(Conflict) as moved:
        store.replace_layer(
            "depots", [depot("甲"), depot("乙")], actor="imp", ids=[a.id, b.id], expected={a.id: 1, b.id: 1}
        )
    assert moved.value.details["features"] == [a.id]
    assert store.get_feature("depots", a.id).geometry.x == pytest.approx(113.3)
    assert store.get_feature("depots", a.id).version == 2


def test_a_replacing_batch_writes_many_changed_features_and_table_rows(store, catalog):
    """helper-41: on PostGIS each changed feature of a replace was two statements (20,000 changed
    incidents took 24 s); they are written in bulk now, with the same versions and history, and a
    layer without geometry (crews) keeps its ids too."""
    spec = catalog["demand"]
    feats = [
        NewFeature(spec.validate_properties({"population": i}), shapely.Point(113.2 + i * 1e-5, 35.2))
        for i in range(300)
    ]
    made = store.create_features("demand", feats, actor="x")
    changed = [
        NewFeature({**f.properties, "population": f.properties["population"] + 1}, f.geometry) for f in feats
    ]
    changed[7] = NewFeature(changed[7].properties, shapely.Point(113.3, 35.3))
    store.replace_layer(
        "demand", changed, actor="imp", ids=[m.id for m in made], expected={m.id: 1 for m in made}
    )
    after = {f.id: f for f in store.list_features("demand").features}
    assert set(after) == {m.id for m in made}
    assert all(after[m.id].version == 2 for m in made)
    assert [after[m.id].properties["population"] for m in made] == list(range(1, 301))
    assert after[made[7].id].geometry.equals(shapely.Point(113.3, 35.3))
    [update, create] = store.history("demand", made[7].id)
    assert (update.op, update.version, update.actor) == ("update", 2, "imp")
    assert update.before == create.after
    assert update.before["properties"]["population"] == 7
    assert update.after["properties"]["population"] == 8
    assert update.after["geometry"]["coordinates"] == pytest.approx([113.3, 35.3])
    crews = [
        NewFeature(catalog["crews"].validate_properties({"crew": c, "depot": "焦作东", "vehicles": 2}), None)
        for c in ("一组", "二组")
    ]
    store.create_features("depots", [depot("焦作东")], actor="x")
    a, b = store.create_features("crews", crews, actor="x")
    more = NewFeature({**crews[1].properties, "vehicles": 5}, None)
    store.replace_layer("crews", [crews[0], more], actor="imp", ids=[a.id, b.id])
    assert store.get_feature("crews", a.id).version == 1
    kept = store.get_feature("crews", b.id)
    assert (kept.version, kept.properties["vehicles"]) == (2, 5)
    assert store.history("crews", b.id)[0].after["properties"]["vehicles"] == 5


def test_a_replacing_batch_may_bring_deleted_features_back_under_their_ids(store):
    """A layer put back to an earlier moment needs its deleted features back under their own ids (the
    ids snow plans and accounts name), as a restore: ``restore=True``. Without it, such an id gives a new
    feature, as before."""
    a, b, c = store.create_features("depots", [depot("甲"), depot("乙"), depot("丙")], actor="x")
    store.delete_feature("depots", b.id, expected_version=1, actor="x")
    store.update_feature("depots", c.id, depot("丙", x=113.3), expected_version=1, actor="x")
    store.delete_feature("depots", c.id, expected_version=2, actor="x")
    store.replace_layer(
        "depots",
        [depot("甲"), depot("乙"), depot("丙", x=113.26)],
        actor="rewind",
        reason="回到上午",
        ids=[a.id, b.id, c.id],
        expected={a.id: 1},
        restore=True,
    )
    by_id = {f.id: f for f in store.list_features("depots").features}
    assert set(by_id) == {a.id, b.id, c.id}
    assert (by_id[a.id].version, by_id[b.id].version, by_id[c.id].version) == (1, 3, 4)
    assert by_id[c.id].geometry.x == pytest.approx(113.26)
    [back, *_] = store.history("depots", c.id)
    assert (back.op, back.version, back.actor, back.reason, back.before) == (
        "restore",
        4,
        "rewind",
        "回到上午",
        None,
    )
    assert back.after["geometry"]["coordinates"][0] == pytest.approx(113.26)
    assert [h.op for h in store.history("depots", b.id)] == ["restore", "delete", "create"]
    # without restore, a deleted feature's id gives a new feature
    store.delete_feature("depots", b.id, expected_version=3, actor="x")
    store.replace_layer("depots", [depot("甲"), depot("乙")], actor="x", ids=[a.id, b.id])
    names = {f.properties["name"]: f.id for f in store.list_features("depots").features}
    assert names["乙"] not in (a.id, b.id, c.id)


def test_an_export_reads_the_layer_at_a_moment_its_history_agrees_with(store, catalog):
    """helper-47: on PostGIS a change was recorded at its transaction's start, so an append still
    running when a layer was exported looked older than the export, though the export did not hold it;
    and one import's deletes and updates carried times a second apart. The export's moment and the
    times recorded now agree: everything recorded at or before the moment is in the frame, nothing
    after it; one write's changes carry one time."""
    a, b, c = store.create_features("depots", [depot("甲"), depot("乙"), depot("丙")], actor="x")
    moment, frame = store.export_frame("depots")
    assert sorted(frame.index) == [a.id, b.id, c.id]
    assert all(h.at <= moment for h in store.history("depots"))
    [d] = store.create_features("depots", [depot("丁")], actor="x")
    assert store.history("depots", d.id)[0].at > moment
    store.replace_layer(
        "depots",
        [depot("甲", x=113.3), depot("丁")],
        actor="imp",
        ids=[a.id, d.id],
        expected={a.id: 1, d.id: 1},
    )
    times = {h.at for h in store.history("depots", limit=5) if h.actor == "imp"}
    assert len(times) == 1  # the update of 甲 and the deletes of 乙 and 丙
    assert [h.op for h in store.history("depots", limit=3)].count("delete") == 2


def test_a_replacing_batch_that_read_the_layer_at_one_version_is_refused_at_another(store):
    """A rewind reads the whole layer and its history, then writes: a feature created or deleted by
    someone else in between was deleted or brought back (helper-47). The store refuses the batch."""
    a, b = store.create_features("depots", [depot("甲"), depot("乙")], actor="x")
    seen = store.layer_version("depots")
    [c] = store.create_features("depots", [depot("丙")], actor="other")
    with pytest.raises(Conflict) as moved:
        store.replace_layer("depots", [depot("甲")], actor="rw", ids=[a.id], expected_layer_version=seen)
    assert moved.value.details["expected_layer_version"] == seen
    assert {f.id for f in store.list_features("depots").features} == {a.id, b.id, c.id}
    store.replace_layer(
        "depots", [depot("甲")], actor="rw", ids=[a.id], expected_layer_version=store.layer_version("depots")
    )
    assert {f.id for f in store.list_features("depots").features} == {a.id}
