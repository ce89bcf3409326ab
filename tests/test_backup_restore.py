"""Restoring a backup is all or nothing: a damaged or hand-made file is refused (400 naming the member,
or the command line's message and exit code 2) before anything is written; the backup carries the
siting rules and a restore says whether they differ; a command-line restore is in the audit log."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import shapely

from geo_service.auth.accounts import AccountStore, account_url
from geo_service.backup import create_backup, read_backup, restore_backup
from geo_service.catalog import load_catalog
from geo_service.cli import main
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.settings import Settings, default_layers_dir
from geo_service.siting import rules_path
from geo_service.store.base import NewFeature
from geo_service.store.gpkg import GeoPackageStore

RULES = rules_path(Settings())


@pytest.fixture(scope="module")
def good_backup(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A backup of a workspace holding two depots (one edited), a document and a user."""
    path = tmp_path_factory.mktemp("source") / "ws.gpkg"
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    accounts = AccountStore(account_url(str(path), None))
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
        store.put_document("workspace", "metadata", {"illustrative": True}, actor="test")
        accounts.add_user("planner-wang", "planner", password="correct horse")
        return create_backup(store, accounts, rules_file=RULES)
    finally:
        accounts.close()
        store.close()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict[str, bytes], *, stored: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_STORED if name == stored else None)
    return buf.getvalue()


def _edited(member: str, change: Callable[[object], object]) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        members = _members(data)
        members[member] = json.dumps(change(json.loads(members[member])), ensure_ascii=False).encode()
        return _zip(members)

    return damage


def _without(member: str) -> Callable[[bytes], bytes]:
    return lambda data: _zip({n: b for n, b in _members(data).items() if n != member})


def _cut_in_half(member: str) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        members = _members(data)
        members[member] = members[member][: len(members[member]) // 2]
        return _zip(members)

    return damage


def _crc_broken(member: str) -> Callable[[bytes], bytes]:
    """One byte of the member changed inside the zip, so that its CRC no longer matches."""

    def damage(data: bytes) -> bytes:
        out = bytearray(_zip(_members(data), stored=member))
        with zipfile.ZipFile(io.BytesIO(bytes(out))) as z:
            info = z.getinfo(member)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        out[start + 5] ^= 0x01
        return bytes(out)

    return damage


def _first_depot(change: Callable[[dict], None]) -> Callable[[list], list]:
    def edit(features: list) -> list:
        change(features[0])
        return features

    return edit


DAMAGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "layer file missing": (_without("layers/depots.json"), "layers/depots.json"),
    "manifest without layers": (_edited("manifest.json", lambda m: {**m, "layers": None}), "manifest.json"),
    "manifest a list": (_edited("manifest.json", lambda m: [m]), "manifest.json"),
    "layer cut in half": (_cut_in_half("layers/depots.json"), "layers/depots.json"),
    "member fails its CRC": (_crc_broken("layers/depots.json"), "layers/depots.json"),
    "bad geometry": (
        _edited("layers/depots.json", _first_depot(lambda f: f["geometry"].update(coordinates=["东", 35]))),
        "layers/depots.json",
    ),
    "geometry of another type": (
        _edited(
            "layers/depots.json",
            _first_depot(
                lambda f: f.update(geometry={"type": "LineString", "coordinates": [[113, 35], [114, 35]]})
            ),
        ),
        "layers/depots.json",
    ),
    "property the layer refuses": (
        _edited("layers/depots.json", _first_depot(lambda f: f["properties"].update(name=None))),
        "layers/depots.json",
    ),
    "feature id twice": (
        _edited("layers/depots.json", lambda fs: [fs[0], {**fs[1], "id": fs[0]["id"]}]),
        "layers/depots.json",
    ),
    "history entry without a time": (
        _edited("history/depots.json", lambda hs: [{**hs[0], "at": None}, *hs[1:]]),
        "history/depots.json",
    ),
    "user without a name": (
        _edited(
            "accounts.json",
            lambda a: {**a, "users": [{k: v for k, v in u.items() if k != "name"} for u in a["users"]]},
        ),
        "accounts.json",
    ),
    "user named twice": (
        _edited("accounts.json", lambda a: {**a, "users": a["users"] * 2}),
        "accounts.json",
    ),
}


