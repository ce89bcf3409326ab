"""``geo-service backup create``: scheduled backups into a directory, never overwriting, and the systemd
units in ``deploy/`` naming commands the CLI takes."""

from __future__ import annotations

import configparser
import errno
import shlex
import tempfile
import zipfile
from pathlib import Path

import pytest
import shapely

from geo_service.catalog import load_catalog
from geo_service.cli import build_parser, main
from geo_service.cli.backup import DATED
from geo_service.settings import default_layers_dir
from geo_service.store.base import NewFeature
from geo_service.store.gpkg import GeoPackageStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_ws(tmp_path: Path) -> Path:
    """A GeoPackage workspace holding two depots."""
    path = tmp_path / "ws.gpkg"
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    try:
        store.create_features(
            "depots",
            [
                NewFeature(
                    {"name": n, "salt_store": True, "district": "山阳区"},
                    shapely.Point(113.24 + i / 100, 35.22),
                )
                for i, n in enumerate(["甲", "乙"])
            ],
            actor="test",
        )
    finally:
        store.close()
    return path


def _members(backup: Path) -> int:
    with zipfile.ZipFile(backup) as z:
        return len(z.namelist())


def test_a_backup_into_a_directory_is_dated_and_restores(small_ws, tmp_path, capsys):
    folder = tmp_path / "backups"
    folder.mkdir()
    assert main(["backup", "create", "--workspace", str(small_ws), str(folder)]) == 0
    [written] = list(folder.iterdir())
    assert DATED.match(written.name), written.name
    assert str(written) in capsys.readouterr().out
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]  # nothing left aside
    target = tmp_path / "restored.gpkg"
    assert main(["backup", "restore", "--workspace", str(target), str(written)]) == 0
    store = GeoPackageStore(target, load_catalog(default_layers_dir()))
    try:
        assert sorted(f.properties["name"] for f in store.list_features("depots").features) == ["乙", "甲"]
    finally:
        store.close()


def test_a_backup_never_overwrites_a_file(small_ws, tmp_path, capsys):
    """Before, ``backup create old.zip`` silently replaced yesterday's backup."""
    old = tmp_path / "old.zip"
    old.write_bytes(b"yesterday's backup")
    assert main(["backup", "create", "--workspace", str(small_ws), str(old)]) == 2
    err = capsys.readouterr().err
    assert "已存在" in err
    assert "is not overwritten" in err
    assert old.read_bytes() == b"yesterday's backup"
    assert main(["backup", "create", "--workspace", str(small_ws), str(tmp_path / "no" / "b.zip")]) == 2
    assert "No directory" in capsys.readouterr().err
    # --keep is for a directory of dated backups only, and at least one is kept
    new = tmp_path / "new.zip"
    assert main(["backup", "create", "--keep", "3", "--workspace", str(small_ws), str(new)]) == 2
    assert main(["backup", "create", "--keep", "0", "--workspace", str(small_ws), str(tmp_path)]) == 2
    assert "--keep" in capsys.readouterr().err
    assert not new.exists()
    assert main(["backup", "create", "--workspace", str(small_ws), str(new)]) == 0
    assert _members(new) > 0


def test_keep_removes_only_the_oldest_dated_backups(small_ws, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    older = [folder / f"geo-service-backup-2026120{d}-020000.zip" for d in (1, 2, 3)]
    for p in older:
        p.write_bytes(b"old")
    same_second = folder / "geo-service-backup-20261203-020000-2.zip"  # a second one in that second
    same_second.write_bytes(b"old")
    mine = folder / "geo-service-backup-notes.txt"
    mine.write_text("not a dated backup")
    assert main(["backup", "create", "--keep", "2", "--workspace", str(small_ws), str(folder)]) == 0
    left = {p.name for p in folder.iterdir()}
    [new] = left - {same_second.name, mine.name}
    assert DATED.match(new)
    assert new > same_second.name  # today's, dated after the others
    assert left == {new, same_second.name, mine.name}  # the three oldest are gone, the notes kept


def test_the_systemd_units_run_commands_the_cli_takes():
    """The units in ``deploy/`` are what IT staff install: each ExecStart must be a command this CLI
    parses (a renamed flag would otherwise only show when the timer fires at night)."""
    units = sorted((ROOT / "deploy").glob("*.service"))
    assert len(units) >= 2
    parser = build_parser()
    for unit in units:
        ini = configparser.ConfigParser(interpolation=None, strict=False)
        ini.read(unit, encoding="utf-8")
        argv = shlex.split(ini["Service"]["ExecStart"])
        assert argv[0].endswith("/geo-service"), unit.name
        args = parser.parse_args(argv[1:])
        assert callable(args.func), unit.name
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(ROOT / "deploy" / "geo-service-backup.timer", encoding="utf-8")
    assert timer["Timer"]["OnCalendar"]


def test_keep_never_removes_the_backup_just_written(small_ws, tmp_path):
    """helper-32: files dated later than now (a clock that was wrong) made --keep delete the new backup."""
    folder = tmp_path / "nightly"
    folder.mkdir()
    future = [folder / f"geo-service-backup-2099010{d}-020000.zip" for d in (1, 2)]
    for p in future:
        p.write_bytes(b"from a wrong clock")
    assert main(["backup", "create", "--keep", "2", "--workspace", str(small_ws), str(folder)]) == 0
    left = {p.name for p in folder.iterdir()}
    assert len(left) == 2
    assert future[1].name in left  # the newest by name is kept, and so is today's
    [today] = left - {future[1].name}
    assert _members(folder / today) > 0


def test_a_backup_onto_a_full_disk_leaves_no_partial_file(small_ws, tmp_path, capsys, monkeypatch):
    """Before: the write failed inside the temporary file's block, before the try that removes it, so a
    ``.geo-service-backup-*.part`` stayed behind and the command ended in a traceback."""
    workspace = small_ws
    folder = tmp_path / "nightly"
    folder.mkdir()
    real = tempfile.NamedTemporaryFile

    def full_disk(*args, **kwargs):
        f = real(*args, **kwargs)

        def write(data: bytes) -> int:
            f.file.write(data[:100])
            raise OSError(errno.ENOSPC, "No space left on device")

        f.write = write
        return f

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full_disk)
    assert main(["backup", "create", "--workspace", str(workspace), str(folder)]) == 2
    err = capsys.readouterr().err
    assert "磁盘已满" in err
    assert "disk is full" in err
    assert list(folder.iterdir()) == []
    assert main(["backup", "create", "--workspace", str(workspace), str(folder / "b.zip")]) == 2
    assert list(folder.iterdir()) == []
