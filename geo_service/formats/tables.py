"""CSV and XLSX: coordinates from lon/lat (经度/纬度 …) or WKT columns, headers mapped to fields."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.catalog import LayerSpec
from geo_service.crs import parse_crs, to_wgs84
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.formats.cells import unquoted_table
from geo_service.formats.common import decode_text, file_error, header_labels, rename_columns
from geo_service.formats.day_and_clock import join_day_and_clock
from geo_service.formats.workbooks import open_workbook, span_guarded

__all__ = [
    "LAT_NAMES",
    "LON_NAMES",
    "WKT_NAMES",
    "SheetRows",
    "csv_rows",
    "read_csv",
    "read_xlsx",
    "xlsx_rows",
]

#: Headers (case-insensitive, full-width letters as ASCII) taken as longitude, latitude or WKT
#: geometry columns. X and Y (X坐标, 横坐标, ArcGIS's POINT_X …) are east and north, as GIS and
#: 数字城管 exports write them: longitude and latitude in degrees, or easting and northing in the
#: projected CRS the upload names (metres with no such CRS are refused, see :func:`_metres_as_degrees`).
LON_NAMES = (
    *("lon", "lng", "long", "longitude", "x", "经度", "东经", "经度(e)", "经度（e）"),
    *("x坐标", "坐标x", "横坐标", "东坐标", "point_x"),
)
LAT_NAMES = (
    *("lat", "latitude", "y", "纬度", "北纬", "纬度(n)", "纬度（n）"),
    *("y坐标", "坐标y", "纵坐标", "北坐标", "point_y"),
)
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "几何", "坐标串")


def _header_key(header: Any) -> str:
    """A header as the names above are written: NFKC (Ｘ坐标 → X坐标), trimmed, lower-case."""
    return unicodedata.normalize("NFKC", str(header)).strip().lower()


def _find_column(table: pd.DataFrame, names: tuple[str, ...]) -> Any:
    lower = {_header_key(c): c for c in table.columns}
    return next((lower[n] for n in names if n in lower), None)


@dataclass(frozen=True)
class SheetRows:
    """The rows of a sheet read leniently: a row whose location cannot be read is kept, with no
    geometry, and said why, so that the caller can answer for that row alone."""

    frame: gpd.GeoDataFrame
    rows: tuple[int, ...] | None  # the spreadsheet row of each frame row (header: row 1); None: not a sheet
    problems: tuple[tuple[str, str] | None, ...]  # per row: why its location was not read (zh, en)


def _numbers(
    table: pd.DataFrame,
    column: Any,
    rows: np.ndarray,
    problems: list[list[tuple[str, str]]] | None,
    *,
    decimal_comma: bool = False,
) -> np.ndarray:
    """The column as numbers; a blank or text cell raises naming its row, or with ``problems`` (per
    row) is noted there and read as NaN. Text is read as a Chinese input method may type it:
    full-width digits, point and minus (１１３．２４, －３), a minus sign (−); ``decimal_comma``: with
    a comma as the decimal mark too (113,24), as Excel writes numbers where it separates CSV cells
    with semicolons."""
    cells = _half_width(table[column])
    if decimal_comma:
        cells = cells.map(
            lambda v: v.replace(",", ".") if isinstance(v, str) and _DECIMAL_COMMA.fullmatch(v) else v,
            na_action="ignore",
        )
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    for i in np.flatnonzero(bad):
        raw = table[column].iloc[i]
        missing = raw is None or (isinstance(raw, float) and np.isnan(raw)) or str(raw).strip() == ""
        what_zh, what_en = (
            ("为空", "is empty")
            if missing
            else (f"「{str(raw)[:40]}」不是数值", f"'{str(raw)[:40]}' is not a number")
        )
        if problems is None:
            raise file_error(
                f"第 {rows[i]} 行「{column}」列{what_zh}",
                f"Row {rows[i]}, column '{column}': {what_en}",
                feature=f"row {rows[i]}",
                field=str(column),
            )
        problems[i].append(
            (f"「{column}」列{what_zh}", f"column '{column}'{'' if missing else ':'} {what_en}")
        )
    return values


_DECIMAL_COMMA = re.compile(r"\s*[-+]?\d+,\d+\s*")  # 113,24; not 1,234.5 nor 1,234,567


def _half_width(column: pd.Series) -> pd.Series:
    """Text cells with full-width characters folded to ASCII (NFKC: １１３．２４ → 113.24, － → -)
    and the minus sign (U+2212) to a hyphen-minus; numbers and blanks as they are."""
    text = column.map(lambda v: isinstance(v, str) and not v.isascii(), na_action="ignore")
    wide = text.fillna(False).astype(bool).to_numpy()
    if not wide.any():
        return column
    out = column.astype(object).copy()
    out[wide] = [unicodedata.normalize("NFKC", v).replace("\u2212", "-") for v in column[wide]]
    return out


def _table_to_frame(
    table: pd.DataFrame,
    spec: LayerSpec,
    source_crs: Any,
    *,
    first_row: int,
    lenient: bool = False,
    decimal_comma: bool = False,
) -> SheetRows:
    """Rows of a CSV/XLSX sheet: coordinates from lon/lat or WKT columns, other headers mapped to fields.

    ``first_row`` is the spreadsheet row number of the first data row (2, after the header). A row
    whose coordinates cannot be read raises naming it, or, ``lenient``, is kept without geometry and
    said why in :attr:`SheetRows.problems`; a table with no coordinate columns raises either way.
    ``decimal_comma``: coordinates may be written with a decimal comma (a semicolon-separated CSV).
    """
    table = table.dropna(how="all")
    table.columns = [str(c).strip() for c in table.columns]
    table = join_day_and_clock(table, spec)  # 受理日期 + 受理时刻: one report time
    rows = table.index.to_numpy() + first_row
    table = table.reset_index(drop=True)
    numbers = tuple(int(r) for r in rows)
    if spec.is_table:
        return SheetRows(gpd.GeoDataFrame(rename_columns(table, spec)), numbers, (None,) * len(rows))
    lon_col, lat_col = _find_column(table, LON_NAMES), _find_column(table, LAT_NAMES)
    wkt_col = _find_column(table, WKT_NAMES)
    problems: list[list[tuple[str, str]]] | None = [[] for _ in rows] if lenient else None
    if lon_col is not None and lat_col is not None:
        lon = _numbers(table, lon_col, rows, problems, decimal_comma=decimal_comma)
        lat = _numbers(table, lat_col, rows, problems, decimal_comma=decimal_comma)
        _metres_as_degrees(table, (lon_col, lat_col), lon, lat, rows, source_crs)
        geoms = shapely.points(lon, lat)
        geoms[~(np.isfinite(lon) & np.isfinite(lat))] = None
        rest = table.drop(columns=[lon_col, lat_col])
    elif wkt_col is not None:
        geoms = _wkt(table[wkt_col], wkt_col, rows, problems)
        rest = table.drop(columns=[wkt_col])
    else:
        raise file_error(
            f"表格中没有坐标列：需要经度、纬度两列（{'/'.join(LON_NAMES[:4])}/经度/X坐标，"
            f"{'/'.join(LAT_NAMES[:3])}/纬度/Y坐标）或 WKT 列；现有列：{', '.join(table.columns)}",
            f"The table has no coordinate columns: it needs longitude and latitude columns "
            f"({', '.join(LON_NAMES[:4])}, 经度, X坐标 / {', '.join(LAT_NAMES[:3])}, 纬度, Y坐标) or a WKT "
            f"column; columns found: {', '.join(table.columns)}",
        )
    frame = gpd.GeoDataFrame(rename_columns(rest, spec), geometry=geoms, crs="EPSG:4326")
    said = (None,) * len(rows) if problems is None else tuple(_joined(p) for p in problems)
    return SheetRows(to_wgs84(frame, source_crs), numbers, said)


def _metres_as_degrees(
    table: pd.DataFrame,
    columns: tuple[Any, Any],
    x: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    source_crs: Any,
) -> None:
    """Refuse the table when every position read is in projected metres (X 430806.51, Y 3899264.94 in Jiaozuo)
    while the upload says degrees (WGS 84, CGCS2000 lon/lat, GCJ-02, BD-09). Which grid they are in
    (CGCS2000 Gauss–Krüger with or without its zone number, a city's own grid, a surveyor's X north)
    is not guessed: a wrong guess would put every case somewhere else without a word. The
    dispatcher names it with ``crs`` and uploads again. One mistyped row among degrees stays that
    row's error."""
    if not parse_crs(source_crs).is_geographic:
        return
    read = np.isfinite(x) & np.isfinite(y)
    with np.errstate(invalid="ignore"):
        metres = read & (np.abs(x) >= 1000) & (np.abs(y) >= 1000)
    if not read.any() or (metres != read).any():
        return
    i = int(np.flatnonzero(read)[0])
    x_col, y_col = columns
    x_raw, y_raw = (str(table[c].iloc[i]).strip()[:20] for c in columns)
    raise file_error(
        f"「{x_col}」「{y_col}」列是以米为单位的平面坐标（如第 {rows[i]} 行：{x_raw}, {y_raw}），不是经纬度；"
        "请用 crs 写明它们的坐标系后重新上传（如 CGCS2000 3 度带、中央经线 114°E：EPSG:4547；"
        "X 为东、Y 为北），或改填经纬度",
        f"Columns '{x_col}' and '{y_col}' hold projected coordinates in metres (row {rows[i]}: {x_raw}, "
        f"{y_raw}), not longitude and latitude; name their coordinate system with crs and upload again "
        "(e.g. EPSG:4547, CGCS2000 3-degree Gauss-Kruger CM 114E; X east, Y north), or give longitude "
        "and latitude",
        field="crs",
    )


