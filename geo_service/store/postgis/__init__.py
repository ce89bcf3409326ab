"""The production store: PostGIS through SQLAlchemy 2, GeoAlchemy2 and psycopg 3.

:class:`PostGISStore` implements :class:`geo_service.store.base.Store`; :mod:`.schema` describes the
tables (service tables from Alembic migrations, one table per declared layer) and :mod:`.bulk` the
COPY path for large batches.
"""

from geo_service.store.postgis.store import PostGISStore

__all__ = ["PostGISStore"]
