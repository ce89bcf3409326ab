"""A crew's vehicles by letter: A, B, C, … in the plan's order, and each stop labelled with its vehicle's
letter and its number on that vehicle (B12). The route page, the printable sheet and the GPX all name
vehicles and stops this way, so that a crew reads the same A1 on the phone, on paper and in a navigator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geo_service.errors import NotFound

__all__ = ["only_vehicle", "stop_label", "tag_vehicles", "vehicle_tag"]


def vehicle_tag(index: int) -> str:
    """The letter of a crew's ``index``-th vehicle (from 0): A … Z, then AA, AB …; with the stop's number
    after it (B12), a label no other stop of the crew has.

    Examples
    --------
    >>> vehicle_tag(0), vehicle_tag(2), vehicle_tag(26)
    ('A', 'C', 'AA')
    """
    return chr(65 + index) if index < 26 else chr(64 + index // 26) + chr(65 + index % 26)


def stop_label(tag: str, seq: int) -> str:
    """A stop's label: its vehicle's letter and its number on that vehicle (``B12``)."""
    return f"{tag}{seq}"


def tag_vehicles(vehicles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A crew's vehicles (in the plan's order), each with its letter as ``tag``."""
    return [{**v, "tag": vehicle_tag(i)} for i, v in enumerate(vehicles)]


def only_vehicle(tagged: Sequence[Mapping[str, Any]], crew: str, only: str | None) -> list[Mapping[str, Any]]:
    """All of ``tagged`` (``only`` None) or the one vehicle named ``only``, its letter kept; a 404 naming
    the crew's vehicles if it has none of that name."""
    if only is None:
        return list(tagged)
    found = [v for v in tagged if v["vehicle"] == only]
    if not found:
        names = [str(v["vehicle"]) for v in tagged]
        raise NotFound(
            f"班组「{crew}」没有车辆「{only}」（有：{'、'.join(names)}）",
            f"Crew '{crew}' has no vehicle '{only}' (vehicles: {', '.join(names)})",
            field="vehicle",
        )
    return found
