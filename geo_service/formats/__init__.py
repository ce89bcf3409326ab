"""Reading uploaded files into frames, and writing layers out.

Read: GeoJSON (FeatureCollection or Feature), GeoPackage, zipped Shapefile (its .prj honoured; .cpg,
or GBK/UTF-8 guessed from the .dbf when there is none), CSV (UTF-8, UTF-8 with BOM, GBK) and XLSX
with lon/lat columns (经度/纬度, X坐标/Y坐标 and friends; X/Y in metres with a projected CRS) or a WKT
column. Column headers are matched to field names by name or by the field's Chinese/English title
(名称 → name, 摊位数 → capacity).
Write: GeoJSON (RFC 7946), GeoPackage, CSV (UTF-8 with BOM so that Excel shows Chinese), and the whole
workspace as one GeoPackage or a zip of GeoJSON files.
"""

from geo_service.formats.export import write_features, write_workspace
from geo_service.formats.reading import read_features, read_rows
from geo_service.formats.tables import LAT_NAMES, LON_NAMES, WKT_NAMES, SheetRows

__all__ = [
    "LAT_NAMES",
    "LON_NAMES",
    "WKT_NAMES",
    "SheetRows",
    "read_features",
    "read_rows",
    "write_features",
    "write_workspace",
]
