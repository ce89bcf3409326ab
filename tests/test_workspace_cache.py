"""The workspace's caches stay bounded over a long-running service: an index keyed by a parameter
(closures of one plan, the rules file's modification time) keeps only its family's newest few."""

from __future__ import annotations

import os
import shutil

from geo_service.contexts import DRIVE_NETWORKS_KEPT, drive_network
from geo_service.settings import Settings, default_layers_dir
from geo_service.siting import rules_path, siting_context
from geo_service.store.base import NewFeature
from geo_service.workspace import Workspace


def test_an_edited_rules_file_replaces_the_old_indexes(demo_ws, tmp_path):
    """Each edit of the siting rules made a new set of indexes and kept all the old ones for good."""
    layers = tmp_path / "layers"
    shutil.copytree(default_layers_dir(), layers)
    ws = Workspace(demo_ws.store, Settings(workspace=demo_ws.settings.workspace, layers_dir=layers))
    first = siting_context(ws)
    assert siting_context(ws) is first  # unchanged file: the same indexes
    path = rules_path(ws.settings)
    for n in range(1, 4):
        stamp = path.stat().st_mtime_ns + n * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))  # the city saved the file again
        assert siting_context(ws) is not first
        for family in ("siting:rules", "siting:base", "siting:context"):
            [key] = ws.cached_keys(family)
            assert key.endswith(str(stamp))
    assert len(ws.cached_keys()) == len(set(ws.cached_keys()))


def test_parameter_keyed_indexes_keep_the_newest_few(demo_ws):
    """Driving networks with their own closures: at most DRIVE_NETWORKS_KEPT stay built, the most
    recently used ones, and they are still answered from the cache."""
    ws = demo_ws
    plain = drive_network(ws)
    roads = ws.frame("roads").index[: DRIVE_NETWORKS_KEPT + 3]
    for rid in roads:
        drive_network(ws, closed_road_ids=(int(rid),))
        assert drive_network(ws) is plain  # used again: kept as the most recent
    kept = ws.cached_keys("network:drive")
    assert len(kept) == DRIVE_NETWORKS_KEPT
    assert kept[-1] == "network:drive:[]:[]"
    last = drive_network(ws, closed_road_ids=(int(roads[-1]),))
    assert drive_network(ws, closed_road_ids=(int(roads[-1]),)) is last
    assert last.graph.nnz < plain.graph.nnz  # its road is closed
    assert len(ws.cached_keys("network:drive")) == DRIVE_NETWORKS_KEPT


class CountingStore:
    """A store that counts the layer versions asked of it (and passes everything on)."""

    def __init__(self, store) -> None:
        self._store = store
        self.asked: list[str] = []

    def layer_version(self, layer: str) -> int:
        self.asked.append(layer)
        return self._store.layer_version(layer)

    def layer_versions(self, layers) -> dict[str, int]:
        self.asked.append(tuple(layers))
        return self._store.layer_versions(layers)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def test_a_reading_block_reads_the_layers_versions_once_and_sees_writes_after_it(demo_ws):
    from geo_service.contexts import coverage_context, who_context, who_covers_ready

    counting = CountingStore(demo_ws.store)
    ws = Workspace(counting, demo_ws.settings)
    assert not who_covers_ready(ws)
    who_context(ws)
    counting.asked.clear()
    assert who_covers_ready(ws)
    coverage_context(ws)
    unpinned = len(counting.asked)
    counting.asked.clear()
    with ws.reading():
        assert who_covers_ready(ws)
        coverage_context(ws)
        frame = ws.frame("districts")
    assert unpinned > 5
    [every] = counting.asked  # one query for all the layers
    assert set(every) == set(ws.catalog)
    # a write: the block after it reads the new version (the frame is read again)
    [fid] = frame.index[:1]
    feature = demo_ws.store.get_feature("districts", int(fid))
    again = NewFeature(feature.properties, feature.geometry)
    demo_ws.store.update_feature("districts", int(fid), again, expected_version=feature.version, actor="test")
    counting.asked.clear()
    with ws.reading():
        assert ws.frame("districts") is not frame
        assert ws.frame("districts") is ws.frame("districts")
    assert len(counting.asked) == 1
    # who-covers' parts, cached together, are built again when a layer of one of them changes, from
    # the parts that did not change and the one that did
    with ws.reading():
        assert not who_covers_ready(ws)
        before = who_context(ws)
        assert who_covers_ready(ws)
    [fid] = ws.frame("stall_sites").index[:1]
    feature = demo_ws.store.get_feature("stall_sites", int(fid))
    again = NewFeature(feature.properties, feature.geometry)
    demo_ws.store.update_feature(
        "stall_sites", int(fid), again, expected_version=feature.version, actor="test"
    )
    with ws.reading():
        assert not who_covers_ready(ws)
        after = who_context(ws)
        assert who_covers_ready(ws)
    assert after.districts is before.districts
    assert after.coverage.beats is before.coverage.beats
    assert after.festival_points is before.festival_points
    assert after.stall_sites is not before.stall_sites
