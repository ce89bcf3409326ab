"""Settings, read from ``GEO_*`` environment variables (pydantic-settings) or built directly in tests."""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

__all__ = [
    "Settings",
    "default_layers_dir",
    "environment_settings",
    "say_settings_problems",
    "settings_problems",
]

_ROOT = Path(__file__).resolve().parent.parent


def default_layers_dir() -> Path:
    """The ``layers/`` folder beside the package (a source checkout) or packaged with it."""
    for candidate in (_ROOT / "layers", Path(__file__).resolve().parent / "data" / "layers"):
        if candidate.is_dir():
            return candidate
    return _ROOT / "layers"


# goods named together that mean several kinds: a 果蔬 stall sells fruit and vegetables
DEFAULT_GOODS_GROUPS: dict[str, tuple[str, ...]] = {
    "果蔬": ("水果", "蔬菜"),
    "蔬果": ("水果", "蔬菜"),
    "瓜果": ("水果",),
    "鲜果": ("水果",),
}


class Settings(BaseSettings):
    """Everything the service can be told at start.

    ``database_url`` selects the store: unset means the embedded GeoPackage ``workspace`` file;
    ``postgresql+psycopg://…`` means PostGIS.
    """

    model_config = SettingsConfigDict(env_prefix="GEO_", env_file=None, extra="ignore")

    workspace: Path = Field(default=Path("var/jiaozuo.gpkg"), description="GeoPackage file of the workspace")
    database_url: str | None = Field(default=None, description="postgresql+psycopg://… to use PostGIS")
    layers_dir: Path = Field(default_factory=default_layers_dir)
    cache_dir: Path | None = Field(
        default=None,
        description="folder for work kept between restarts and shared by the worker processes (the division "
        "of the ground beside the streets that service-area polygons are read off, made once per version of "
        "the roads); unset: '<workspace>.cache' beside a GeoPackage workspace, none with PostGIS",
    )
    metric_crs: str = "EPSG:4547"
    timezone: str = "Asia/Shanghai"
    city: str = "焦作市"
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_vertices: int = Field(default=100_000, ge=1)
    service_bounds: tuple[float, float, float, float] = Field(
        default=(73.0, 3.0, 136.0, 54.0),
        description="lon/lat box (min lon, min lat, max lon, max lat) positions must fall in; China by default, "
        "so swapped or foreign coordinates are refused",
    )
    max_features_per_request: int = Field(default=50_000, ge=1)
    goods_groups: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_GOODS_GROUPS),
        description="goods named together that mean several kinds (a 果蔬 stall sells 水果 and 蔬菜); set "
        'GEO_GOODS_GROUPS=\'{"生鲜": ["肉类", "水产"]}\' to change',
    )
    walk_speed_m_per_min: float = Field(
        default=75.0,
        gt=0,
        le=200,
        description="walking speed that turns minutes on foot into metres (75 m/min is 4.5 km/h)",
    )
    page_limit_default: int = Field(default=100, ge=1)
    page_limit_max: int = Field(default=10_000, ge=1)
    computation_timeout_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    basemap: Literal["none", "local", "tianditu", "amap", "osm"] = "none"
    basemap_url: str | None = Field(default=None, validate_default=True)
    tianditu_key: str | None = Field(default=None, validate_default=True)
    chromium: Path = Path("/usr/bin/chromium")
    auth_cache_s: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    login_attempts: int = Field(
        default=5,
        ge=1,
        description="failed sign-ins in a row of one user name from one address before each further attempt "
        "must wait (2 s, then twice as long each time, at most login_window_s); a success or login_window_s "
        "with no failure clears them. Nobody else is slowed by them",
    )
    login_window_s: float = Field(
        default=300.0,
        gt=0,
        description="seconds after which a failed sign-in no longer counts (for a name and address: after "
        "that long with no other failure); also the longest wait",
    )
    login_address_attempts: int | None = Field(
        default=None,
        ge=1,
        description="failed sign-ins from one address, over all user names, within login_window_s before "
        "that address must wait; unset means 20 × login_attempts (an office behind one NAT shares it)",
    )
    cookie_secure: bool = Field(
        default=False,
        description="mark the session cookie Secure, so browsers send it over HTTPS only; set it when the "
        "service is reached over HTTPS (the intranet default is plain HTTP, where a Secure cookie is not "
        "sent back and nobody could stay signed in)",
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks (10.0.0.5, 10.1.0.0/16) of reverse proxies whose "
        "X-Forwarded-For / X-Forwarded-Proto are believed; empty (the default) trusts none, so a client "
        "cannot choose the address the audit log and sign-in throttling see",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        out = []
        for item in items:
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"GEO_TRUSTED_PROXIES: '{item}' is not an IP address or network (e.g. 10.0.0.5, 10.1.0.0/16)"
                ) from None
            # as uvicorn matches it: a network written with host bits (10.1.0.5/16) is its network
            # (10.1.0.0/16), which uvicorn would otherwise take as a name matching nothing
            out.append(str(net.network_address) if net.num_addresses == 1 and "/" not in item else str(net))
        return ",".join(out)

    @field_validator("service_bounds")
    @classmethod
    def _bounds_are_a_box(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        min_lon, min_lat, max_lon, max_lat = value
        lon_ok = -180 <= min_lon < max_lon <= 180
        lat_ok = -90 <= min_lat < max_lat <= 90
        if not (lon_ok and lat_ok):
            raise _Refused(
                "最小值须小于最大值，且在经纬度范围内",
                "each minimum must be below its maximum, within lon/lat ranges",
            )
        return value

    @field_validator("metric_crs")
    @classmethod
    def _metric_crs_is_projected(cls, value: str) -> str:
        from geo_service.crs import metric_crs
        from geo_service.errors import InvalidInput

        try:
            metric_crs(value)
        except InvalidInput:
            raise _Refused(
                "未知的坐标系或不是以米为单位的平面坐标系", "unknown, or not projected in metres"
            ) from None
        return value

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_cache_dir_is_unset(cls, value: object) -> object:
        # (GEO_CACHE_DIR= in an environment file would otherwise be the current folder)
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise _Refused("未知的时区", "unknown time zone") from None
        return value

    @field_validator("page_limit_max")
    @classmethod
    def _page_limits_agree(cls, value: int, info: ValidationInfo) -> int:
        default = info.data.get("page_limit_default")
        if default is not None and default > value:
            raise _Refused(
                f"小于 GEO_PAGE_LIMIT_DEFAULT（{default}）", f"below GEO_PAGE_LIMIT_DEFAULT ({default})"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_is_postgis(cls, value: str | None) -> str | None:
        """A PostgreSQL URL for psycopg 3 (``postgresql://`` is taken as ``postgresql+psycopg://``);
        blank means none (the GeoPackage workspace)."""
        if value is None or not value.strip():
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise _Refused("不是数据库地址", "is no database URL") from None
        if url.get_backend_name() != "postgresql" or url.get_driver_name() not in ("psycopg", "psycopg2"):
            raise _Refused("不是 PostgreSQL 数据库", "is no PostgreSQL database") from None
        if "+" in url.drivername and url.drivername != "postgresql+psycopg":
            raise _Refused("驱动应为 psycopg（3）", "the driver must be psycopg (3)")
        text = value.strip()
        return "postgresql+psycopg" + text[len("postgresql") :] if url.drivername == "postgresql" else text

    @field_validator("basemap_url")
    @classmethod
    def _local_basemap_has_its_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("basemap") == "local" and not (value or "").strip():
            raise _Refused("GEO_BASEMAP=local 时不能为空", "must be set when GEO_BASEMAP=local")
        return value

    @field_validator("tianditu_key")
    @classmethod
    def _tianditu_basemap_has_its_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("basemap") == "tianditu" and not (value or "").strip():
            raise _Refused("GEO_BASEMAP=tianditu 时不能为空", "must be set when GEO_BASEMAP=tianditu")
        return value

    def cache_folder(self) -> Path | None:
        """Where work kept between restarts goes (``cache_dir``, or beside a GeoPackage workspace)."""
        if self.cache_dir is not None:
            return self.cache_dir
        if self.database_url:
            return None
        return self.workspace.with_name(self.workspace.name + ".cache")


class _Refused(ValueError):
    """A setting's value refused, said in Chinese and English (``settings_problems`` adds what is allowed)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


# what each setting takes, said whenever its value is refused
_ALLOWED: dict[str, tuple[str, str]] = {
    "service_bounds": (
        "JSON 列表 [最小经度, 最小纬度, 最大经度, 最大纬度]，经度 -180 到 180，纬度 -90 到 90，最小值小于最大值，"
        "如 [73, 3, 136, 54]",
        "a JSON list [min lon, min lat, max lon, max lat], longitudes -180 to 180, latitudes -90 to 90, each "
        "minimum below its maximum, e.g. [73, 3, 136, 54]",
    ),
    "metric_crs": (
        "以米为单位的平面坐标系，如 EPSG:4547（CGCS2000 高斯-克吕格 114°E）",
        "a projected CRS in metres, e.g. EPSG:4547 (CGCS2000 GK CM 114E)",
    ),
    "timezone": ("IANA 时区名，如 Asia/Shanghai", "an IANA time zone name, e.g. Asia/Shanghai"),
    "database_url": (
        "PostGIS 数据库地址，如 postgresql+psycopg://用户@主机:5432/库名；不设置则用 GeoPackage 工作空间",
        "a PostGIS database URL, e.g. postgresql+psycopg://user@host:5432/db; unset for the GeoPackage workspace",
    ),
    "computation_timeout_s": ("大于 0 的秒数，如 60", "a number of seconds above 0, e.g. 60"),
    "auth_cache_s": ("不小于 0 的秒数，如 5", "a number of seconds, 0 or more, e.g. 5"),
    "max_upload_bytes": ("正整数（字节数），如 52428800", "a whole number of bytes above 0, e.g. 52428800"),
    "max_body_bytes": ("正整数（字节数），如 20971520", "a whole number of bytes above 0, e.g. 20971520"),
    "max_vertices": ("正整数，如 100000", "a whole number above 0, e.g. 100000"),
    "max_features_per_request": ("正整数，如 50000", "a whole number above 0, e.g. 50000"),
    "page_limit_default": (
        "正整数，不大于 GEO_PAGE_LIMIT_MAX，如 100",
        "a whole number above 0, at most GEO_PAGE_LIMIT_MAX, e.g. 100",
    ),
    "page_limit_max": (
        "正整数，不小于 GEO_PAGE_LIMIT_DEFAULT，如 10000",
        "a whole number above 0, at least GEO_PAGE_LIMIT_DEFAULT, e.g. 10000",
    ),
    "basemap": ("none、local、tianditu、amap 或 osm", "none, local, tianditu, amap or osm"),
    "basemap_url": (
        "内网瓦片地址，如 http://tiles.example.lan/{z}/{x}/{y}.png",
        "the intranet tile URL, e.g. http://tiles.example.lan/{z}/{x}/{y}.png",
    ),
    "tianditu_key": ("天地图的密钥（tk）", "the Tianditu key (tk)"),
    "login_attempts": ("正整数，如 5", "a whole number above 0, e.g. 5"),
    "login_window_s": ("大于 0 的秒数，如 300", "a number of seconds above 0, e.g. 300"),
    "login_address_attempts": ("正整数，或不设置", "a whole number above 0, or unset"),
    "walk_speed_m_per_min": (
        "大于 0、不超过 200 的每分钟米数，如 75",
        "metres a minute above 0, at most 200, e.g. 75",
    ),
    "trusted_proxies": (
        "逗号分隔的 IP 地址或网段，如 10.0.0.5, 10.1.0.0/16",
        "IP addresses or networks, comma-separated, e.g. 10.0.0.5, 10.1.0.0/16",
    ),
    "cookie_secure": ("true 或 false", "true or false"),
}

_FIELD_IN_SOURCE = re.compile(r'field "([A-Za-z0-9_]+)"')


def _env(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def _shown(value: Any, *, secret: bool = False) -> str:
    """A refused value as said back (a URL's password as ``***``)."""
    text = str(value)
    if secret:
        text = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", text)
    return text if len(text) <= 80 else text[:77] + "..."


def settings_problems(exc: BaseException) -> list[str] | None:
    """One line, in Chinese and English, per bad setting of a refused :class:`Settings`: the environment
    variable, the value given and what it takes. ``None`` when ``exc`` is no refusal of the settings.

    Examples
    --------
    >>> try:
    ...     Settings(page_limit_max=0)
    ... except ValidationError as exc:
    ...     print(settings_problems(exc)[0])  # doctest: +ELLIPSIS
    设置 GEO_PAGE_LIMIT_MAX 的值「0」无效：应不小于 1；可取：正整数，... / setting GEO_PAGE_LIMIT_MAX=0 ...
    """
    from geo_service.validation_text import zh_of

    if isinstance(exc, SettingsError):  # a value that is not even JSON (GEO_SERVICE_BOUNDS=1,2,3)
        found = _FIELD_IN_SOURCE.search(str(exc))
        if found is None:
            return None
        field = found.group(1)
        zh_allowed, en_allowed = _ALLOWED.get(field, ("见说明文档", "see the guide"))
        env = _env(field)
        return [
            f"设置 {env} 无法读取（应为 JSON）；可取：{zh_allowed} / setting {env} cannot be read (it must be "
            f"JSON); allowed: {en_allowed}"
        ]
    if not isinstance(exc, ValidationError) or exc.title != Settings.__name__:
        return None
    lines: dict[str, str] = {}
    for err in exc.errors():
        loc = err.get("loc") or ("?",)
        field = str(loc[0])
        if field in lines:  # one line per setting (a list's items each report)
            continue
        refused = (err.get("ctx") or {}).get("error")
        if isinstance(refused, _Refused):
            zh, en = refused.zh, refused.en
        else:
            zh, en = zh_of(err), str(err.get("msg"))
        env = _env(field)
        if len(loc) > 1:  # an item of a list (GEO_SERVICE_BOUNDS=[1,2,3] lacks its 4th)
            item = loc[1] + 1 if isinstance(loc[1], int) else loc[1]
            zh, en = f"第 {item} 项{zh}", f"item {item}: {en}"
            zh_given, en_given = " ", ""
        elif err.get("input") is None:
            zh_given, en_given = "（未设置）", " (unset)"
        else:
            value = _shown(err.get("input"), secret=field == "database_url")
            zh_given, en_given = f" 的值「{value}」", f"={value}"
        allowed = _ALLOWED.get(field)
        zh_more, en_more = (f"；可取：{allowed[0]}", f"; allowed: {allowed[1]}") if allowed else ("", "")
        lines[field] = (
            f"设置 {env}{zh_given}无效：{zh}{zh_more} / setting {env}{en_given} is invalid: {en}{en_more}"
        )
    return list(lines.values())


def say_settings_problems(lines: Iterable[str]) -> None:
    """Print :func:`settings_problems`' lines on stderr, as a refused start says them."""
    for line in lines:
        print(f"错误 / error: {line}", file=sys.stderr)


def environment_settings() -> Settings:
    """``Settings()`` read from the ``GEO_*`` environment, for a start that has nothing else (``uvicorn
    --factory geo_service.api:create_app``). Bad settings stop it as they stop ``geo-service``: one line
    per bad setting on stderr and exit status 2 (``SystemExit``), not pydantic's traceback."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        lines = settings_problems(exc)
        if lines is None:
            raise
        say_settings_problems(lines)
        raise SystemExit(2) from None