def _joined(problems: list[tuple[str, str]]) -> tuple[str, str] | None:
    if not problems:
        return None
    return "；".join(zh for zh, _ in problems), "; ".join(en for _, en in problems)


def _wkt(
    values: pd.Series, column: Any, rows: np.ndarray, problems: list[list[tuple[str, str]]] | None
) -> np.ndarray:
    text = values.astype(object).where(values.notna(), None).to_numpy()
    geoms = shapely.from_wkt(text, on_invalid="ignore")
    for i in np.flatnonzero(shapely.is_missing(geoms)):
        if problems is None:
            raise file_error(
                f"第 {rows[i]} 行「{column}」列不是有效的 WKT：{str(text[i])[:40]}",
                f"Row {rows[i]}, column '{column}' is not valid WKT: {str(text[i])[:40]}",
                feature=f"row {rows[i]}",
                field=str(column),
            )
        if text[i] is None or not str(text[i]).strip():
            problems[i].append((f"「{column}」列为空", f"column '{column}' is empty"))
        else:
            shown = str(text[i])[:40]
            problems[i].append(
                (f"「{column}」列不是有效的 WKT：{shown}", f"column '{column}' is not valid WKT: {shown}")
            )
    return geoms


def read_csv(data: bytes, *, spec: LayerSpec, source_crs: Any) -> gpd.GeoDataFrame:
    """A CSV (comma-, semicolon- or tab-separated; UTF-8, UTF-8 with BOM or GBK) as a frame in
    EPSG:4326. Semicolons are how Excel separates cells where the decimal mark is a comma: there
    coordinates may be written 113,24."""
    return csv_rows(data, spec=spec, source_crs=source_crs).frame


