"""PostGIS for the tests: a throwaway cluster started by the tests themselves (as an unprivileged
user), or the database named by ``GEO_TEST_DATABASE_URL``. Never skipped: no PostGIS is a failure."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

__all__ = ["pg_cluster", "pg_schema_url", "pg_store", "postgis_url", "pytest_report_header"]

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object | None]:
    """The running throwaway cluster (None when GEO_TEST_DATABASE_URL names an outside one)."""
    if os.environ.get("GEO_TEST_DATABASE_URL"):
        yield None
        return
    from geo_service.store.pgcluster import temporary_cluster

    try:
        context = temporary_cluster()
        cluster, database = context.__enter__()
    except Exception as exc:  # a missing PostGIS must fail loudly, not skip
        pytest.fail(f"could not start a PostGIS cluster for the tests: {exc}", pytrace=False)
    try:
        yield (cluster, database)
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgis_url(pg_cluster) -> str:
    """SQLAlchemy URL of a database with PostGIS."""
    if pg_cluster is None:
        return os.environ["GEO_TEST_DATABASE_URL"]
    cluster, database = pg_cluster
    return cluster.url(database)


@pytest.fixture
def pg_schema_url(postgis_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t{os.getpid()}_{next(_counter)}"
    engine = sa.create_engine(postgis_url)
    with engine.begin() as con:
        con.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in postgis_url else "?"
    yield f"{postgis_url}{sep}options=-csearch_path%3D{schema},public"
    with engine.begin() as con:
        con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def pg_store(pg_schema_url: str, catalog):
    from geo_service.store.postgis import PostGISStore

    store = PostGISStore(pg_schema_url, catalog)
    yield store
    store.close()


def _server_versions() -> str:
    """PostgreSQL and PostGIS versions of the binaries the throwaway cluster would use."""
    import re
    import subprocess

    from geo_service.store.pgcluster import find_bindir

    try:
        bindir = find_bindir()
        pg = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
        )
        major = bindir.parent.name
        control = Path(f"/usr/share/postgresql/{major}/extension/postgis.control")
        found = (
            re.search(r"default_version\s*=\s*'([^']+)'", control.read_text()) if control.exists() else None
        )
        postgis = found.group(1) if found else "not installed"
        return f"{pg.stdout.strip() or 'PostgreSQL ?'}, PostGIS {postgis}"
    except RuntimeError as exc:
        return f"PostgreSQL not found ({exc})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    import pyproj
    import shapely

    where = (
        "GEO_TEST_DATABASE_URL"
        if os.environ.get("GEO_TEST_DATABASE_URL")
        else "a throwaway cluster per session"
    )
    return [
        f"{_server_versions()}; GEOS {shapely.geos_version_string}, PROJ {pyproj.proj_version_str}, "
        f"shapely {shapely.__version__}; PostGIS tests on {where}"
    ]
