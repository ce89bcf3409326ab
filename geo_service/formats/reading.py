"""Reading an uploaded file: format detection, GeoJSON, GeoPackage and zipped Shapefile."""

from __future__ import annotations

import codecs
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

from geo_service.catalog import LayerSpec
from geo_service.crs import parse_crs, to_wgs84
from geo_service.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat
from geo_service.formats.archives import check_shapefile_zip
from geo_service.formats.common import MAX_JSON_DEPTH, decode_text, file_error, json_too_deep, rename_columns
from geo_service.formats.tables import SheetRows, csv_rows, read_csv, read_xlsx, xlsx_rows
from geo_service.geometry import geometry_from_geojson

__all__ = ["read_features", "read_rows"]


# an uploaded file must not make GDAL fetch anything: /vsicurl/ only for files of an extension none has
pyogrio.set_gdal_config_options(
    {"CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".geo-service-no-network", "GDAL_HTTP_TIMEOUT": "1"}
)


def _kind(filename: str, data: bytes) -> str:
    name = filename.lower()
    if data[:4] == b"PK\x03\x04":
        return "xlsx" if name.endswith((".xlsx", ".xlsm")) else "zip"
    if data.startswith(b"SQLite format 3"):
        return "gpkg"
    if name.endswith(".pbf") or data[4:20].find(b"OSMHeader") >= 0:
        return "osm"
    for ext, kind in (
        (".geojson", "geojson"),
        (".json", "geojson"),
        (".csv", "csv"),
        (".txt", "csv"),
        (".tsv", "csv"),
        (".gpkg", "gpkg"),
        (".zip", "zip"),
        (".xlsx", "xlsx"),
        (".shp", "shp"),
    ):
        if name.endswith(ext):
            return kind
    if data[:200].lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return "geojson"
    raise UnsupportedFormat(
        f"无法识别文件「{filename}」的格式；支持 GeoJSON、GeoPackage、Shapefile（zip 压缩）、CSV、XLSX、"
        "OpenStreetMap .osm.pbf（道路图层）",
        f"Unknown format of '{filename}'; supported: GeoJSON, GeoPackage, zipped Shapefile, CSV, XLSX, "
        "OpenStreetMap .osm.pbf (roads layer)",
        field="file",
    )


def _read_osm(data: bytes, tmp: Path, spec: LayerSpec) -> gpd.GeoDataFrame:
    """Streets of an OpenStreetMap extract, one feature per segment between junctions, with the
    fields the layer declares (a layer without road fields refuses the file)."""
    from geo_service.osm import roads_from_osm

    needed = {"name", "road_class", "oneway", "walkable"}
    if not needed <= {f.name for f in spec.fields}:
        raise file_error(
            f"OpenStreetMap 文件只能导入道路图层，「{spec.name}」没有道路字段",
            f"An OpenStreetMap extract can only go into a roads layer; '{spec.name}' has no road fields",
        )
    path = tmp / "upload.osm.pbf"
    path.write_bytes(data)
    try:
        roads = roads_from_osm(path).roads
    except (InvalidInput, UnsupportedFormat):
        raise
    except Exception as exc:
        why = (
            str(exc).replace(f"'{path}'", "the file").replace(str(path), "the file")
        )  # no server paths in answers
        raise file_error(
            f"OpenStreetMap 文件无法读取：{why}", f"The OpenStreetMap file cannot be read: {why}"
        ) from None
    declared = [f.name for f in spec.fields if f.name in roads.columns]
    return gpd.GeoDataFrame(roads[declared], geometry=roads.geometry, crs=4326).reset_index(drop=True)


def _read_geojson(data: bytes, spec: LayerSpec, source_crs: Any) -> gpd.GeoDataFrame:
    try:
        doc = json.loads(decode_text(data))
    except ValueError as exc:
        raise file_error(f"GeoJSON 无法解析：{exc}", f"The GeoJSON cannot be parsed: {exc}") from None
    except RecursionError:
        doc = None
    if doc is None or json_too_deep(doc):
        raise file_error(
            f"GeoJSON 嵌套超过 {MAX_JSON_DEPTH} 层",
            f"The GeoJSON is nested more than {MAX_JSON_DEPTH} levels deep",
        )
    kind = doc.get("type") if isinstance(doc, Mapping) else None
    if kind not in ("FeatureCollection", "Feature"):
        raise file_error(
            "GeoJSON 应为 FeatureCollection 或 Feature", "GeoJSON must be a FeatureCollection or a Feature"
        )
    features = doc.get("features") if kind == "FeatureCollection" else [doc]
    if not isinstance(features, list) or not features:
        raise file_error("GeoJSON 中没有要素", "The GeoJSON holds no features")
    props: list[Mapping[str, Any]] = []
    geoms: Any = None
    for i, feat in enumerate(features, start=1):
        label = f"feature {i}"
        if not isinstance(feat, Mapping) or feat.get("type") != "Feature":
            raise file_error(
                f"第 {i} 个要素不是 GeoJSON Feature", f"Feature {i} is not a GeoJSON Feature", feature=label
            )
        p = feat.get("properties") or {}
        if not isinstance(p, Mapping):
            raise file_error(
                f"第 {i} 个要素的 properties 应为对象",
                f"Feature {i}: properties must be an object",
                feature=label,
                field="properties",
            )
        props.append(p)
    if not spec.is_table:
        raws = [feat.get("geometry") for feat in features]
        geoms = _points(raws)
        if geoms is None:
            geoms = [
                None if raw is None else geometry_from_geojson(raw, feature=f"feature {i}")
                for i, raw in enumerate(raws, start=1)
            ]
    # as Python objects: a column of whole numbers with a gap would become floats, rounding those above 2**53
    table = pd.DataFrame(props, dtype=object) if any(props) else pd.DataFrame(index=range(len(props)))
    # feature ids as our exports write them (whole numbers from 1) name the features a replacing import
    # keeps; other ids (a string such as "way/123", or numbers from 0 as geopandas writes them: a file
    # made elsewhere) name nothing here
    ids = [feat.get("id") for feat in features]
    whole = all(
        i is None
        or (isinstance(i, int) and not isinstance(i, bool) and i > 0)
        or (isinstance(i, str) and i.isascii() and i.isdigit() and int(i) > 0)
        for i in ids
    )
    if "fid" not in table.columns and whole and any(i is not None for i in ids):
        table["fid"] = pd.Series([None if i is None else int(i) for i in ids], dtype=object)
    if spec.is_table:
        return gpd.GeoDataFrame(rename_columns(table, spec))
    declared = (
        ((doc.get("crs") or {}).get("properties") or {}).get("name")
        if isinstance(doc.get("crs"), Mapping)
        else None
    )
    if declared and parse_crs(source_crs) == parse_crs("EPSG:4326"):
        source_crs = declared  # a legacy GeoJSON naming its CRS, and no other CRS asked for
    frame = gpd.GeoDataFrame(rename_columns(table, spec), geometry=geoms, crs="EPSG:4326")
    return to_wgs84(frame, source_crs)


def _points(raws: list[Any]) -> np.ndarray | None:
    """All-Point geometries with plain numeric coordinates, built at once; None means "check one by one"."""
    try:
        if not all(raw["type"] == "Point" for raw in raws):
            return None
        xy = np.array([raw["coordinates"] for raw in raws])
    except (TypeError, KeyError, ValueError):
        return None
    if xy.ndim != 2 or not 2 <= xy.shape[1] <= 4 or xy.dtype.kind not in "iuf":
        return None
    return shapely.points(xy[:, 0].astype(float), xy[:, 1].astype(float))


def _dbf_encoding(dbf: Path) -> str | None:
    """The encoding of a .dbf without .cpg: GDAL would read it as Latin-1; Chinese files are GBK or UTF-8."""
    with dbf.open("rb") as f:  # read a piece at a time: a .dbf may be hundreds of MB
        head = f.read(32)
        if len(head) > 29 and head[29] != 0:
            return None  # a language driver id: GDAL knows it
        utf8 = codecs.getincrementaldecoder("utf-8")()
        try:
            while piece := f.read(1 << 20):
                utf8.decode(piece)
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            return "GB18030"
    return "UTF-8"


def _read_zip(
    data: bytes, tmp: Path, spec: LayerSpec, source_crs: Any, max_bytes: int | None
) -> gpd.GeoDataFrame:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
            shps = [m.filename for m in members if m.filename.lower().endswith(".shp")]
            if not shps:
                found = ", ".join(m.filename for m in members[:8]) or "—"
                raise file_error(
                    f"压缩包中没有 .shp 文件（包含：{found}）",
                    f"The zip holds no .shp file (it holds: {found})",
                )
            check_shapefile_zip(members, uploaded=len(data), max_bytes=max_bytes)
            for m in members:
                if not (tmp / m.filename).resolve().is_relative_to(tmp.resolve()):
                    raise file_error(
                        f"压缩包中的路径不安全：{m.filename}", f"Unsafe path in the zip: {m.filename}"
                    )
            zf.extractall(tmp, members=members)
    except zipfile.BadZipFile:
        raise file_error("zip 文件已损坏", "The zip file is damaged") from None
    stems = {Path(s).stem.lower(): s for s in shps}
    chosen = stems.get(spec.name.lower()) or (shps[0] if len(shps) == 1 else None)
    if chosen is None:
        raise file_error(
            f"压缩包中有多个 Shapefile {shps}，没有名为 {spec.name}.shp 的",
            f"The zip holds several shapefiles {shps} and none named {spec.name}.shp",
        )
    shp = tmp / chosen
    with shp.open("rb") as head:
        code = head.read(4)
    if code != b"\x00\x00\x27\x0a":  # a shapefile's file code: GDAL would open anything
        raise file_error(f"{chosen} 不是 Shapefile", f"{chosen} is not a shapefile")
    missing = [
        ext for ext in (".dbf", ".shx") if not any(shp.with_suffix(e).exists() for e in (ext, ext.upper()))
    ]
    if missing:
        raise file_error(
            f"Shapefile {chosen} 缺少 {'、'.join(missing)} 文件",
            f"Shapefile {chosen} lacks its {', '.join(missing)} file",
        )
    has_cpg = shp.with_suffix(".cpg").exists() or shp.with_suffix(".CPG").exists()
    dbf = shp.with_suffix(".dbf") if shp.with_suffix(".dbf").exists() else shp.with_suffix(".DBF")
    encoding = None if has_cpg else _dbf_encoding(dbf)
    return _vector_to_frame(str(shp), spec, source_crs, encoding=encoding)


def _vector_to_frame(
    path: str, spec: LayerSpec, source_crs: Any, layer: str | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as exc:  # GDAL says what it could not read (named as in the upload, not where we put it)
        why = str(exc).replace(str(Path(path).parent) + "/", "")
        raise file_error(f"文件无法读取：{why}", f"The file cannot be read: {why}") from None
    frame = rename_columns(frame, spec)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        if not spec.is_table:
            raise file_error(
                f"文件中没有几何，图层 {spec.name} 需要几何",
                f"The file has no geometry, which layer {spec.name} needs",
            )
        return gpd.GeoDataFrame(pd.DataFrame(frame))
    if spec.is_table:
        return gpd.GeoDataFrame(pd.DataFrame(frame.drop(columns=[frame.geometry.name])))
    if frame.crs is None or frame.crs.to_epsg() in (4326, 4490):
        return to_wgs84(frame.set_crs("EPSG:4326", allow_override=True), source_crs)
    return to_wgs84(frame.to_crs("EPSG:4326"), "EPSG:4326")  # the file's own .prj / srs wins


def read_features(
    data: bytes,
    *,
    filename: str,
    spec: LayerSpec,
    source_crs: Any = "EPSG:4326",
    max_bytes: int | None = None,
) -> gpd.GeoDataFrame:
    """An uploaded file as a frame in EPSG:4326, columns renamed to field names where they match.

    Parameters
    ----------
    data
        The file's bytes.
    filename
        Its name (the extension helps tell formats apart).
    spec
        The layer it goes to: header titles, the GeoPackage layer or shapefile to pick, table or not.
    source_crs
        The CRS of coordinates that do not say theirs (CSV, XLSX, GeoJSON, a shapefile without
        .prj): an EPSG code, ``gcj02`` or ``bd09``. A .prj or a GeoPackage SRS other than WGS 84 /
        CGCS2000 wins.
    max_bytes
        Larger files raise :class:`PayloadTooLarge`.

    Returns
    -------
    geopandas.GeoDataFrame
        Geometry in EPSG:4326 and 2D (None throughout for table layers). Field values are not
        validated here (the caller does, row by row); unknown columns are kept so that the caller
        can refuse them by name.

    Raises
    ------
    InvalidInput, UnsupportedFormat, PayloadTooLarge
        In Chinese and English, naming the row or feature and the column at fault.
    """
    if not data:
        raise file_error("文件为空", "The file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLarge(
            f"文件有 {len(data)} 字节，超过上限 {max_bytes}",
            f"The file has {len(data)} bytes, above the limit of {max_bytes}",
            field="file",
        )
    kind = _kind(filename, data)
    if kind == "shp":
        raise UnsupportedFormat(
            "请把 .shp、.shx、.dbf、.prj（和 .cpg）一起压缩成 zip 上传",
            "Upload a shapefile as a zip of its .shp, .shx, .dbf, .prj (and .cpg)",
            field="file",
        )
    if kind == "csv":
        return read_csv(data, spec=spec, source_crs=source_crs)
    if kind == "xlsx":
        return read_xlsx(data, spec=spec, source_crs=source_crs, max_bytes=max_bytes)
    if kind == "geojson":
        return _read_geojson(data, spec, source_crs)
    with tempfile.TemporaryDirectory(prefix="geo-import-") as tmp:
        if kind == "osm":
            return _read_osm(data, Path(tmp), spec)
        if kind == "zip":
            return _read_zip(data, Path(tmp), spec, source_crs, max_bytes)
        if not data.startswith(b"SQLite format 3\x00"):  # GDAL would open whatever the bytes are (a VRT
            # naming /etc/passwd or a URL): only a real GeoPackage goes to it
            raise file_error("文件不是 GeoPackage", "The file is not a GeoPackage")
        path = Path(tmp) / "upload.gpkg"
        path.write_bytes(data)
        try:
            names = [str(n) for n, _ in pyogrio.list_layers(path)]
        except Exception as exc:
            why = str(exc).replace(str(path), "upload.gpkg")
            raise file_error(f"GeoPackage 无法读取：{why}", f"The GeoPackage cannot be read: {why}") from None
        layer = spec.name if spec.name in names else (names[0] if len(names) == 1 else None)
        if layer is None:
            raise file_error(
                f"GeoPackage 中有图层 {names}，没有名为 {spec.name} 的图层",
                f"The GeoPackage has layers {names} and none named {spec.name}",
            )
        return _vector_to_frame(str(path), spec, source_crs, layer)


def read_rows(
    data: bytes,
    *,
    filename: str,
    spec: LayerSpec,
    source_crs: Any = "EPSG:4326",
    max_bytes: int | None = None,
) -> SheetRows:
    """:func:`read_features` for a file answered row by row (12345 cases, a layer's import): a CSV/XLSX
    row whose coordinates are blank or not numbers is kept without geometry, its spreadsheet row (the
    header being row 1) and what was wrong given beside it; other formats as :func:`read_features`
    (rows None, a feature without a usable geometry is the caller's to name). A file that is no table
    of places at all still raises."""
    if data and (max_bytes is None or len(data) <= max_bytes):
        kind = _kind(filename, data)
        if kind == "csv":
            return csv_rows(data, spec=spec, source_crs=source_crs, lenient=True)
        if kind == "xlsx":
            return xlsx_rows(data, spec=spec, source_crs=source_crs, lenient=True, max_bytes=max_bytes)
    frame = read_features(data, filename=filename, spec=spec, source_crs=source_crs, max_bytes=max_bytes)
    return SheetRows(frame, None, (None,) * len(frame))
