"""A throwaway local PostgreSQL + PostGIS cluster, for tests, benchmarks and trying PostGIS locally.

PostgreSQL refuses to run as root, so when started by root the cluster runs as an unprivileged user
(``postgres`` if the Debian package created it, else a ``geotest`` user made for the purpose).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cluster", "find_bindir", "temporary_cluster"]


def find_bindir() -> Path:
    """The newest PostgreSQL ``bin`` folder that has ``initdb``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL is not installed (no initdb): run scripts/setup.sh --test as root, "
        "or apt-get install postgresql postgis"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "geotest"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "geotest"],
        check=True,
        capture_output=True,
    )
    return "geotest"


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its data dir, port, and superuser."""

    datadir: Path
    port: int
    user: str
    bindir: Path
    run_as: str | None

    def url(self, database: str = "postgres", *, schema: str | None = None) -> str:
        url = f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"
        if schema:
            url += f"?options=-csearch_path%3D{schema},public"
        return url

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def stop(self, mode: str = "fast") -> None:
        _as(
            self.run_as,
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"],
            check=False,
        )

    def start(self) -> None:
        _as(
            self.run_as,
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.datadir / "server.log"),
                "start",
            ],
        )


def _as(user: str | None, cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout}\n{done.stderr}")
    return done


@contextlib.contextmanager
def temporary_cluster(*, database: str = "geo") -> Iterator[tuple[Cluster, str]]:
    """Start a cluster in a temporary folder with PostGIS in ``database``; yield (cluster, database)."""
    bindir = find_bindir()
    run_as = _run_as()
    tmp = Path(tempfile.mkdtemp(prefix="geo-pg-"))
    datadir = tmp / "data"
    os.chmod(tmp, 0o755)
    if run_as:
        info = pwd.getpwnam(run_as)
        os.chown(tmp, info.pw_uid, info.pw_gid)
    _as(
        run_as,
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "geo",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8" if _has_locale("C.UTF-8") else "--locale=C",
        ],
    )
    port = _free_port()
    with open(datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{tmp}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            "shared_buffers = 128MB\n"
        )
    cluster = Cluster(datadir, port, "geo", bindir, run_as)
    cluster.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        cluster.psql(f"CREATE DATABASE {database}")
        cluster.psql("CREATE EXTENSION IF NOT EXISTS postgis", database)
        yield cluster, database
    finally:
        cluster.stop("immediate")
        shutil.rmtree(tmp, ignore_errors=True)


def _has_locale(name: str) -> bool:
    done = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    return name.lower().replace("-", "") in done.stdout.lower().replace("-", "")
