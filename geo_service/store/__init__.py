"""Persistence behind one protocol (:class:`geo_service.store.base.Store`).

``open_store`` picks the embedded GeoPackage store, or PostGIS when ``GEO_DATABASE_URL`` is set.
"""

from __future__ import annotations

from geo_service.catalog import Catalog
from geo_service.settings import Settings
from geo_service.store.base import Change, Feature, NewFeature, Page, Query, Store

__all__ = ["Change", "Feature", "NewFeature", "Page", "Query", "Store", "open_store"]


def open_store(settings: Settings, catalog: Catalog) -> Store:
    """Open the store the settings name (creating empty layers for every declaration)."""
    if settings.database_url:
        from geo_service.store.postgis import PostGISStore

        return PostGISStore(settings.database_url, catalog)
    from geo_service.store.gpkg import GeoPackageStore

    return GeoPackageStore(settings.workspace, catalog)
