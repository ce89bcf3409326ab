"""A workspace: one store plus the in-process caches the analysis answers from.

Layers of a city are thousands of features: the analysis loads them once, indexes them and answers
from memory. Every cached object is keyed by the versions of the layers it was built from, read from
the store on use, so a write made through any worker (or any process over the same PostGIS) is seen
by the next request everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import geopandas as gpd

from geo_service.catalog import Catalog
from geo_service.settings import Settings
from geo_service.store.base import Store

__all__ = ["OutsideReferrer", "Workspace", "open_workspace"]

T = TypeVar("T")

# the layers' versions read in a :meth:`Workspace.reading` block, per workspace (id) and layer
_READ: ContextVar[dict[int, dict[str, int]] | None] = ContextVar("geo_versions_read", default=None)


@dataclass(frozen=True)
class OutsideReferrer:
    """Something kept outside the layers that names features of ``layer`` by their ``key`` field (a
    crew member's account names its crew): deleting or renaming such a feature is refused while
    ``holders(value)`` names anything, as it is for features of other layers."""

    layer: str
    key: str
    title: dict[str, str]  # what the holders are, {"zh": …, "en": …}
    holders: Callable[[str], Sequence[str]]


class Workspace:
    """A store and its version-keyed caches.

    Parameters
    ----------
    store
        Any store implementing :class:`geo_service.store.base.Store`.
    settings
        The service settings (metric CRS, limits, time zone).
    clock
        What time it is (an aware datetime); the system clock by default. Tests pass their own to move
        the service to another day.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self._zone = ZoneInfo(self.settings.timezone)
        self._clock = clock or (lambda: dt.datetime.now(self._zone))
        self._cache: OrderedDict[str, tuple[tuple[int, ...], Any]] = (
            OrderedDict()
        )  # least recently used first
        self._family: dict[str, str] = {}  # key -> its family, for keys that carry a parameter
        self._lock = threading.RLock()
        self.outside_referrers: list[OutsideReferrer] = []

    def today(self) -> dt.date:
        """Today in the service's time zone (``GEO_TIMEZONE``), by the workspace's clock."""
        return self._clock().astimezone(self._zone).date()

    @property
    def catalog(self) -> Catalog:
        return self.store.catalog

    def versions(self, layers: tuple[str, ...]) -> tuple[int, ...]:
        read = _READ.get()
        if read is None:
            return tuple(self.store.layer_version(name) for name in layers)
        mine = read.get(id(self))
        if mine is not None:
            try:
                return tuple([mine[name] for name in layers])
            except KeyError:
                pass
        # (the first ask: every layer's, at once)
        mine = read.setdefault(id(self), {})
        mine.update(self.store.layer_versions([*self.catalog, *layers]))
        return tuple([mine[name] for name in layers])

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A block that only reads: the layers' versions are read from the store once in it (all in one
        query), however many caches it asks: an answer from one view of the layers, and one query (one
        round trip to PostGIS) where who-covers made about twenty. Not for a block that writes: it would
        be answered from the caches of before its own write."""
        token = _READ.set({})
        try:
            yield
        finally:
            _READ.reset(token)

    def cached(
        self,
        key: str,
        layers: tuple[str, ...],
        build: Callable[[], T],
        *,
        family: str | None = None,
        keep: int = 1,
    ) -> T:
        """Return the object cached under ``key``, rebuilding it if any of ``layers`` changed.

        A key that carries a parameter (the roads closed for one snow plan, the modification time of
        the rules file) names its ``family``: only the ``keep`` most recently used keys of a family stay
        cached, so a service asked with ever new parameters for years does not keep every index it
        built."""
        versions = self.versions(layers)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == versions:
                self._cache.move_to_end(key)
                return hit[1]
        value = build()
        with self._lock:
            self._cache[key] = (versions, value)
            self._cache.move_to_end(key)
            if family is not None:
                self._family[key] = family
                kin = [k for k in self._cache if self._family.get(k) == family]
                for old in kin[: max(len(kin) - max(keep, 1), 0)]:
                    del self._cache[old]
                    del self._family[old]
        return value

    def cached_keys(self, family: str | None = None) -> list[str]:
        """The keys cached now (of one ``family``), least recently used first."""
        with self._lock:
            return [k for k in self._cache if family is None or self._family.get(k) == family]

    def is_fresh(self, key: str, layers: tuple[str, ...]) -> bool:
        """Whether ``key`` is cached for the current versions of ``layers`` (nothing is built)."""
        versions = self.versions(layers)
        with self._lock:
            hit = self._cache.get(key)
        return hit is not None and hit[0] == versions

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """The whole layer as a GeoDataFrame (EPSG:4326, index = feature id)."""
        self.catalog[layer]  # raises NotFound for an unknown layer
        return self.cached(f"frame:{layer}", (layer,), lambda: self.store.read_frame(layer))

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._family.clear()


def open_workspace(settings: Settings | None = None, *, demo_if_empty: bool = False) -> Workspace:
    """Open the workspace the settings name (GeoPackage by default, PostGIS with a database URL).

    With ``demo_if_empty`` an empty workspace is first filled with the Jiaozuo demo (illustrative data).
    """
    from geo_service.catalog import load_catalog
    from geo_service.store import open_store

    settings = settings or Settings()
    store = open_store(settings, load_catalog(settings.layers_dir))
    if demo_if_empty and store.count("roads") == 0:
        from geo_service.seeding import load_demo

        load_demo(store)
    return Workspace(store, settings)