def _empty(store) -> bool:
    return (
        not any(store.count(n) or store.history(n, limit=1) for n in store.catalog)
        and not store.all_documents()
    )


@pytest.mark.parametrize("damage", list(DAMAGES), ids=list(DAMAGES))
def test_a_damaged_backup_is_refused_by_the_api_and_nothing_is_restored(client, good_backup, damage):
    """Before, each of these was a 500 (KeyError, TypeError, JSONDecodeError, BadZipFile, a GEOS error,
    sqlite3.IntegrityError), and a user without a name failed after the layers were restored."""
    make, member = DAMAGES[damage]
    users_before = {u.name for u in client.app.state.accounts.list_users()}
    r = client.post("/backup/restore", files={"file": ("b.zip", make(good_backup), "application/zip")})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert member in problem["detail_zh"], problem
    assert member in problem["detail_en"], problem
    assert problem["member"] == member
    assert _empty(client.app.state.workspace.store)
    assert {u.name for u in client.app.state.accounts.list_users()} == users_before
    # and the same workspace takes the whole backup afterwards
    r = client.post("/backup/restore", files={"file": ("b.zip", good_backup, "application/zip")})
    assert r.status_code == 201, r.text
    assert r.json()["restored"]["depots"] == 2
    assert "planner-wang" in {u.name for u in client.app.state.accounts.list_users()}


