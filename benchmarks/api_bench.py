"""The service under HTTP: who-covers latency against a trivial endpoint on the same server, a page of
items asked for again with its ETag against asking without it, and a bounded mixed load on PostGIS
with 2 workers against 1 worker (loopback only)."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo_service", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def _token(env: dict[str, str]) -> str:
    subprocess.run(
        [sys.executable, "-m", "geo_service", "users", "add", "bench", "--role", "admin", "--no-password"],
        env=env,
        capture_output=True,
    )
    return subprocess.run(
        [sys.executable, "-m", "geo_service", "users", "token", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _rss_mb(proc: subprocess.Popen) -> float:
    pids = [proc.pid] + [
        int(p)
        for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    ]
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


@contextlib.contextmanager
def _demo_client() -> Iterator[httpx.Client]:
    """A client signed in as an admin to a server of its own over a new demo workspace (1 worker)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GEO_WORKSPACE": str(Path(tmp) / "w.gpkg")}
        subprocess.run(
            [sys.executable, "-m", "geo_service", "demo"], env=env, check=True, capture_output=True
        )
        token = _token(env)
        proc, base = _start(env, 1)
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
                yield c
        finally:
            proc.terminate()
            proc.wait()


def who() -> None:
    with _demo_client() as c:
        c.get("/coverage/who", params={"lon": 113.24, "lat": 35.22})  # warm the caches
        rng = random.Random(0)
        trivial, ours = [], []
        for _ in range(200):
            t = time.perf_counter()
            c.get("/conformance")
            trivial.append(time.perf_counter() - t)
            t = time.perf_counter()
            c.get(
                "/coverage/who",
                params={
                    "lon": 113.15 + rng.random() * 0.2,
                    "lat": 35.18 + rng.random() * 0.1,
                    "at": "2026-12-01T21:00",
                },
            )
            ours.append(time.perf_counter() - t)
    a, b = statistics.median(ours) * 1000, statistics.median(trivial) * 1000
    print(
        f"   who-covers: median {a:.1f} ms vs trivial endpoint (/conformance) {b:.1f} ms = {a / b:.2f}x of it"
        " (goal <= 1.5x)",
        flush=True,
    )


def revalidate() -> None:
    """A page of 1,000 items (the demo's incidents) asked for again with the ETag it came with (304, the
    store not read) against asking for it whole, interleaved on one server."""
    page = "/collections/incidents/items"
    with _demo_client() as c:
        first = c.get(page, params={"limit": 1000})
        etag, size = first.headers["etag"], len(first.content)
        whole, again = [], []
        for _ in range(100):
            t = time.perf_counter()
            c.get(page, params={"limit": 1000})
            whole.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = c.get(page, params={"limit": 1000}, headers={"If-None-Match": etag})
            again.append(time.perf_counter() - t)
            assert r.status_code == 304, r.status_code
    a, b = statistics.median(again) * 1000, statistics.median(whole) * 1000
    print(
        f"   a page of {first.json()['numberReturned']} items revalidated (304): median {a:.1f} ms vs "
        f"asked for whole ({size / 1e6:.2f} MB) {b:.1f} ms = {a / b:.2f}x of it",
        flush=True,
    )


def load() -> None:
    from geo_service.store.pgcluster import temporary_cluster

    seconds = float(os.environ.get("GEO_BENCH_LOAD_S", "20"))
    with temporary_cluster() as (cluster, db), tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "GEO_DATABASE_URL": cluster.url(db),
            "GEO_WORKSPACE": str(Path(tmp) / "unused.gpkg"),
        }
        subprocess.run(
            [sys.executable, "-m", "geo_service", "demo"], env=env, check=True, capture_output=True
        )
        token = _token(env)
        for workers in (1, 2):
            proc, base = _start(env, workers)
            try:
                rss0 = _rss_mb(proc)
                stats = _hammer(base, token, seconds)
                rss1 = _rss_mb(proc)
            finally:
                proc.terminate()
                proc.wait()
            lat = sorted(stats["lat"])
            p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
            print(
                f"   load, {workers} worker(s), 16 clients x {seconds:.0f} s on PostGIS: {len(lat) / seconds:.1f} req/s,"
                f" p50 {p50:.0f} ms, p99 {p99:.0f} ms, errors {stats['errors']}, stale 409 {stats['stale']},"
                f" memory {rss0:.0f} -> {rss1:.0f} MB",
                flush=True,
            )


def _hammer(base: str, token: str, seconds: float) -> dict:
    lat: list[float] = []
    counts = {"errors": 0, "stale": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            while time.monotonic() < deadline:
                kind = rng.random()
                t = time.perf_counter()
                if kind < 0.5:
                    r = c.get("/collections/stall_sites/items", params={"limit": 10})
                elif kind < 0.8:
                    r = c.get(
                        "/coverage/who",
                        params={"lon": 113.15 + rng.random() * 0.2, "lat": 35.18 + rng.random() * 0.1},
                    )
                else:
                    fid = rng.randint(1, 5)
                    v = c.get(f"/collections/depots/items/{fid}").json()["version"]
                    r = c.patch(
                        f"/collections/depots/items/{fid}",
                        json={"properties": {"salt_store": rng.random() < 0.5}},
                        headers={"If-Match": f'"{v}"'},
                    )
                took = time.perf_counter() - t
                with lock:
                    lat.append(took)
                    if r.status_code == 409:
                        counts["stale"] += 1
                    elif r.status_code >= 400:
                        counts["errors"] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"lat": lat, **counts}


ENTRIES = {"who": who, "revalidate": revalidate, "load": load}
