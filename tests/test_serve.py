"""The service as a user starts it: `geo-service serve --demo` on a fresh workspace, over real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pyogrio
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(proc: subprocess.Popen, base: str) -> None:
    """Until the server at ``base`` answers /health (it must not exit, nor take over two minutes)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "server exited"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.5)


@pytest.mark.slow
def test_serve_demo_workspace(tmp_path):
    ws = tmp_path / "jiaozuo.gpkg"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo_service", "serve", "--demo", "--port", str(port), "--workspace", str(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(proc, base)
        assert httpx.get(f"{base}/collections").status_code == 401
        subprocess.run(
            [
                sys.executable,
                "-m",
                "geo_service",
                "users",
                "add",
                "viewer1",
                "--role",
                "viewer",
                "--no-password",
                "--workspace",
                str(ws),
            ],
            check=True,
            capture_output=True,
        )
        token = subprocess.run(
            [sys.executable, "-m", "geo_service", "users", "token", "viewer1", "--workspace", str(ws)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        roads = httpx.get(f"{base}/collections/roads/items", params={"limit": 1}, headers=headers).json()
        assert roads["numberMatched"] >= 3000
        sites = httpx.get(f"{base}/collections/stall_sites/items", headers=headers).json()
        assert sites["numberMatched"] == 30
        docs = httpx.get(f"{base}/docs", headers=headers)
        assert docs.status_code == 200
        assert "/static/swagger/swagger-ui-bundle.js" in docs.text
        assert "https://" not in docs.text.split("<body>")[0]  # no CDN assets
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # the workspace is a GeoPackage GDAL (and so QGIS) reads, every layer with its attributes
    layers = {str(name) for name, _ in pyogrio.list_layers(ws)}
    assert {"roads", "stall_sites", "patrol_beats", "incidents", "duty_shifts"} <= layers
    info = pyogrio.read_info(ws, layer="stall_sites")
    assert info["features"] == 30
    assert "capacity" in list(info["fields"])


def test_setup_script_without_test_extras_gets_past_its_stamp(tmp_path):
    """The README's first command runs ``scripts/setup.sh`` without ``--test``; with an installed venv whose
    stamp matches it must finish at once (a ``set -e`` slip once made it exit 1 before installing anything)."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    venv = root / ".venv"
    assert (venv / "bin" / "python").exists(), "run the tests through the README's command (it makes .venv)"
    stamp = venv / ".geo-service-installed"
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()[:16]
    before = stamp.read_text() if stamp.exists() else None
    stamp.write_text(digest + "\n")
    try:
        run = subprocess.run(
            ["bash", str(root / "scripts" / "setup.sh")], capture_output=True, text=True, timeout=120
        )
    finally:
        if before is None:
            stamp.unlink()
        else:
            stamp.write_text(before)
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
def test_several_workers_serve_the_database_the_command_names(tmp_path, pg_schema_url, pg_store):
    """`serve --workers 2 --database-url URL`: every worker serves that PostGIS database (each built
    its app from the environment alone and quietly opened var/jiaozuo.gpkg). A GeoPackage with several
    workers is refused: one process writes it."""
    from geo_service.features import create_features
    from geo_service.settings import Settings
    from geo_service.workspace import Workspace

    create_features(
        Workspace(pg_store, Settings(database_url=pg_schema_url)),
        "pois",
        [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.24, 35.22]},
                "properties": {"kind": "market"},
            }
        ],
        actor="test",
    )
    unused = tmp_path / "not-this.gpkg"
    cli = [sys.executable, "-m", "geo_service"]
    refused = subprocess.run(
        [*cli, "serve", "--workers", "2", "--workspace", str(unused)], capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "PostGIS" in refused.stderr
    db = ["--database-url", pg_schema_url]
    subprocess.run(
        [*cli, "users", "add", "w", "--role", "viewer", "--no-password", *db], check=True, capture_output=True
    )
    token = subprocess.run(
        [*cli, "users", "token", "w", *db], check=True, capture_output=True, text=True
    ).stdout.strip()
    port = _free_port()
    proc = subprocess.Popen(
        [*cli, "serve", "--workers", "2", "--port", str(port), "--workspace", str(unused), *db],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(proc, base)
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(6):  # new connections: both workers answer
            with httpx.Client() as c:
                body = c.get(f"{base}/collections/pois/items", headers=headers).json()
            assert body["numberMatched"] == 1, body
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert not unused.exists()
    assert not (tmp_path / "var").exists()


def test_serve_believes_no_forwarded_for_by_default(tmp_path):
    """uvicorn believed X-Forwarded-For from 127.0.0.1 (its default), so anyone on the server, or a proxy
    passing the header on, chose the address in the audit log and the sign-in throttle's key."""
    from geo_service.auth.accounts import AccountStore, account_url

    ws = tmp_path / "w.gpkg"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo_service", "serve", "--port", str(port), "--workspace", str(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(proc, base)
        r = httpx.post(
            f"{base}/auth/login",
            json={"name": "nobody", "password": "not-a-password"},
            headers={"X-Forwarded-For": "10.66.66.66"},
        )
        assert r.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    accounts = AccountStore(account_url(str(ws), None))
    try:
        [entry] = [e for e in accounts.audit_log() if e.path == "/auth/login"]
    finally:
        accounts.close()
    assert entry.detail is not None
    assert entry.detail["client"] == "127.0.0.1"
