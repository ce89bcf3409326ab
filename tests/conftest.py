"""Shared fixtures: the layer catalog, a demo workspace app, PostGIS; and the no-silent-skip rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geo_service.catalog import Catalog, load_catalog
from geo_service.settings import Settings, default_layers_dir
from tests.fixtures_postgis import *  # noqa: F403  (the PostGIS cluster fixtures)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_layers_dir())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=tmp_path / "ws.gpkg")


def sign_in(client, role: str = "admin", *, name: str | None = None, crew: str | None = None) -> str:
    """Create a user with ``role`` in the app's account store and return a bearer token for it."""
    accounts = client.app.state.accounts
    name = name or f"test-{role}" + (f"-{crew}" if crew else "")
    try:
        accounts.get_user(name)
    except Exception:  # no such user yet
        accounts.add_user(name, role, crew=crew if role == "crew" else None)
    return accounts.issue_token(name)


def authed(client, role: str = "admin", **kwargs) -> dict[str, str]:
    """Headers signing a request in as a user with ``role``."""
    return {"Authorization": f"Bearer {sign_in(client, role, **kwargs)}"}


@pytest.fixture
def client(settings: Settings):
    """A TestClient over an empty GeoPackage workspace, signed in as an admin."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c


@pytest.fixture
def anon_client(settings: Settings):
    """A TestClient with no credentials."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="session")
def demo_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage holding the demo workspace, built once per test session (copy it before writing)."""
    from geo_service.seeding import load_demo
    from geo_service.store.gpkg import GeoPackageStore

    path = tmp_path_factory.mktemp("demo") / "jiaozuo.gpkg"
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    try:
        load_demo(store)
    finally:
        store.close()
    return path


def demo_settings(
    kind: str, request: pytest.FixtureRequest, demo_gpkg: Path, tmp_path: Path
) -> tuple[Settings, tuple[str, ...]]:
    """Settings over a private demo workspace on store ``kind`` (``gpkg``: a copy of ``demo_gpkg``;
    ``postgis``: the demo loaded into the test cluster's schema), and the command line's options for it.
    For fixtures parametrised over both stores."""
    import shutil

    if kind == "gpkg":
        path = tmp_path / "jiaozuo.gpkg"
        shutil.copy(demo_gpkg, path)
        return Settings(workspace=path), ("--workspace", str(path))
    from geo_service.seeding import load_demo
    from geo_service.store.postgis import PostGISStore

    url = request.getfixturevalue("pg_schema_url")
    store = PostGISStore(url, load_catalog(default_layers_dir()))
    try:
        load_demo(store)
    finally:
        store.close()
    unused = str(tmp_path / "unused.gpkg")
    return Settings(workspace=unused, database_url=url), ("--workspace", unused, "--database-url", url)


@pytest.fixture(scope="session")
def demo_client(demo_gpkg: Path, tmp_path_factory: pytest.TempPathFactory):
    """A TestClient over a private copy of the demo workspace, shared by a session (read-mostly tests)."""
    import shutil

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    path = tmp_path_factory.mktemp("demo-app") / "jiaozuo.gpkg"
    shutil.copy(demo_gpkg, path)
    with TestClient(create_app(Settings(workspace=path))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c


@pytest.fixture
def demo_ws(demo_gpkg: Path, tmp_path: Path):
    """A Workspace over a fresh copy of the demo GeoPackage (safe to write)."""
    import shutil

    from geo_service.store.gpkg import GeoPackageStore
    from geo_service.workspace import Workspace

    path = tmp_path / "jiaozuo.gpkg"
    shutil.copy(demo_gpkg, path)
    store = GeoPackageStore(path, load_catalog(default_layers_dir()))
    yield Workspace(store, Settings(workspace=path))
    store.close()


@pytest.fixture
def own_demo_client(demo_gpkg, tmp_path):
    """A TestClient over a private, writable copy of the demo workspace."""
    import shutil

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    path = tmp_path / "jiaozuo.gpkg"
    shutil.copy(demo_gpkg, path)
    with TestClient(create_app(Settings(workspace=path))) as c:
        c.headers["Authorization"] = f"Bearer {sign_in(c)}"
        yield c


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: a skipped PostGIS or browser test hides a broken set-up."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) skipped; skips are not allowed in CI", red=True)
        session.exitstatus = 1
