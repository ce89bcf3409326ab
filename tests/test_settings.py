"""Settings that would break requests are refused at start, naming the GEO_* variable and what it
takes, in Chinese and English; the command line (and so `geo-service serve`) prints one line per bad
setting and exits with code 2, with no traceback; so does `uvicorn --factory geo_service.api:create_app`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from geo_service.cli import main
from geo_service.settings import Settings, settings_problems

ROOT = Path(__file__).resolve().parent.parent

BAD = [
    # (variable, value, a word of what the line says is allowed)
    ("GEO_SERVICE_BOUNDS", "[200,100,0,0]", "[73, 3, 136, 54]"),
    ("GEO_SERVICE_BOUNDS", "[1,2,3]", "[73, 3, 136, 54]"),
    ("GEO_SERVICE_BOUNDS", "1,2,3", "[73, 3, 136, 54]"),
    ("GEO_SERVICE_BOUNDS", "[100,40,90,50]", "[73, 3, 136, 54]"),
    ("GEO_COMPUTATION_TIMEOUT_S", "-1", "above 0"),
    ("GEO_COMPUTATION_TIMEOUT_S", "0", "above 0"),
    ("GEO_METRIC_CRS", "EPSG:99999", "EPSG:4547"),
    ("GEO_METRIC_CRS", "EPSG:4326", "EPSG:4547"),  # degrees, not metres
    ("GEO_TIMEZONE", "Mars/Base", "Asia/Shanghai"),
    ("GEO_MAX_UPLOAD_BYTES", "-5", "bytes above 0"),
    ("GEO_MAX_BODY_BYTES", "0", "bytes above 0"),
    ("GEO_PAGE_LIMIT_MAX", "0", "above 0"),
    ("GEO_PAGE_LIMIT_DEFAULT", "0", "above 0"),
    ("GEO_LOGIN_ATTEMPTS", "abc", "whole number"),
    ("GEO_BASEMAP", "google", "tianditu"),
    # helper-76: each of these was a traceback of SQLAlchemy or a missing driver
    ("GEO_DATABASE_URL", "mysql://x", "postgresql+psycopg://"),
    ("GEO_DATABASE_URL", "notaurl", "postgresql+psycopg://"),
    ("GEO_DATABASE_URL", "sqlite:///tmp/x", "postgresql+psycopg://"),
    ("GEO_DATABASE_URL", "postgresql+psycopg2://u@h/d", "psycopg (3)"),
]


def _refusal(monkeypatch, capsys, env: dict[str, str]) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["layers"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "pydantic" not in captured.err  # no link to pydantic's error pages
    return captured.err.strip().splitlines()


@pytest.mark.parametrize(("name", "value", "allowed"), BAD)
def test_a_bad_setting_is_refused_at_start_naming_it(monkeypatch, capsys, name, value, allowed):
    (line,) = _refusal(monkeypatch, capsys, {name: value})
    assert line.count(name) >= 2  # in the Chinese and in the English half
    assert "设置" in line
    assert "setting" in line
    assert allowed in line


def test_a_local_basemap_needs_its_url_and_tianditu_its_key(monkeypatch, capsys):
    (line,) = _refusal(monkeypatch, capsys, {"GEO_BASEMAP": "local"})
    assert "GEO_BASEMAP_URL" in line
    assert "未设置" in line
    assert "unset" in line
    (line,) = _refusal(monkeypatch, capsys, {"GEO_BASEMAP": "tianditu"})
    assert "GEO_TIANDITU_KEY" in line
    with pytest.raises(ValidationError):
        Settings(basemap="local", basemap_url=" ")


def test_page_limits_must_agree(monkeypatch, capsys):
    (line,) = _refusal(monkeypatch, capsys, {"GEO_PAGE_LIMIT_DEFAULT": "500", "GEO_PAGE_LIMIT_MAX": "100"})
    assert "GEO_PAGE_LIMIT_MAX" in line
    assert "GEO_PAGE_LIMIT_DEFAULT" in line


def test_every_bad_setting_has_its_own_line(monkeypatch, capsys):
    lines = _refusal(
        monkeypatch,
        capsys,
        {"GEO_TIMEZONE": "Mars/Base", "GEO_MAX_UPLOAD_BYTES": "-5", "GEO_METRIC_CRS": "EPSG:99999"},
    )
    assert len(lines) == 3
    assert {line.split()[4] for line in lines} == {"GEO_TIMEZONE", "GEO_MAX_UPLOAD_BYTES", "GEO_METRIC_CRS"}


def test_the_server_does_not_start_with_a_bad_setting(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GEO_SERVICE_BOUNDS", "[200,100,0,0]")
    started = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(a))
    assert main(["serve", "--workspace", str(tmp_path / "w.gpkg"), "--port", "0"]) == 2
    assert not started
    assert "GEO_SERVICE_BOUNDS" in capsys.readouterr().err


def test_good_settings_are_kept():
    settings = Settings(
        service_bounds=(-180, -90, 180, 90),
        metric_crs="EPSG:32649",
        timezone="Asia/Urumqi",
        computation_timeout_s=0.5,
        basemap="local",
        basemap_url="http://tiles.lan/{z}/{x}/{y}.png",
        page_limit_default=10,
        page_limit_max=10,
    )
    assert settings.metric_crs == "EPSG:32649"
    assert Settings().service_bounds == (73.0, 3.0, 136.0, 54.0)
    # a PostgreSQL URL without its driver is psycopg 3's (the driver installed); blank is none
    assert Settings(database_url="postgresql://u@h:5432/d").database_url == "postgresql+psycopg://u@h:5432/d"
    assert Settings(database_url="postgresql+psycopg://u@h/d").database_url == "postgresql+psycopg://u@h/d"
    assert Settings(database_url=" ").database_url is None


def test_a_refused_database_url_keeps_its_password_to_itself(monkeypatch, capsys):
    (line,) = _refusal(monkeypatch, capsys, {"GEO_DATABASE_URL": "mysql://city:s3cret@db.lan/geo"})
    assert "s3cret" not in line
    assert "mysql://city:***@db.lan/geo" in line


def test_only_the_settings_refusals_are_explained():
    from pydantic import BaseModel

    class Other(BaseModel):
        n: int

    with pytest.raises(ValidationError) as caught:
        Other(n="x")
    assert settings_problems(caught.value) is None
    assert settings_problems(ValueError("x")) is None


@pytest.mark.parametrize("factory", ["geo_service.api:create_app", "geo_service.api.app:create_app"])
def test_uvicorn_with_the_app_factory_refuses_bad_settings_as_the_command_line_does(
    monkeypatch, capsys, tmp_path, factory
):
    """`uvicorn --factory geo_service.api:create_app` with a bad GEO_* setting printed pydantic's
    traceback: it says each bad setting in one line, as `geo-service` does, and exits with code 2."""
    import os
    import subprocess
    import sys

    env = {
        "GEO_SERVICE_BOUNDS": "[136,3,73,54]",  # inverted
        "GEO_COMPUTATION_TIMEOUT_S": "-1",
        "GEO_WORKSPACE": str(tmp_path / "w.gpkg"),
    }
    said = _refusal(monkeypatch, capsys, env)
    assert len(said) == 2
    run = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,  # this checkout's package
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert "pydantic" not in run.stderr
    assert run.stderr.strip().splitlines() == said
    assert not (tmp_path / "w.gpkg").exists()


def test_uvicorn_with_the_app_factory_names_a_setting_that_is_not_even_json(tmp_path):
    import os
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "geo_service.api:create_app", "--port", "0"],
        env={**os.environ, "GEO_SERVICE_BOUNDS": "1,2,3", "GEO_WORKSPACE": str(tmp_path / "w.gpkg")},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,  # this checkout's package
    )
    assert run.returncode == 2, run.stderr[-2000:]
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("错误 / error: 设置 GEO_SERVICE_BOUNDS 无法读取")
    assert "Traceback" not in run.stderr


def test_uvicorn_with_the_app_factory_says_a_bad_layer_declaration_in_one_line(monkeypatch, capsys, tmp_path):
    """A GEO_LAYERS_DIR without declarations, or with one that cannot be loaded, stops the start: the
    command line said it in one line, uvicorn on the factory printed the traceback."""
    import os
    import shutil
    import subprocess
    import sys

    from geo_service.settings import default_layers_dir

    broken = tmp_path / "layers"
    shutil.copytree(default_layers_dir(), broken)
    (broken / "depots.yaml").write_text("name: depots\ngeometry: [Point]\nfields: 7\n", encoding="utf-8")
    for layers in (tmp_path / "empty", broken):
        layers.mkdir(exist_ok=True)
        env = {"GEO_LAYERS_DIR": str(layers), "GEO_WORKSPACE": str(tmp_path / "w.gpkg")}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert main(["layers"]) == 2
        said = capsys.readouterr().err.strip().splitlines()
        assert len(said) == 1
        run = subprocess.run(
            [sys.executable, "-m", "uvicorn", "--factory", "geo_service.api:create_app", "--port", "0"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert run.returncode == 2, run.stderr[-2000:]
        assert "Traceback" not in run.stderr
        assert run.stderr.strip().splitlines() == said
        assert str(layers) in said[0] or "depots" in said[0]


def test_the_cache_folder_is_beside_a_geopackage_workspace_unless_set(monkeypatch, tmp_path):
    ws = tmp_path / "city.gpkg"
    assert Settings(workspace=ws).cache_folder() == tmp_path / "city.gpkg.cache"
    monkeypatch.setenv("GEO_CACHE_DIR", "")  # (an empty line in an environment file: unset)
    assert Settings(workspace=ws).cache_folder() == tmp_path / "city.gpkg.cache"
    monkeypatch.setenv("GEO_CACHE_DIR", str(tmp_path / "cache"))
    assert Settings(workspace=ws).cache_folder() == tmp_path / "cache"
    monkeypatch.delenv("GEO_CACHE_DIR")
    assert Settings(workspace=ws, database_url="postgresql+psycopg://u@h/db").cache_folder() is None
