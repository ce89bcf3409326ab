"""Reading uploaded files into frames, and writing layers out.

Read: GeoJSON, GeoPackage, zipped Shapefile (with its .prj and .cpg, GBK included), CSV (UTF-8, UTF-8
with BOM, GBK) and XLSX with lon/lat columns (经度/纬度 and friends). Column headers are matched to
field names by name or by the field's Chinese/English title (名称 → name, 摊位数 → capacity).
Write: GeoJSON (RFC 7946), GeoPackage, CSV (UTF-8 with BOM so that Excel shows Chinese).
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import mapping

from geo_service.catalog import LayerSpec
from geo_service.crs import to_wgs84
from geo_service.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat
from geo_service.store.values import json_value

__all__ = ["read_features", "write_features", "write_workspace"]

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "经度(e)", "经度e")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "纬度(n)", "纬度n")


def _kind(filename: str, data: bytes) -> str:
    name = filename.lower()
    if data[:4] == b"PK\x03\x04":
        return "xlsx" if name.endswith((".xlsx", ".xlsm")) else "zip"
    if data[:16].startswith(b"SQLite format 3"):
        return "gpkg"
    for ext, kind in ((".geojson", "geojson"), (".json", "geojson"), (".csv", "csv"), (".txt", "csv"),
                      (".gpkg", "gpkg"), (".zip", "zip"), (".xlsx", "xlsx")):
        if name.endswith(ext):
            return kind
    head = data[:200].lstrip()
    if head.startswith((b"{", b"[")):
        return "geojson"
    raise UnsupportedFormat(f"无法识别文件「{filename}」的格式；支持 GeoJSON、GeoPackage、Shapefile(zip)、CSV、XLSX",
                            f"Unknown format of '{filename}'; supported: GeoJSON, GeoPackage, zipped Shapefile, CSV, "
                            "XLSX", field="file")


def _header_map(spec: LayerSpec) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in spec.fields:
        for label in (f.name, f.title.get("zh"), f.title.get("en")):
            if label:
                out[str(label).strip().lower()] = f.name
    return out


def _rename(frame: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    mapping_ = _header_map(spec)
    renames = {c: mapping_[str(c).strip().lower()] for c in frame.columns
               if str(c).strip().lower() in mapping_ and c != "geometry"}
    return frame.rename(columns=renames)


def _decode_text(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("文本文件编码无法识别（支持 UTF-8 与 GBK）", "Text encoding not recognised (UTF-8 or GBK)",
                       field="file")


def _table_to_frame(table: pd.DataFrame, spec: LayerSpec, source_crs: Any) -> gpd.GeoDataFrame:
    table = table.dropna(how="all")
    if spec.is_table:
        return gpd.GeoDataFrame(_rename(table, spec))
    lower = {str(c).strip().lower(): c for c in table.columns}
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    if lon_col is None or lat_col is None:
        raise InvalidInput("表格中没有经纬度列（如 经度/纬度 或 lon/lat）",
                           "The table has no coordinate columns (e.g. 经度/纬度 or lon/lat)", field="file")
    lon = pd.to_numeric(table[lon_col], errors="coerce")
    lat = pd.to_numeric(table[lat_col], errors="coerce")
    bad = lon.isna() | lat.isna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy())) + 2  # 1-based, after the header row
        raise InvalidInput(f"第 {row} 行的经纬度不是数值", f"Row {row}: the coordinates are not numbers",
                           feature=f"row {row - 1}", field=str(lon_col))
    rest = _rename(table.drop(columns=[lon_col, lat_col]), spec)
    geoms = shapely.points(lon.to_numpy(), lat.to_numpy())
    frame = gpd.GeoDataFrame(rest.reset_index(drop=True), geometry=list(geoms), crs="EPSG:4326")
    return to_wgs84(frame, source_crs)


def _vector_to_frame(path: str, spec: LayerSpec, source_crs: Any, layer: str | None = None) -> gpd.GeoDataFrame:
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # GDAL says what it could not read
        raise InvalidInput(f"文件无法读取：{exc}", f"The file cannot be read: {exc}", field="file") from None
    frame = _rename(frame, spec)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        if isinstance(frame, gpd.GeoDataFrame):
            return to_wgs84(frame.set_crs("EPSG:4326"), source_crs)
        return gpd.GeoDataFrame(frame)
    if frame.crs.to_epsg() in (4326, 4490, None):
        return to_wgs84(frame.set_crs("EPSG:4326", allow_override=True), source_crs)
    return frame.to_crs("EPSG:4326")


def read_features(data: bytes, *, filename: str, spec: LayerSpec, source_crs: Any = "EPSG:4326",
                  max_bytes: int | None = None) -> gpd.GeoDataFrame:
    """An uploaded file as a frame in EPSG:4326, columns renamed to field names where they match.

    Field values are not validated here (the caller does, row by row); unknown columns are kept so
    the caller can refuse them by name.
    """
    if not data:
        raise InvalidInput("文件为空", "The file is empty", field="file")
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLarge(f"文件超过 {max_bytes} 字节", f"The file exceeds {max_bytes} bytes", field="file")
    kind = _kind(filename, data)
    if kind == "csv":
        text = _decode_text(data)
        try:
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InvalidInput(f"CSV 无法解析：{exc}", f"The CSV cannot be parsed: {exc}", field="file") from None
        return _table_to_frame(table, spec, source_crs)
    if kind == "xlsx":
        try:
            table = pd.read_excel(io.BytesIO(data), dtype=object, engine="openpyxl")
        except Exception as exc:
            raise InvalidInput(f"Excel 文件无法读取：{exc}", f"The Excel file cannot be read: {exc}",
                               field="file") from None
        return _table_to_frame(table, spec, source_crs)
    with tempfile.TemporaryDirectory(prefix="geo-import-") as tmp:
        if kind == "zip":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    names = [n for n in zf.namelist() if not n.startswith("__MACOSX")]
                    shp = [n for n in names if n.lower().endswith(".shp")]
                    if not shp:
                        raise InvalidInput("压缩包中没有 .shp 文件", "The zip holds no .shp file", field="file")
                    for n in names:
                        target = Path(tmp) / n
                        if not target.resolve().is_relative_to(Path(tmp).resolve()):
                            raise InvalidInput("压缩包路径不安全", "Unsafe path in the zip", field="file")
                    zf.extractall(tmp, members=names)
            except zipfile.BadZipFile:
                raise InvalidInput("zip 文件已损坏", "The zip file is damaged", field="file") from None
            return _vector_to_frame(str(Path(tmp) / shp[0]), spec, source_crs)
        suffix = ".gpkg" if kind == "gpkg" else ".geojson"
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        layer = None
        if kind == "gpkg":
            names = [str(n) for n, _ in pyogrio.list_layers(path)]
            layer = spec.name if spec.name in names else (names[0] if len(names) == 1 else None)
            if layer is None:
                raise InvalidInput(f"GeoPackage 中有多个图层 {names}，没有名为 {spec.name} 的图层",
                                   f"The GeoPackage has layers {names} and none named {spec.name}", field="file")
        else:
            try:
                doc = json.loads(_decode_text(data))
            except ValueError as exc:
                raise InvalidInput(f"GeoJSON 无法解析：{exc}", f"The GeoJSON cannot be parsed: {exc}",
                                   field="file") from None
            if not isinstance(doc, Mapping) or doc.get("type") not in ("FeatureCollection", "Feature"):
                raise InvalidInput("GeoJSON 应为 FeatureCollection 或 Feature", "GeoJSON must be a FeatureCollection "
                                   "or a Feature", field="file")
            if doc.get("type") == "FeatureCollection" and not doc.get("features"):
                raise InvalidInput("GeoJSON 中没有要素", "The GeoJSON holds no features", field="file")
        return _vector_to_frame(str(path), spec, source_crs, layer)


def _has_geometry(frame: pd.DataFrame) -> bool:
    name = getattr(frame, "_geometry_column_name", None)
    return isinstance(frame, gpd.GeoDataFrame) and bool(name) and name in frame.columns


def _jsonable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and out[col].dtype == object:
            out[col] = out[col].map(lambda v: json_value(v) if v is not None else None)
    return out


def write_features(frame: pd.DataFrame, *, fmt: str, layer: str) -> tuple[bytes, str]:
    """A layer (EPSG:4326) as bytes of ``fmt`` (geojson, gpkg, csv) and its media type."""
    has_geom = _has_geometry(frame)
    if fmt == "geojson":
        props = [c for c in frame.columns if c not in ("geometry", "fid")]
        feats = []
        for i, rec in enumerate(frame[props].astype(object).where(frame[props].notna(), None).to_dict("records")):
            geom = frame.geometry.iloc[i] if has_geom else None
            feats.append({"type": "Feature", "id": int(frame["fid"].iloc[i]) if "fid" in frame else i + 1,
                          "geometry": None if geom is None else mapping(geom),
                          "properties": {k: json_value(v) for k, v in rec.items()}})
        body = {"type": "FeatureCollection", "name": layer, "features": feats}
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/geo+json"
    if fmt == "csv":
        table = pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if has_geom else frame)
        if has_geom:
            geoms = frame.geometry
            if (geoms.geom_type == "Point").all():
                table["lon"], table["lat"] = geoms.x.round(7), geoms.y.round(7)
            else:
                table["wkt"] = shapely.to_wkt(geoms.values, rounding_precision=7)
        table = _jsonable_frame(table)
        return ("\ufeff" + table.to_csv(index=False)).encode("utf-8"), "text/csv; charset=utf-8"
    if fmt == "gpkg":
        with tempfile.TemporaryDirectory(prefix="geo-export-") as tmp:
            path = Path(tmp) / f"{layer}.gpkg"
            _write_gpkg_layer(frame, path, layer, has_geom)
            return path.read_bytes(), "application/geopackage+sqlite3"
    raise InvalidInput(f"导出格式「{fmt}」不支持", f"Export format '{fmt}' is not supported", field="f")


def _write_gpkg_layer(frame: pd.DataFrame, path: Path, layer: str, has_geom: bool) -> None:
    out = _jsonable_frame(pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if has_geom else frame))
    if "fid" in out.columns:
        out = out.rename(columns={"fid": "feature_id"})
    if has_geom:
        gdf = gpd.GeoDataFrame(out, geometry=list(frame.geometry), crs="EPSG:4326")
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", append=path.exists())
    else:
        pyogrio.write_dataframe(out, path, layer=layer, driver="GPKG", append=path.exists())


def write_workspace(frames: Mapping[str, pd.DataFrame], *, fmt: str = "gpkg") -> bytes:
    """Every layer in one GeoPackage, or a zip of GeoJSON files (``zip-geojson``)."""
    with tempfile.TemporaryDirectory(prefix="geo-export-") as tmp:
        if fmt == "gpkg":
            path = Path(tmp) / "workspace.gpkg"
            for layer, frame in frames.items():
                has_geom = _has_geometry(frame)
                if len(frame) == 0 and not has_geom:
                    continue
                _write_gpkg_layer(frame, path, layer, has_geom)
            return path.read_bytes()
        if fmt == "zip-geojson":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for layer, frame in frames.items():
                    zf.writestr(f"{layer}.geojson", write_features(frame, fmt="geojson", layer=layer)[0])
            return buf.getvalue()
    raise InvalidInput(f"导出格式「{fmt}」不支持", f"Export format '{fmt}' is not supported", field="f")
