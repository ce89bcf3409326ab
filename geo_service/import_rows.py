"""The rows of an imported file as the import speaks of them: their numbers (a sheet's as a spreadsheet
shows them, other files' features by their place), the id and version columns read row by row, and
the one refusal of a file that names every failing row (see :mod:`geo_service.imports`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo_service.catalog import LayerSpec
from geo_service.errors import InvalidInput

__all__ = ["MAX_ROWS_REPORTED", "RowNumbers", "import_refusal", "whole_numbers"]

#: at most this many failing rows are described one by one in an import's refusal (all are counted)
MAX_ROWS_REPORTED = 1000


@dataclass(frozen=True)
class RowNumbers:
    """The number each row of a file goes by, and how it is said.

    A CSV or XLSX sheet's rows are numbered as a spreadsheet shows them: the header is row 1 (and an
    XLSX's title rows above it count too), so the first row of data is row 2 or later, and an empty
    line keeps its number. Files without such rows (GeoJSON, GeoPackage, Shapefile, a frame) number
    their features by their place in the file, the first being 1, and say "feature" for "row".
    """

    numbers: tuple[int, ...]
    sheet: bool = False

    @classmethod
    def of(cls, sheet_rows: Sequence[int] | None, count: int) -> RowNumbers:
        """The sheet's row numbers, or (None) places 1 … ``count``."""
        if sheet_rows is None:
            return cls(tuple(range(1, count + 1)))
        return cls(tuple(int(n) for n in sheet_rows), sheet=True)

    def zh(self, n: int) -> str:
        return f"第 {n} 行" if self.sheet else f"第 {n} 个要素"

    def en(self, n: int) -> str:
        return f"row {n}" if self.sheet else f"feature {n}"

    def label(self, n: int) -> str:
        """The ``feature`` an error about row ``n`` names (``row 3``, ``feature 3``)."""
        return self.en(n)


def whole_numbers(
    frame: pd.DataFrame,
    column: str,
    layer: str,
    places: RowNumbers,
    problems: dict[int, list[InvalidInput]],
    *,
    unique: bool,
) -> list[int | None] | None:
    """The whole numbers above 0 of a file's ``column`` (``fid``, ``_version``) per row (``None`` where
    blank), or None without the column; another value, or with ``unique`` one given twice, is its row's
    problem (keyed by the row's number in ``places``)."""
    if column not in frame.columns:
        return None
    out: list[int | None] = []
    first: dict[int, int] = {}  # number → the row that gives it first
    for n, raw in zip(places.numbers, frame[column].tolist(), strict=True):
        value: int | None = None
        if not pd.isna(raw) and str(raw).strip() != "":
            try:
                number = float(str(raw).strip())
            except ValueError:
                number = float("nan")
            if isinstance(raw, bool) or not (number.is_integer() and 0 < number < 2**63):
                blank = "（或留空，作为新要素）" if column == "fid" else ""
                blank_en = " (or blank for a new feature)" if column == "fid" else ""
                problems.setdefault(n, []).append(
                    InvalidInput(
                        f"{column}「{raw}」应为正整数{blank}",
                        f"{column} '{raw}' must be a whole number above 0{blank_en}",
                        layer=layer,
                        feature=places.label(n),
                        field=column,
                    )
                )
            elif unique and int(number) in first:
                earlier = first[int(number)]
                problems.setdefault(n, []).append(
                    InvalidInput(
                        f"{column} {int(number)} 与{places.zh(earlier)}重复",
                        f"{column} {int(number)} is also given in {places.en(earlier)}",
                        layer=layer,
                        feature=places.label(n),
                        field=column,
                    )
                )
            else:
                value = int(number)
                first[value] = n
        out.append(value)
    return out


def import_refusal(
    spec: LayerSpec,
    problems: Mapping[int, Sequence[InvalidInput]],
    places: RowNumbers,
    *,
    summary: tuple[str, str] | None = None,
) -> InvalidInput:
    """One refusal naming every failing row of a file: for each, what is wrong (zh/en), the fields and
    siting rules at fault, and the violations with their conflict geometry. ``summary`` (zh, en), when
    one sentence says what is wrong with them all, stands instead of the first row's problem."""
    numbers = sorted(problems)
    described: list[dict[str, Any]] = []
    for n in numbers[:MAX_ROWS_REPORTED]:
        errors = problems[n]
        violations = [{**v, "row": n} for e in errors for v in e.details.get("violations", ())]
        unchecked = [{**u, "row": n} for e in errors for u in e.details.get("unchecked", ())]
        described.append(
            {
                "row": n,
                "feature": places.label(n),
                "fields": sorted({e.field for e in errors if e.field}),
                "rules": list(
                    dict.fromkeys([*(v["rule"] for v in violations), *(u["rule"] for u in unchecked)])
                ),
                "errors": [{"field": e.field, "detail_zh": e.zh, "detail_en": e.en} for e in errors],
                "violations": violations,
                "unchecked": unchecked,
            }
        )
    more = "…" if len(numbers) > 20 else ""
    shown, shown_en = "、".join(map(str, numbers[:20])) + more, ", ".join(map(str, numbers[:20])) + more
    first = problems[numbers[0]][0]
    # an override helps only rows whose every problem is a siting rule (not a bad value, not a site in
    # the wrong district or outside the city): the hint names those rows' rules
    excused = {
        n
        for n in numbers[:MAX_ROWS_REPORTED]
        if all(e.details.get("violations") or e.details.get("unchecked") for e in problems[n])
    }
    rules = sorted({str(r) for d in described if d["row"] in excused for r in d["rules"]})
    hint_zh = hint_en = ""
    if rules and spec.siting:
        hint_zh = f"；如属已批准的例外，可带 override={','.join(rules)} 与理由 reason 重新导入"
        hint_en = (
            f"; if these are approved exceptions, import again with override={','.join(rules)} and a reason"
        )
    total, failed = len(places.numbers), len(numbers)
    if places.sheet:
        head_zh = f"文件的 {total} 行数据中有 {failed} 行不能导入（第 {shown} 行，即表格软件显示的行号），整个文件未导入"
        head_en = (
            f"{failed} of the file's {total} data rows cannot be imported ({'rows' if failed > 1 else 'row'} "
            f"{shown_en}, as a spreadsheet numbers them); nothing was imported"
        )
    else:
        head_zh = f"文件的 {total} 个要素中有 {failed} 个不能导入（第 {shown} 个要素，按在文件中的先后），整个文件未导入"
        head_en = (
            f"{failed} of the file's {total} features cannot be imported ({'features' if failed > 1 else 'feature'} "
            f"{shown_en}, by their place in the file); nothing was imported"
        )
    n0 = numbers[0]
    zh, en = summary or (f"{places.zh(n0)}：{first.zh}", f"{places.en(n0).capitalize()}: {first.en}")
    return InvalidInput(
        f"{head_zh}；{zh}{hint_zh}",
        f"{head_en}. {en}{hint_en}",
        layer=spec.name,
        feature=places.label(n0),
        field=first.field,
        details={
            "failed_rows": failed,
            "rows": described,
            "rows_left_out": max(failed - MAX_ROWS_REPORTED, 0),
            "violations": [v for d in described for v in d["violations"]],
            "unchecked": [u for d in described for u in d["unchecked"]],
        },
    )