def csv_rows(data: bytes, *, spec: LayerSpec, source_crs: Any, lenient: bool = False) -> SheetRows:
    """:func:`read_csv` with each row's spreadsheet number; ``lenient``: see :func:`_table_to_frame`."""
    text = decode_text(data)
    # the header is looked for in the top rows, as in a workbook: a 12345 export saved as CSV keeps its
    # title row above it. The lines above the header (blank ones too) still count in the rows'
    # numbers, as Excel shows them
    lines = text.split("\n")
    skipped, records, sep = _csv_header(text, spec)
    text = "\n".join(lines[skipped:])
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            skip_blank_lines=False,  # an empty line keeps its row number (the rows after it are as Excel shows)
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise file_error(f"CSV 无法解析：{exc}", f"The CSV cannot be parsed: {exc}") from None
    table = unquoted_table(table)  # our exports' '=… back to =… (see geo_service.formats.cells)
    return _table_to_frame(
        table, spec, source_crs, first_row=2 + records, lenient=lenient, decimal_comma=sep == ";"
    )


def _csv_header(text: str, spec: LayerSpec) -> tuple[int, int, str]:
    """Where a CSV's header is: (the lines above it, the rows above it as a spreadsheet counts them,
    the separator). The first of the top ten rows holding a header the layer takes (see
    :func:`_header_at`), comma-, else semicolon-, else tab-separated; without one, the first line
    that is not blank, separated by whichever of the three it has most of, commas when none (the
    table is then refused naming the columns it has)."""
    for sep in _SEPARATORS:
        reader = csv.reader(io.StringIO(text), delimiter=sep)
        cells: list[list[str]] = []
        starts = [0]  # the lines read before each row (a quoted cell may span lines)
        try:
            for row in reader:
                cells.append(row)
                starts.append(reader.line_num)
                if len(cells) == _HEADER_SEARCH_ROWS:
                    break
        except csv.Error:  # a damaged file: pandas says what is wrong with it below
            continue
        at = _header_at(cells, spec)
        if at is not None:
            return starts[at], at, sep
    lines = text.split("\n")
    skipped = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    head = lines[skipped] if skipped < len(lines) else ""
    return skipped, skipped, max(_SEPARATORS, key=head.count)  # the first of equals: a comma