@pytest.mark.parametrize("damage", ["layer cut in half", "member fails its CRC", "user without a name"])
def test_a_damaged_backup_is_refused_by_the_cli_and_leaves_no_workspace_file(
    tmp_path, good_backup, capsys, damage
):
    """Before: a traceback, and a new workspace file (401 KB, empty) left at the path."""
    make, member = DAMAGES[damage]
    source = tmp_path / "damaged.zip"
    source.write_bytes(make(good_backup))
    target = tmp_path / "new.gpkg"
    assert main(["backup", "restore", "--workspace", str(target), str(source)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误 / error")
    assert f"备份中的 {member}" in err
    assert f"{member} in the backup" in err
    assert not list(tmp_path.glob("new.gpkg*"))


def test_a_foreign_or_truncated_file_leaves_no_workspace_file(tmp_path, good_backup, capsys):
    target = tmp_path / "new.gpkg"
    for name, data in (
        ("foreign.zip", b"PK\x03\x04 not a zip"),
        ("cut.zip", good_backup[: len(good_backup) // 2]),
    ):
        (tmp_path / name).write_bytes(data)
        assert main(["backup", "restore", "--workspace", str(target), str(tmp_path / name)]) == 2
        assert "Not a geo-service backup file" in capsys.readouterr().err
        assert not list(tmp_path.glob("new.gpkg*"))


def test_a_restore_that_fails_while_loading_leaves_no_new_workspace_file(tmp_path, good_backup, monkeypatch):
    """A failure after the file was checked (here the store's load) removes the workspace the command made."""
    source = tmp_path / "b.zip"
    source.write_bytes(good_backup)

    def fails(*args, **kwargs):
        raise InvalidInput("假的", "made to fail")

    monkeypatch.setattr(GeoPackageStore, "load_state", fails)
    target = tmp_path / "new.gpkg"
    assert main(["backup", "restore", "--workspace", str(target), str(source)]) == 2
    assert not list(tmp_path.glob("new.gpkg*"))


def test_a_zip_that_would_expand_beyond_the_limit_is_refused_before_it_is_read(good_backup):
    members = _members(good_backup)
    members["layers/depots.json"] = b"[" + b" " * 3_000_000 + b"]"  # deflates to a few kB
    bomb = _zip(members)
    assert len(bomb) < 100_000
    small = Settings(max_upload_bytes=100_000)  # unpacked at most 20 × that: 2 MB
    with pytest.raises(PayloadTooLarge) as caught:
        read_backup(bomb, load_catalog(default_layers_dir()), settings=small)
    assert caught.value.details["member"] == "layers/depots.json"
    assert read_backup(good_backup, load_catalog(default_layers_dir()), settings=small).layers["depots"]


def test_the_backup_carries_the_siting_rules_and_a_restore_says_when_they_differ(
    tmp_path, good_backup, client, capsys, monkeypatch
):
    assert _members(good_backup)["rules/siting.yaml"] == RULES.read_bytes()
    # the same rules: nothing to say
    r = client.post("/backup/restore", files={"file": ("b.zip", good_backup, "application/zip")})
    assert r.status_code == 201, r.text
    assert r.json()["rules"]["status"] == "same"
    assert r.json()["notices"] == []
    # a machine whose rules moved on: one rule changed, one added
    layers = tmp_path / "layers"
    layers.mkdir()
    for p in default_layers_dir().glob("*.yaml"):
        (layers / p.name).write_bytes(p.read_bytes())
    (layers / "rules").mkdir()
    text = RULES.read_text(encoding="utf-8").replace("distance_m: 25", "distance_m: 30", 1)
    text += "  - id: extra-rule\n    kind: road_setback\n"
    (layers / "rules" / "siting.yaml").write_text(text, encoding="utf-8")
    other = Settings(workspace=tmp_path / "other.gpkg", layers_dir=layers)
    store = GeoPackageStore(other.workspace, load_catalog(layers))
    try:
        done = restore_backup(good_backup, store, settings=other)
    finally:
        store.close()
    assert done.rules.status == "different"
    assert done.rules.changed == ("intersection-setback",)
    assert done.rules.only_installed == ("extra-rule",)
    assert "intersection-setback" in done.rules.notices[0]
    assert (layers / "rules" / "siting.yaml").read_text(encoding="utf-8") == text  # never written
    # the command line says it too
    monkeypatch.setenv("GEO_LAYERS_DIR", str(layers))
    target = tmp_path / "cli.gpkg"
    assert main(["backup", "restore", "--workspace", str(target), str(_saved(tmp_path, good_backup))]) == 0
    out = capsys.readouterr().out
    assert "选址规则与本机的不同" in out
    assert "siting rules differ" in out
    assert "intersection-setback" in out
    assert "extra-rule" in out


def test_a_restore_says_so_when_the_backup_holds_no_rules(tmp_path, good_backup, capsys):
    old = _zip({n: b for n, b in _members(good_backup).items() if n != "rules/siting.yaml"})
    source = tmp_path / "old.zip"
    source.write_bytes(old)
    assert main(["backup", "restore", "--workspace", str(tmp_path / "ws.gpkg"), str(source)]) == 0
    out = capsys.readouterr().out
    assert "备份中没有选址规则" in out
    assert "holds no siting rules" in out


def test_a_cli_restore_is_in_the_audit_log(tmp_path, good_backup):
    source = tmp_path / "b.zip"
    source.write_bytes(good_backup)
    target = tmp_path / "ws.gpkg"
    assert main(["backup", "restore", "--workspace", str(target), str(source)]) == 0
    accounts = AccountStore(account_url(str(target), None))
    try:
        [row] = [e for e in accounts.audit_log() if e.path == "geo-service backup restore"]
    finally:
        accounts.close()
    assert row.method == "CLI"
    assert row.actor.startswith("cli:")
    assert row.detail["features"] == 2
    assert row.detail["file"] == str(source.resolve())
    assert row.detail["rules"] == "same"


def _saved(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "saved.zip"
    path.write_bytes(data)
    return path
