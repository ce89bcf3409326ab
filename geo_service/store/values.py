"""Conversions between field values and their stored and JSON forms, shared by the stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geo_service.catalog import FieldSpec, LayerSpec
from geo_service.store.base import NewFeature

__all__ = ["from_snapshot", "from_storage", "json_value", "snapshot", "to_storage"]

_TZ = ZoneInfo("Asia/Shanghai")


def to_storage(field: FieldSpec, value: Any) -> Any:
    """The SQLite/GeoPackage form: dates and times as ISO text (+08:00), booleans as 0/1."""
    if value is None:
        return None
    if field.type == "boolean":
        return int(bool(value))
    if field.type == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if field.type == "datetime":
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_TZ)
            return value.astimezone(_TZ).isoformat()
        return str(value)
    return value


def from_storage(field: FieldSpec, value: Any) -> Any:
    """Back from the stored form to the field's Python type."""
    if value is None:
        return None
    if field.type == "boolean":
        return bool(value)
    if field.type == "integer":
        return int(value)
    if field.type == "number":
        return float(value)
    if field.type == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if field.type == "datetime":
        out = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        if out.tzinfo is None:
            out = out.replace(tzinfo=_TZ)
        return out.astimezone(_TZ)
    return value


def json_value(value: Any) -> Any:
    """A property value as JSON: dates and times in ISO 8601."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def snapshot(spec: LayerSpec, properties: Mapping[str, Any], geometry: BaseGeometry | None) -> dict[str, Any]:
    """A JSON-ready copy of a feature state for the history."""
    return {
        "properties": {f.name: json_value(properties.get(f.name)) for f in spec.fields},
        "geometry": None if geometry is None else mapping(geometry),
    }


def from_snapshot(spec: LayerSpec, state: Mapping[str, Any]) -> NewFeature:
    """Rebuild a feature from a history snapshot."""
    props = {f.name: from_storage(f, state["properties"].get(f.name)) for f in spec.fields}
    geom = state.get("geometry")
    return NewFeature(props, None if geom is None else shapely.force_2d(shape(geom)))
