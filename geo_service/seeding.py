"""Fill a store from frames: the demo workspace, or a restore of exported layers."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from geo_service.errors import Conflict
from geo_service.store.base import NewFeature, Store

__all__ = ["load_demo", "load_frames"]


def load_frames(store: Store, frames: Mapping[str, pd.DataFrame], *, actor: str) -> dict[str, int]:
    """Replace each named layer with the rows of its frame (validated against the declaration)."""
    counts: dict[str, int] = {}
    for layer, frame in frames.items():
        spec = store.catalog[layer]
        cols = [f.name for f in spec.fields if f.name in frame.columns]
        records = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
        geoms = list(frame.geometry) if isinstance(frame, gpd.GeoDataFrame) and not spec.is_table else None
        news = []
        for i, props in enumerate(records):
            news.append(
                NewFeature(spec.validate_properties(props, feature=i), None if geoms is None else geoms[i])
            )
        counts[layer] = store.replace_layer(layer, news, actor=actor)
    return counts


def load_demo(store: Store, *, seed: int = 2027, actor: str = "demo") -> dict[str, int]:
    """Write the generated Jiaozuo demo workspace (illustrative, not surveyed) into ``store``."""
    from geo_service.demo import DEMO_METADATA, build_demo

    counts = load_frames(store, build_demo(seed=seed), actor=actor)
    meta: dict[str, Any] = {**DEMO_METADATA, "seed": seed, "counts": counts}
    with contextlib.suppress(Conflict):  # the metadata of an earlier demo load stays: never overwritten
        store.put_document("workspace", "metadata", meta, actor=actor)
    return counts
