"""Helpers shared by the readers: errors about the file, header matching, text decoding."""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo_service.catalog import LayerSpec
from geo_service.errors import InvalidInput

__all__ = [
    "MAX_JSON_DEPTH",
    "decode_text",
    "file_error",
    "header_labels",
    "is_blank",
    "json_too_deep",
    "rename_columns",
]


def file_error(zh: str, en: str, **where: Any) -> InvalidInput:
    """An :class:`InvalidInput` about the uploaded file (``field="file"`` unless a column is named)."""
    return InvalidInput(zh, en, field=where.pop("field", "file"), **where)


def header_labels(spec: LayerSpec) -> dict[str, str]:
    """Lower-case header → field name, for each field's name, Chinese and English titles and aliases."""
    return {k: name for k, (name, _) in _header_ranks(spec).items()}


def _header_ranks(spec: LayerSpec) -> dict[str, tuple[str, int]]:
    """Lower-case header → (field name, rank): 0 for a name or title, 1 + k for the field's k-th alias."""
    out: dict[str, tuple[str, int]] = {}
    for f in spec.fields:  # aliases first: a name or title wins over a clashing alias
        for k, alias in enumerate(f.aliases):
            out.setdefault(alias.strip().lower(), (f.name, 1 + k))
    for f in spec.fields:
        for label in (f.title.get("en"), f.title.get("zh"), f.name):  # the name wins over a clashing title
            if label:
                out[str(label).strip().lower()] = (f.name, 0)
    return out


def rename_columns(frame: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    """Headers that name a field, or its Chinese or English title, or one of its aliases, renamed to
    the field's name.

    Matching ignores case and surrounding spaces (``名称``, ``Name`` and `` name `` → ``name``).
    Where several aliases of one field are given (受理时间 and 来电时间), the first the declaration
    lists is taken and a name or title wins over them all; the others keep their headers. Other
    headers are kept as they are so that the caller can refuse them by name.
    """
    ranks = _header_ranks(spec)
    geometry = getattr(frame, "_geometry_column_name", None)
    found = {
        c: ranks[str(c).strip().lower()]
        for c in frame.columns
        if c != geometry and str(c).strip().lower() in ranks
    }
    best: dict[str, int] = {}
    for name, rank in found.values():
        best[name] = min(rank, best.get(name, rank))
    renames = {c: name for c, (name, rank) in found.items() if rank == best[name]}
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


def is_blank(value: Any) -> bool:
    """An empty cell: None, NaN/NaT or text of spaces only (full-width ones too)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
