"""The store protocol: what every store (GeoPackage, PostGIS) offers, and the records it returns.

Stores receive properties already validated against the layer declaration (see
``geo_service.features``) and geometries in EPSG:4326. Every write:

* is one transaction (a batch import is all-or-nothing);
* names the version it expects for updates and deletes (a stale one raises ``Conflict`` and changes
  nothing);
* appends a ``Change`` to the history (who, when, before, after, reason), so nothing is lost;
* bumps the layer's version, which in-process caches are keyed by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.catalog import Catalog

__all__ = ["Change", "Document", "Feature", "NewFeature", "Page", "Query", "Store"]


@dataclass(frozen=True)
class NewFeature:
    """A feature to be written: validated properties and a geometry (None for table layers)."""

    properties: Mapping[str, Any]
    geometry: BaseGeometry | None = None


@dataclass(frozen=True)
class Feature:
    """A stored feature, at one version."""

    layer: str
    id: int
    properties: Mapping[str, Any]
    geometry: BaseGeometry | None
    version: int


@dataclass(frozen=True)
class Change:
    """One entry of a layer's history.

    ``before`` and ``after`` are ``{"properties": {...}, "geometry": <GeoJSON>|None}`` or None (for a
    create's ``before`` and a delete's ``after``); values are JSON-ready (dates as ISO strings).
    """

    layer: str
    feature_id: int
    version: int
    op: str  # create | update | delete | restore
    actor: str
    at: dt.datetime
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The change as the history API and backups write it (its layer is said beside it)."""
        return {
            "feature": self.feature_id,
            "version": self.version,
            "op": self.op,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Document:
    """A stored JSON document (a plan, a rule set, workspace metadata); never overwritten."""

    kind: str
    key: str
    created_at: dt.datetime
    actor: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Query:
    """Which features to list.

    ``filters`` are equality tests on declared fields (values already coerced to the field type);
    ``at`` keeps features whose validity window holds that moment, ``during`` (start, end; None for
    an open end) those whose window meets that interval; ``bbox`` is (minx, miny, maxx, maxy) in
    EPSG:4326 and keeps features whose geometry intersects it.
    """

    bbox: tuple[float, float, float, float] | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    at: dt.datetime | None = None
    limit: int | None = None
    offset: int = 0
    during: tuple[dt.datetime | None, dt.datetime | None] | None = None

    def bbox_geometry(self) -> shapely.Geometry | None:
        """The box as the geometry features must intersect: a point or a line when it has no width or
        height (a collapsed polygon meets nothing in PostGIS, though it does in GEOS)."""
        if self.bbox is None:
            return None
        minx, miny, maxx, maxy = self.bbox
        if minx == maxx and miny == maxy:
            return shapely.Point(minx, miny)
        if minx == maxx or miny == maxy:
            return shapely.LineString([(minx, miny), (maxx, maxy)])
        return shapely.box(minx, miny, maxx, maxy)

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(from, to) the validity windows must meet: the moment ``at`` twice, or ``during``."""
        if self.during is not None:
            return self.during
        return self.at, self.at


@dataclass(frozen=True)
class Page:
    """One page of a listing, with the number of features matching the query in all."""

    features: Sequence[Feature]
    number_matched: int


@runtime_checkable
class Store(Protocol):
    """What the service asks of a store. The contract tests (tests/test_store_contract.py) hold both."""

    catalog: Catalog
    #: Names this workspace's count of versions: made when its tables are first made, never the same for
    #: two workspaces. A workspace deleted and made again counts its layers' versions from 0 again;
    #: validators (ETags) name the identity beside a version, so they never match another workspace's.
    identity: str

    def close(self) -> None: ...

    def exclusive(self, name: str) -> AbstractContextManager[object]:
        """A lock named ``name`` that one writer at a time holds, across threads and (PostGIS) across
        the service's processes: for a check and the write that depends on it."""
        ...

    def layer_version(self, layer: str) -> int:
        """A number that changes whenever the layer changes (caches are keyed by it)."""
        ...

    def layer_versions(self, layers: Sequence[str]) -> dict[str, int]:
        """:meth:`layer_version` of several layers, read in one query (one round trip to PostGIS)."""
        ...

    def count(self, layer: str) -> int: ...

    def list_features(self, layer: str, query: Query | None = None) -> Page: ...

    def get_feature(self, layer: str, fid: int) -> Feature:
        """The feature, or ``NotFound``."""
        ...

    def read_frame(self, layer: str) -> gpd.GeoDataFrame:
        """The whole layer as a GeoDataFrame (index = feature id, plus a ``_version`` column)."""
        ...

    def export_frame(self, layer: str) -> tuple[dt.datetime, gpd.GeoDataFrame]:
        """The whole layer as :meth:`read_frame` gives it, read at one moment, and that moment: every
        change its history records at or before the moment is in the frame, and none after it."""
        ...

    def create_features(
        self, layer: str, features: Sequence[NewFeature], *, actor: str, reason: str | None = None
    ) -> list[Feature]:
        """Insert all or none."""
        ...

    def update_feature(
        self,
        layer: str,
        fid: int,
        feature: NewFeature,
        *,
        expected_version: int,
        actor: str,
        reason: str | None = None,
    ) -> Feature:
        """Replace properties and geometry; ``Conflict`` if the version is stale."""
        ...

    def delete_feature(
        self, layer: str, fid: int, *, expected_version: int, actor: str, reason: str | None = None
    ) -> None: ...

    def restore_feature(self, layer: str, fid: int, *, actor: str, reason: str | None = None) -> Feature:
        """Bring back a deleted feature as it was before its deletion (a new version)."""
        ...

    def history(self, layer: str, fid: int | None = None, *, limit: int = 1000) -> list[Change]:
        """Changes, newest first."""
        ...

    def replace_layer(
        self,
        layer: str,
        features: Sequence[NewFeature],
        *,
        actor: str,
        reason: str | None = None,
        ids: Sequence[int | None] | None = None,
        expected: Mapping[int, int] | None = None,
        restore: bool = False,
        expected_layer_version: int | None = None,
    ) -> int:
        """Load a whole layer at once (demo, import), all or nothing; returns the number of features.
        ``expected``: id → the version the caller read; a feature taken over that is at another version
        now, or gone, is a ``Conflict`` (someone wrote it meanwhile), and nothing is written.

        ``ids`` (one per feature, ``None`` for a new one) lets features keep the ids they have: a feature
        whose id is stored now takes it over, as a new version of it (an ``update`` in its history, or
        nothing at all when it is unchanged). Every other stored feature is deleted (kept in history),
        and the other features are created with new ids. With ``restore``, an id of a deleted feature
        brings it back under that id (a ``restore`` in its history), as a layer put back to an earlier
        moment needs. ``expected_layer_version``: the layer's version when the caller read all of it;
        any write since (a feature created or deleted too) is a ``Conflict``, and nothing is written.
        ``reason`` (default "replace layer") is recorded for each change."""
        ...

    def put_document(self, kind: str, key: str, body: Mapping[str, Any], *, actor: str) -> None:
        """Keep a JSON document (a stored plan, a rule set); an existing key is refused (``Conflict``)."""
        ...

    def get_document(self, kind: str, key: str) -> Mapping[str, Any]: ...

    def list_documents(self, kind: str) -> list[tuple[str, dt.datetime, str]]:
        """(key, created_at, actor) of each document of a kind, newest first."""
        ...

    def all_documents(self) -> list[Document]:
        """Every document of every kind (for backups)."""
        ...

    def load_state(
        self,
        layers: Mapping[str, Sequence[Feature]],
        history: Sequence[Change],
        documents: Sequence[Document],
    ) -> None:
        """Fill an empty store from a backup, keeping feature ids, versions and history; all or nothing.

        Raises ``Conflict`` if the store already holds features, history or documents.
        """
        ...
