"""Helpers shared by the readers: errors about the file, header matching, text decoding."""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo_service.catalog import LayerSpec
from geo_service.errors import InvalidInput

__all__ = ["MAX_JSON_DEPTH", "decode_text", "file_error", "header_labels", "json_too_deep", "rename_columns"]


def file_error(zh: str, en: str, **where: Any) -> InvalidInput:
    """An :class:`InvalidInput` about the uploaded file (``field="file"`` unless a column is named)."""
    return InvalidInput(zh, en, field=where.pop("field", "file"), **where)


def header_labels(spec: LayerSpec) -> dict[str, str]:
    """Lower-case header → field name, for each field's name and Chinese and English titles."""
    out: dict[str, str] = {}
    for f in spec.fields:
        for label in (f.title.get("en"), f.title.get("zh"), f.name):  # the name wins over a clashing title
            if label:
                out[str(label).strip().lower()] = f.name
    return out


def rename_columns(frame: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    """Headers that name a field, or its Chinese or English title, renamed to the field's name.

    Matching ignores case and surrounding spaces (``名称``, ``Name`` and `` name `` → ``name``).
    Other headers are kept as they are so that the caller can refuse them by name.
    """
    labels = header_labels(spec)
    geometry = getattr(frame, "_geometry_column_name", None)
    renames = {
        c: labels[str(c).strip().lower()]
        for c in frame.columns
        if c != geometry and str(c).strip().lower() in labels
    }
    if "feature_id" in frame.columns and "feature_id" not in spec.field_names:
        renames["feature_id"] = "fid"  # our own GeoPackage export, read back
    targets: dict[str, list[str]] = {}
    for column in frame.columns:
        targets.setdefault(renames.get(column, str(column)), []).append(str(column))
    for name, columns in targets.items():
        if len(columns) > 1:  # 名称 and name both given: which one is meant is not for us to guess
            raise file_error(
                f"列 {'、'.join(columns)} 都是字段 {name}，请只保留一列",
                f"Columns {', '.join(columns)} all mean field '{name}'; keep one of them",
                field=name,
            )
    return frame.rename(columns=renames)


MAX_JSON_DEPTH = 64  # GeoJSON needs 6 levels (a multipolygon's coordinates); nothing here needs 64


def json_too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests lists and objects more than ``limit`` deep (walked without recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((x, depth + 1) for x in children if isinstance(x, dict | list))  # no scalars
    return False


def decode_text(data: bytes) -> str:
    """Text of a file in UTF-8 (with or without BOM) or GBK (read as its superset GB 18030)."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise file_error(
        "文本文件编码无法识别（支持 UTF-8 与 GBK）", "Text encoding not recognised (UTF-8 or GBK)"
    )