_SEPARATORS = (",", ";", "\t")
_HEADER_SEARCH_ROWS = 10


def _sheet_with_header(book: Any, spec: LayerSpec) -> str | None:
    """The first sheet whose top rows hold a header the layer takes (a 12345 export may put a sheet
    of notes before the cases), or None."""
    for sheet in book.worksheets:
        top = [list(r) for r in sheet.iter_rows(max_row=_HEADER_SEARCH_ROWS, values_only=True)]
        if _header_at(top, spec) is not None:
            return str(sheet.title)
    return None


def _header_at(rows: list[list[Any]], spec: LayerSpec) -> int | None:
    """The first of ``rows`` (a sheet's top rows, as cells) holding a header the layer takes: a
    coordinate column (or, for a table layer, a field name or title), or None."""
    wanted = set(header_labels(spec)) if spec.is_table else {*LON_NAMES, *LAT_NAMES, *WKT_NAMES}
    for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        said = [v for v in row if v is not None and v == v]
        cells = {str(v).strip().lower() for v in said} | {_header_key(v) for v in said}
        if cells & wanted:
            return i
    return None


def read_xlsx(
    data: bytes, *, spec: LayerSpec, source_crs: Any, max_bytes: int | None = None
) -> gpd.GeoDataFrame:
    """The sheet named after the layer (else the first whose top rows hold a header the layer takes,
    else the first sheet) of an XLSX workbook as a frame in EPSG:4326.

    The header is the first of the top ten rows that holds coordinate headers (or, for a table
    layer, a field name or title), so that a title row above the table does no harm. A workbook that
    would expand beyond what the upload limit ``max_bytes`` allows, or a sheet that spans more than
    :data:`~geo_service.formats.workbooks.MOST_CELLS` cells, is refused (:class:`PayloadTooLarge`).
    """
    return xlsx_rows(data, spec=spec, source_crs=source_crs, max_bytes=max_bytes).frame


def xlsx_rows(
    data: bytes, *, spec: LayerSpec, source_crs: Any, lenient: bool = False, max_bytes: int | None = None
) -> SheetRows:
    """:func:`read_xlsx` with each row's spreadsheet number; ``lenient``: see :func:`_table_to_frame`."""
    book = open_workbook(data, max_bytes=max_bytes)
    try:
        titles = [sheet.title for sheet in book.worksheets]
        if not titles:
            raise file_error("Excel 文件中没有工作表", "The Excel file holds no worksheet")
        names = [spec.name, spec.title.get("zh"), spec.title.get("en")]
        title = next((n for n in names if n in titles), None) or _sheet_with_header(book, spec) or titles[0]
        span_guarded(book[title])  # only this sheet is read, and not beyond MOST_CELLS
        grid = pd.read_excel(book, sheet_name=title, header=None, dtype=object, engine="openpyxl")
    except (PayloadTooLarge, InvalidInput):
        raise
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise file_error(f"Excel 文件无法读取：{exc}", f"The Excel file cannot be read: {exc}") from None
    finally:
        book.close()
    if grid.empty:
        raise file_error("Excel 工作表为空", "The Excel sheet is empty")
    grid = unquoted_table(grid)  # '=… typed or saved from our CSV export back to =…
    at = _header_at([list(grid.iloc[i]) for i in range(min(_HEADER_SEARCH_ROWS, len(grid)))], spec) or 0
    header = [
        str(v).strip() if v is not None and v == v else f"column {k + 1}" for k, v in enumerate(grid.iloc[at])
    ]
    table = grid.iloc[at + 1 :].set_axis(header, axis=1).reset_index(drop=True)
    return _table_to_frame(table, spec, source_crs, first_row=at + 2, lenient=lenient)
