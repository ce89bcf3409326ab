"""What only the PostGIS store has: its tables, the COPY path, SQL as an oracle, concurrency, outages."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo_service.errors import Conflict, InvalidInput, StoreUnavailable
from geo_service.store.base import NewFeature, Query
from geo_service.store.postgis import PostGISStore
from geo_service.store.values import snapshot

TZ = ZoneInfo("Asia/Shanghai")


def _sql(store: PostGISStore, text: str, **params):
    with store.engine.connect() as con:
        return con.execute(sa.text(text), params).all()


def test_tables_follow_the_declarations(pg_store):
    cols = dict(
        _sql(
            pg_store,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'stall_sites'",
        )
    )
    assert cols["fid"] == "bigint"
    assert cols["_version"] == "integer"
    assert cols["geom"] == "USER-DEFINED"
    assert cols["name"] == "text"
    assert cols["capacity"] == "bigint"
    assert cols["valid_from"] == "date"
    inc = dict(
        _sql(
            pg_store,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'incidents'",
        )
    )
    assert inc["reported_at"] == "timestamp with time zone"
    crews = dict(
        _sql(
            pg_store,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'crews'",
        )
    )
    assert "geom" not in crews
    assert crews["work_speed_kph"] == "double precision"
    assert _sql(
        pg_store,
        "SELECT type, srid FROM geometry_columns WHERE f_table_schema = current_schema() "
        "AND f_table_name = 'depots'",
    ) == [("GEOMETRY", 4326)]
    indexes = dict(
        _sql(
            pg_store,
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'depots'",
        )
    )
    assert "USING gist (geom)" in indexes["idx_depots_geom"]
    assert "UNIQUE" in indexes["uq_depots_name"]
    assert "pk_depots" in indexes
    assert _sql(pg_store, "SELECT version_num FROM alembic_version") == [("0004",)]
    states = dict(_sql(pg_store, "SELECT layer, version FROM geo_layer_state"))
    assert set(states) == set(pg_store.catalog)
    assert set(states.values()) == {0}


def test_bbox_listing_equals_postgis_and_brute_force(pg_store, catalog):
    rng = np.random.default_rng(7)
    xy = rng.uniform([113.1, 35.1], [113.4, 35.3], (400, 2))
    shapes = [
        shapely.box(x, y, x + w, y + w) if i % 3 == 0 else shapely.Point(x, y)
        for i, ((x, y), w) in enumerate(zip(xy, rng.uniform(0.001, 0.03, 400), strict=True))
    ]
    spec = catalog["demand"]
    made = pg_store.create_features(
        "demand",
        [NewFeature(spec.validate_properties({"population": i}), g) for i, g in enumerate(shapes)],
        actor="t",
    )
    for bbox in [(113.2, 35.15, 113.25, 35.2), (113.0, 35.0, 113.12, 35.12), (113.3, 35.25, 113.31, 35.26)]:
        got = {f.id for f in pg_store.list_features("demand", Query(bbox=bbox)).features}
        brute = {f.id for f, g in zip(made, shapes, strict=True) if shapely.intersects(g, shapely.box(*bbox))}
        sql = {
            r[0]
            for r in _sql(
                pg_store,
                "SELECT fid FROM demand WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))",
                a=bbox[0],
                b=bbox[1],
                c=bbox[2],
                d=bbox[3],
            )
        }
        assert got == brute == sql
        page = pg_store.list_features("demand", Query(bbox=bbox, limit=3, offset=1))
        assert page.number_matched == len(brute)
        assert [f.id for f in page.features] == sorted(brute)[1:4]


def test_copy_path_round_trips_values_and_records_full_history(pg_store, catalog):
    spec = catalog["incidents"]
    n = 1500  # above the COPY threshold
    feats = [
        NewFeature(
            spec.validate_properties(
                {
                    "source": "12345",
                    "category": "噪声扰民",
                    "description": f"第{i}号 塔南路\t夜间",
                    "reported_at": dt.datetime(2026, 11, 30, 21, 15, i % 60, 250_000, tzinfo=TZ).isoformat(),
                }
            ),
            shapely.Point(113.2 + i * 1e-5, 35.2),
        )
        for i in range(n)
    ]
    made = pg_store.create_features("incidents", feats, actor="导入", reason="批量")
    assert len(made) == n
    assert pg_store.count("incidents") == n
    got = pg_store.get_feature("incidents", made[7].id)
    assert got.properties["description"] == "第7号 塔南路\t夜间"
    assert got.properties["reported_at"] == dt.datetime(2026, 11, 30, 21, 15, 7, 250_000, tzinfo=TZ)
    assert got.properties["reported_at"].utcoffset() == dt.timedelta(hours=8)
    assert got.version == 1
    hist = pg_store.history("incidents", made[7].id)
    assert [(c.op, c.actor, c.reason, c.before) for c in hist] == [("create", "导入", "批量", None)]
    expected = snapshot(spec, feats[7].properties, feats[7].geometry) | {
        "geometry": {"type": "Point", "coordinates": [113.2 + 7e-5, 35.2]}
    }
    assert hist[0].after == expected

    sites = catalog["stall_sites"]
    batch = [
        NewFeature(
            sites.validate_properties(
                {
                    "name": f"摊{i}",
                    "district": "解放区",
                    "capacity": i % 400 + 1,
                    "valid_from": "2026-02-01",
                    "status": None,
                }
            ),
            shapely.box(113.2, 35.2, 113.2001, 35.2001),
        )
        for i in range(1200)
    ]
    ids = [f.id for f in pg_store.create_features("stall_sites", batch, actor="x")]
    back = pg_store.get_feature("stall_sites", ids[-1]).properties
    assert back["capacity"] == 1199 % 400 + 1
    assert back["valid_from"] == dt.date(2026, 2, 1)
    assert back["valid_to"] is None
    after = pg_store.history("stall_sites", ids[-1])[0].after
    assert after["properties"]["valid_from"] == "2026-02-01"
    assert after["properties"]["capacity"] == 1199 % 400 + 1
    frame = pg_store.read_frame("stall_sites")
    assert list(frame.index[:3]) == ids[:3]
    assert frame["capacity"].sum() == sum(i % 400 + 1 for i in range(1200))


def test_large_batch_is_one_history_row_and_keeps_the_spatial_index(pg_store, catalog):
    spec = catalog["demand"]
    feats = [
        NewFeature(spec.validate_properties({"population": i}), shapely.Point(113.2 + i * 1e-5, 35.2))
        for i in range(1200)
    ]
    index = (
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND indexname = 'idx_demand_geom'"
    )
    before = _sql(pg_store, index)
    made = pg_store.create_features("demand", feats, actor="bulk", reason="导入")
    assert [f.id for f in made] == list(range(made[0].id, made[0].id + 1200))
    assert _sql(pg_store, index) == before  # dropped for the COPY, built again with the same definition
    assert _sql(pg_store, "SELECT fid, last_fid, op, after FROM geo_history WHERE layer = 'demand'") == [
        (made[0].id, made[-1].id, "create", None)
    ]
    box = (113.2, 35.19, 113.2005, 35.21)
    assert {f.id for f in pg_store.list_features("demand", Query(bbox=box)).features} == {
        f.id for f in made[:51]
    }
    more = pg_store.create_features("demand", feats[:5], actor="x")  # row by row: ids go on after the batch
    assert more[0].id == made[-1].id + 1
    changes = pg_store.history("demand", limit=3)
    assert [(c.op, c.feature_id) for c in changes] == [("create", more[-1].id - i) for i in range(3)]
    batch = pg_store.history("demand", limit=10_000)[5:]
    assert [c.feature_id for c in batch] == [f.id for f in reversed(made)]
    assert {(c.op, c.actor, c.reason, c.version) for c in batch} == {("create", "bulk", "导入", 1)}
    assert batch[0].after == {
        "properties": {"population": 1199, "households": None, "district": None},
        "geometry": {"type": "Point", "coordinates": [113.2 + 1199 * 1e-5, 35.2]},
    }


def test_failed_copy_leaves_layer_and_index_as_they_were(pg_store, catalog):
    spec = catalog["demand"]
    feats = [
        NewFeature(spec.validate_properties({"population": i}), shapely.Point(113.2, 35.2))
        for i in range(1100)
    ]
    feats.append(NewFeature({"population": "many"}, shapely.Point(113.2, 35.2)))  # not an integer: COPY fails
    indexes = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'demand'"
    before = sorted(_sql(pg_store, indexes))
    v = pg_store.layer_version("demand")
    with pytest.raises(Exception, match=r"many|int"):
        pg_store.create_features("demand", feats, actor="x")
    assert sorted(_sql(pg_store, indexes)) == before
    assert pg_store.count("demand") == 0
    assert pg_store.layer_version("demand") == v
    assert pg_store.history("demand") == []


def test_large_batch_with_a_clash_stores_nothing(pg_store, catalog):
    spec = catalog["crews"]
    pg_store.create_features(
        "crews",
        [NewFeature(spec.validate_properties({"crew": "七组", "depot": "甲", "vehicles": 1}))],
        actor="x",
    )
    v = pg_store.layer_version("crews")
    batch = [
        NewFeature(spec.validate_properties({"crew": f"c{i}", "depot": "甲", "vehicles": 1}))
        for i in range(1100)
    ] + [NewFeature(spec.validate_properties({"crew": "七组", "depot": "乙", "vehicles": 2}))]
    with pytest.raises(Conflict) as info:
        pg_store.create_features("crews", batch, actor="x")
    assert info.value.field == "crew"
    assert "七组" in info.value.zh
    assert pg_store.count("crews") == 1
    assert pg_store.layer_version("crews") == v
    assert len(pg_store.history("crews")) == 1


def test_concurrent_updates_one_wins(pg_store, catalog):
    spec = catalog["depots"]
    [f] = pg_store.create_features(
        "depots",
        [NewFeature(spec.validate_properties({"name": "甲"}), shapely.Point(113.2, 35.2))],
        actor="x",
    )
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def edit(i: int) -> None:
        barrier.wait()
        try:
            pg_store.update_feature(
                "depots",
                f.id,
                NewFeature({"name": f"改{i}"}, shapely.Point(113.2, 35.2)),
                expected_version=1,
                actor=f"u{i}",
            )
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.en)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "ok"
    assert (
        sorted(outcomes)[:3]
        == [
            f"Feature {f.id} of layer depots was changed by someone else: current version 2, "
            "request based on version 1"
        ]
        * 3
    )
    hist = pg_store.history("depots", f.id)
    assert [c.op for c in hist] == ["update", "create"]
    assert pg_store.get_feature("depots", f.id).properties["name"] == hist[0].after["properties"]["name"]


def test_schema_option_keeps_workspaces_apart(postgis_url, catalog):
    spec = catalog["depots"]
    a = PostGISStore(postgis_url, catalog, schema="ws_contract_a")
    b = PostGISStore(postgis_url, catalog, schema="ws_contract_b")
    try:
        a.create_features(
            "depots", [NewFeature(spec.validate_properties({"name": "甲"}), shapely.Point(1, 2))], actor="x"
        )
        assert a.count("depots") == 1
        assert b.count("depots") == 0
        again = PostGISStore(postgis_url, catalog, schema="ws_contract_a")
        assert again.count("depots") == 1
        assert again.layer_version("depots") == a.layer_version("depots")
        again.close()
    finally:
        a.close()
        b.close()
        engine = sa.create_engine(postgis_url)
        with engine.begin() as con:
            con.execute(sa.text("DROP SCHEMA ws_contract_a CASCADE; DROP SCHEMA ws_contract_b CASCADE"))
        engine.dispose()
    with pytest.raises(InvalidInput):
        PostGISStore(postgis_url, catalog, schema="a; DROP TABLE x")


def test_unreachable_database_is_store_unavailable(catalog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreUnavailable) as info:
        PostGISStore(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none", catalog)
    assert "PostGIS" in info.value.zh
    assert "unavailable" in info.value.en


def test_a_database_made_by_an_older_release_is_migrated_on_open(pg_schema_url, catalog):
    """A city's database outlives releases: one left at revision 0001 (before batch history) opens
    with the current code, is brought to the head revision, keeps its features and history, and takes
    a batch import (which needs the new column)."""
    from alembic import command
    from alembic.config import Config

    from geo_service.store.postgis.store import _MIGRATIONS

    old = PostGISStore(pg_schema_url, catalog)
    try:
        [jia] = old.create_features(
            "depots",
            [
                NewFeature(
                    {"name": "甲", "salt_store": True, "district": "山阳区"}, shapely.Point(113.25, 35.21)
                )
            ],
            actor="2025",
        )
        with old.engine.begin() as con:  # back to the older release's schema
            cfg = Config()
            cfg.set_main_option("script_location", str(_MIGRATIONS))
            cfg.attributes["connection"] = con
            command.downgrade(cfg, "0001")
        assert _sql(old, "SELECT version_num FROM alembic_version") == [("0001",)]
    finally:
        old.close()
    store = PostGISStore(pg_schema_url, catalog)
    try:
        assert _sql(store, "SELECT version_num FROM alembic_version") == [("0004",)]
        assert store.get_feature("depots", jia.id).properties["name"] == "甲"
        assert [c.op for c in store.history("depots", fid=jia.id)] == ["create"]
        many = [
            NewFeature(
                catalog["demand"].validate_properties({"population": i}),
                shapely.Point(113.2 + i * 1e-5, 35.2),
            )
            for i in range(1500)
        ]
        made = store.create_features("demand", many, actor="2027")
        assert len(made) == 1500
        assert len(store.history("demand", limit=10_000)) == 1500
    finally:
        store.close()
