"""Settings, read from ``GEO_*`` environment variables (pydantic-settings) or built directly in tests."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_layers_dir"]

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
    metric_crs: str = "EPSG:4547"
    timezone: str = "Asia/Shanghai"
    city: str = "焦作市"
    max_upload_bytes: int = 50 * 1024 * 1024
    max_body_bytes: int = 20 * 1024 * 1024
    max_vertices: int = 100_000
    service_bounds: tuple[float, float, float, float] = Field(
        default=(73.0, 3.0, 136.0, 54.0),
        description="lon/lat box (min lon, min lat, max lon, max lat) positions must fall in; China by default, "
        "so swapped or foreign coordinates are refused",
    )
    max_features_per_request: int = 50_000
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
    page_limit_default: int = 100
    page_limit_max: int = 10_000
    computation_timeout_s: float = 60.0
    basemap: Literal["none", "local", "tianditu", "amap", "osm"] = "none"
    basemap_url: str | None = None
    tianditu_key: str | None = None
    chromium: Path = Path("/usr/bin/chromium")
    auth_cache_s: float = 5.0
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
