"""How far an uploaded zip may expand: a zipped shapefile (written to disk) and an XLSX (a zip of XML read
into memory). The sizes are those the zip's directory declares: Python's ``zipfile``, which both
openpyxl and our extraction use, never yields more than a member declares (a member that holds more
fails its CRC check), so they bound what reading the file costs before any of it is inflated.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence

from geo_service.errors import PayloadTooLarge

__all__ = [
    "DEFAULT_UPLOAD_BYTES",
    "MEMBER_RATIO",
    "SHAPEFILE_EXPANSION",
    "SHAPEFILE_RATIO",
    "XLSX_EXPANSION",
    "check_shapefile_zip",
    "check_xlsx_zip",
]

#: The upload limit when none is given (the command line): ``Settings.max_upload_bytes``'s default.
DEFAULT_UPLOAD_BYTES = 50 * 1024 * 1024
#: An XLSX's members together may hold this many times the upload limit uncompressed (100 MB of XML by
#: default, some 150,000 rows of ten columns; openpyxl and pandas take about 3.5 bytes of memory for
#: each). Real workbooks are 8 to 20 times their file's size, so no file under the limit needs more.
XLSX_EXPANSION = 2
#: An XLSX member larger than ``_RATIO_GRACE`` may be at most this many times its compressed size (as
#: Apache POI's ZipSecureFile allows by default): spreadsheets' XML compresses 8 to 20 times; a sheet
#: built to blow up (a few hundred KB inflating to hundreds of MB) compresses hundreds of times.
MEMBER_RATIO = 100
_RATIO_GRACE = 1024 * 1024  # a small member costs nothing whatever its ratio
#: A zipped shapefile may expand to the upload limit, and beyond it to this many times the zip's own
#: size, never to more than ``SHAPEFILE_EXPANSION`` times the upload limit. Its .dbf pads every text to
#: the field's width (254 bytes in some programs), so a real one of mostly empty fields can compress
#: 300 times: the ratio is over the whole zip, not per member.
SHAPEFILE_RATIO = 200
SHAPEFILE_EXPANSION = 20


def _size(n: int) -> tuple[str, str]:
    return f"{n} 字节（{n / 2**20:.1f} MB）", f"{n} bytes ({n / 2**20:.1f} MB)"


def _members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [m for m in zf.infolist() if not m.is_dir()]


def check_xlsx_zip(zf: zipfile.ZipFile, *, max_bytes: int | None) -> None:
    """Refuse an XLSX whose members expand beyond :data:`XLSX_EXPANSION` times the upload limit
    ``max_bytes``, or one of whose members inflates more than :data:`MEMBER_RATIO` times.

    Raises
    ------
    PayloadTooLarge
        Naming the limit, in Chinese and English.
    """
    members = _members(zf)
    for m in members:
        if m.file_size > _RATIO_GRACE and m.file_size > MEMBER_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise PayloadTooLarge(
                f"Excel 文件中的 {m.filename} 解压后是压缩时的 {ratio:.0f} 倍，超过上限 {MEMBER_RATIO} 倍"
                "（不像正常的表格，疑为压缩炸弹）",
                f"{m.filename} in the Excel file expands {ratio:.0f} times its compressed size, above the "
                f"limit of {MEMBER_RATIO} times (no real spreadsheet does; it looks like a zip bomb)",
                field="file",
            )
    cap = XLSX_EXPANSION * (max_bytes or DEFAULT_UPLOAD_BYTES)
    total = sum(m.file_size for m in members)
    if total > cap:
        (total_zh, total_en), (cap_zh, cap_en) = _size(total), _size(cap)
        raise PayloadTooLarge(
            f"Excel 文件解压后有 {total_zh}，超过上限 {cap_zh}（上传上限的 {XLSX_EXPANSION} 倍）；"
            "请分成几个文件上传",
            f"The Excel file expands to {total_en}, above the limit of {cap_en} ({XLSX_EXPANSION} times "
            "the upload limit); upload it as several files",
            field="file",
        )


def check_shapefile_zip(members: Sequence[zipfile.ZipInfo], *, uploaded: int, max_bytes: int | None) -> None:
    """Refuse a zip (of ``uploaded`` bytes) whose ``members`` together expand beyond what it may
    write to disk: the upload limit ``max_bytes``, or :data:`SHAPEFILE_RATIO` times ``uploaded`` if
    that is more, and never beyond :data:`SHAPEFILE_EXPANSION` times the upload limit.

    Raises
    ------
    PayloadTooLarge
        Naming the limit, in Chinese and English.
    """
    limit = max_bytes or DEFAULT_UPLOAD_BYTES
    cap = min(SHAPEFILE_EXPANSION * limit, max(limit, SHAPEFILE_RATIO * uploaded))
    total = sum(m.file_size for m in members)
    if total > cap:
        (total_zh, total_en), (cap_zh, cap_en) = _size(total), _size(cap)
        raise PayloadTooLarge(
            f"压缩包解压后有 {total_zh}，超过上限 {cap_zh}（上传上限，或压缩包大小的 {SHAPEFILE_RATIO} 倍，"
            f"至多上传上限的 {SHAPEFILE_EXPANSION} 倍）",
            f"The zip expands to {total_en}, above the limit of {cap_en} (the upload limit, or "
            f"{SHAPEFILE_RATIO} times the zip's size, at most {SHAPEFILE_EXPANSION} times the upload limit)",
            field="file",
        )
