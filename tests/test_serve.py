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


@pytest.mark.slow
def test_serve_demo_workspace(tmp_path):
    ws = tmp_path / "jiaozuo.gpkg"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "geo_service", "serve", "--demo", "--port", str(port),
                             "--workspace", str(ws)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        assert httpx.get(f"{base}/collections").status_code == 401
        subprocess.run([sys.executable, "-m", "geo_service", "users", "add", "viewer1", "--role", "viewer",
                        "--no-password", "--workspace", str(ws)], check=True, capture_output=True)
        token = subprocess.run([sys.executable, "-m", "geo_service", "users", "token", "viewer1", "--workspace",
                                str(ws)], check=True, capture_output=True, text=True).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        roads = httpx.get(f"{base}/collections/roads/items", params={"limit": 1}, headers=headers).json()
        assert roads["numberMatched"] >= 3000
        sites = httpx.get(f"{base}/collections/stall_sites/items", headers=headers).json()
        assert sites["numberMatched"] == 30
        docs = httpx.get(f"{base}/docs", headers=headers)
        assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
        assert "https://" not in docs.text.split("<body>")[0]  # no CDN assets
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # the workspace is a GeoPackage GDAL (and so QGIS) reads, every layer with its attributes
    layers = {str(name) for name, _ in pyogrio.list_layers(ws)}
    assert {"roads", "stall_sites", "patrol_beats", "incidents", "duty_shifts"} <= layers
    info = pyogrio.read_info(ws, layer="stall_sites")
    assert info["features"] == 30 and "capacity" in list(info["fields"])
