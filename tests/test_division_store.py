"""The division of the ground beside the streets kept on disk (``geo_service/division_store.py``): made
once per version of the roads, read back by another process or after a restart, never another
network's, and never in the way when the folder cannot be used."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import shutil

import numpy as np
import pytest
import shapely

from geo_service import reach, street_cells
from geo_service.division_store import DivisionStore
from geo_service.network import build_network
from geo_service.reach import keep_divisions, service_areas
from tests.test_reach import OX, OY, random_roads


def _sites(n=6, seed=3):
    rng = np.random.default_rng(seed)
    return np.array([shapely.Point(OX + x, OY + y) for x, y in rng.uniform(300, 1700, (n, 2))], dtype=object)


def _polygons(net):
    return list(shapely.to_wkb(service_areas(net, _sites(), max_cost=500.0).polygons))


def _same_cells(a, b):
    for f in dataclasses.fields(a):
        if f.init and not f.name.startswith("_"):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert np.array_equal(x, y), f.name
            assert np.asarray(x).dtype == np.asarray(y).dtype, f.name


@pytest.fixture
def roads():
    return random_roads(71, n=120, size=2000.0)


def _no_dividing_from_here_on(monkeypatch):
    """Dividing the ground fails from here on: what is asked for must be read from the folder."""

    def refuse(*args, **kwargs):
        raise AssertionError("the ground was divided again")

    monkeypatch.setattr(street_cells, "street_cells", refuse)


def test_a_division_is_made_once_and_read_back_by_the_next_process(tmp_path, roads, monkeypatch):
    store = DivisionStore(tmp_path / "divisions")
    first = keep_divisions(build_network(roads, mode="walk"), store)
    made = _polygons(first)
    assert len(list((tmp_path / "divisions").glob("division-*/street.npy"))) == 1
    again = keep_divisions(build_network(roads, mode="walk"), DivisionStore(tmp_path / "divisions"))

    _no_dividing_from_here_on(monkeypatch)
    assert _polygons(again) == made  # (read back, and the same polygons)
    _same_cells(reach._prepared(first).cells(40.0), reach._prepared(again).cells(40.0))
    # the same network without the folder is divided afresh (and dividing fails here)
    with pytest.raises(AssertionError, match="divided again"):
        _polygons(build_network(roads, mode="walk"))


def test_another_network_or_width_is_never_read_from_another_entry(tmp_path, roads):
    folder = tmp_path / "divisions"
    _polygons(keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder)))
    moved = roads.copy()
    moved.geometry = moved.geometry.translate(0.0001, 0.0)  # every street about 10 m east
    net = keep_divisions(build_network(moved, mode="walk"), DivisionStore(folder))
    got = _polygons(net)
    assert got == _polygons(build_network(moved, mode="walk"))  # (made for this network)
    reach._prepared(net).cells(30.0)
    assert len(list(folder.glob("division-*/street.npy"))) == 3


def test_only_the_entries_used_last_are_kept(tmp_path, roads):
    folder = tmp_path / "divisions"
    for width in (20.0, 30.0, 40.0):
        reach._prepared(
            keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder, keep=2))
        ).cells(width)
    kept = sorted(folder.glob("division-*/meta.npy"))
    assert len(kept) == 2
    assert sorted(float(np.load(p)[0]) for p in kept) == [30.0, 40.0]
    assert len(list(folder.glob("division-*.lock"))) == 2


def test_a_damaged_entry_is_made_again(tmp_path, roads, caplog):
    folder = tmp_path / "divisions"
    made = _polygons(keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder)))
    (entry,) = folder.glob("division-*/")
    (entry / "edge.npy").write_bytes(b"not an array")
    with caplog.at_level(logging.WARNING, logger="geo_service.division_store"):
        assert _polygons(keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder))) == made
    assert "made again" in caplog.text


def test_a_folder_that_cannot_be_written_only_costs_the_time(tmp_path, roads, caplog):
    blocked = tmp_path / "a file"
    blocked.write_text("in the way")
    with caplog.at_level(logging.WARNING, logger="geo_service.division_store"):
        got = _polygons(
            keep_divisions(build_network(roads, mode="walk"), DivisionStore(blocked / "divisions"))
        )
    assert got == _polygons(build_network(roads, mode="walk"))
    assert "not kept on disk" in caplog.text
    assert blocked.read_text() == "in the way"


def _divide_in_a_process(folder, roads, queue):
    net = keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder))
    calls = []
    real = street_cells.street_cells

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    street_cells.street_cells = counted
    queue.put((len(calls), _polygons(net), len(calls)))


def test_processes_asking_at_once_divide_once(tmp_path, roads):
    """Workers started together wait for the one dividing (a lock file), then read what it kept."""
    folder = tmp_path / "divisions"
    ctx = multiprocessing.get_context("spawn")  # (a fork of a process with threads can hang)
    queue = ctx.Queue()
    workers = [ctx.Process(target=_divide_in_a_process, args=(folder, roads, queue)) for _ in range(3)]
    for w in workers:
        w.start()
    answers = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert sum(after - before for before, _, after in answers) == 1
    assert len({tuple(polygons) for _, polygons, _ in answers}) == 1
    assert len(list(folder.glob("division-*/street.npy"))) == 1
    assert not list(folder.glob(".writing-*"))


def test_the_service_keeps_divisions_beside_its_workspace(demo_ws, monkeypatch):
    from geo_service.contexts import walk_network
    from geo_service.workspace import Workspace

    net = walk_network(demo_ws)
    sites = np.array(shapely.points(net.node_xy[:3] + 5.0), dtype=object)
    made = list(shapely.to_wkb(service_areas(net, sites, max_cost=400.0).polygons))
    folder = demo_ws.settings.workspace.with_name("jiaozuo.gpkg.cache") / "divisions"
    assert len(list(folder.glob("division-*/street.npy"))) == 1
    # a restart: a new workspace over the same file reads the division back
    restarted = Workspace(demo_ws.store, demo_ws.settings)

    _no_dividing_from_here_on(monkeypatch)
    again = walk_network(restarted)
    assert again is not net
    assert list(shapely.to_wkb(service_areas(again, sites, max_cost=400.0).polygons)) == made
    shutil.rmtree(folder.parent)


def test_a_folder_only_read_is_still_read(tmp_path, roads, monkeypatch):
    """A folder made beforehand and mounted read-only: its divisions are read (the time each was used
    is not written)."""
    import os

    folder = tmp_path / "divisions"
    made = _polygons(keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder)))

    def read_only(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(os, "utime", read_only)
    _no_dividing_from_here_on(monkeypatch)
    assert _polygons(keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder))) == made


def test_changed_code_names_other_entries(tmp_path, monkeypatch):
    """A release that changes how the ground is divided (or where the points along a street fall)
    never reads an entry the old code made."""
    from geo_service import division_store

    made_from = (np.arange(4.0), 40.0)
    before = DivisionStore(tmp_path).key(made_from)
    assert DivisionStore(tmp_path).key(made_from) == before
    real = division_store._code
    for changed in division_store._MADE_BY:
        left = tuple(m for m in division_store._MADE_BY if m != changed)
        monkeypatch.setattr(division_store, "_MADE_BY", left)  # (as if that module's text had changed)
        assert DivisionStore(tmp_path).key(made_from) != before, changed
        monkeypatch.undo()
    monkeypatch.setattr(division_store, "_code", lambda: real() + b"scipy 9")
    assert DivisionStore(tmp_path).key(made_from) != before


def test_what_a_process_stopped_while_writing_left_is_removed_later(tmp_path, roads):
    """A worker killed while writing a division leaves a half-written folder: the next write removes
    it once it is an hour old, and leaves one that may still be being written."""
    import os
    import time

    folder = tmp_path / "divisions"
    folder.mkdir()
    abandoned, writing = folder / ".writing-abandoned", folder / ".writing-now"
    for left in (abandoned, writing):
        left.mkdir()
        (left / "street.npy").write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    os.utime(abandoned, (hours_ago, hours_ago))
    _polygons(keep_divisions(build_network(roads, mode="walk"), DivisionStore(folder)))
    assert not abandoned.exists()
    assert writing.exists()
    assert len(list(folder.glob("division-*/street.npy"))) == 1
