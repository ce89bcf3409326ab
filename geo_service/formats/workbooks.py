"""Opening an uploaded XLSX within bounds: the zip's expansion (see :mod:`geo_service.formats.archives`)
and the grid pandas makes of a sheet, which a file of a few KB could make billions of cells wide
(pandas pads every row to the widest one and keeps the empty rows between: one cell at row 200,000
and column 2,000 is 400 million)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import openpyxl
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from geo_service.errors import PayloadTooLarge
from geo_service.formats.archives import check_xlsx_zip
from geo_service.formats.common import file_error

__all__ = ["MOST_CELLS", "open_workbook", "span_guarded"]

#: The most cells (rows × columns, counting the empty ones pandas fills in between) a sheet may span:
#: 50,000 rows of 100 columns.
MOST_CELLS = 5_000_000


def open_workbook(data: bytes, *, max_bytes: int | None) -> Workbook:
    """The workbook of an XLSX upload, read only (its sheets are parsed as they are read); one that
    would expand beyond what the upload limit ``max_bytes`` allows is refused before any of it is
    inflated. The caller closes it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            check_xlsx_zip(zf, max_bytes=max_bytes)
    except zipfile.BadZipFile:
        pass  # not a zip at all: openpyxl says below that the file cannot be read
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise file_error(f"Excel 文件无法读取：{exc}", f"The Excel file cannot be read: {exc}") from None


class _SpanGuardedSheet(ReadOnlyWorksheet):
    """A read-only sheet whose rows, as pandas reads them, stop once the grid would pass
    :data:`MOST_CELLS` (each row's width is where its last cell is, as openpyxl pads it)."""

    @property
    def rows(self) -> Iterator[tuple[Any, ...]]:  # type: ignore[override]
        height = width = 0
        for k, row in enumerate(ReadOnlyWorksheet.rows.fget(self), start=1):  # type: ignore[attr-defined]
            if row:
                height, width = k, max(width, len(row))
                if height * width > MOST_CELLS:
                    raise PayloadTooLarge(
                        f"Excel 工作表「{self.title}」跨越至少 {height} 行 × {width} 列，超过上限 {MOST_CELLS} 个"
                        "单元格（空单元格也计算在内）；请删去远处的空行、空列或其中的格式，或分成几个文件上传",
                        f"Excel sheet '{self.title}' spans at least {height} rows × {width} columns, above the "
                        f"limit of {MOST_CELLS} cells (empty ones between included); delete far-away empty "
                        "rows and columns or their formatting, or upload several files",
                        field="file",
                    )
            yield row


def span_guarded(sheet: Any) -> Any:
    """``sheet`` (of a read-only workbook) made to refuse, while pandas reads it, a grid beyond
    :data:`MOST_CELLS`: pandas takes rows from ``sheet.rows``, and would otherwise have built the whole
    padded grid before anything could look at it."""
    if type(sheet) is ReadOnlyWorksheet:
        sheet.__class__ = _SpanGuardedSheet
    return sheet
