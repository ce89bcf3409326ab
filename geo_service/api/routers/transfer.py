"""Import a file into a layer; export a layer or the whole workspace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from geo_service.api.audit import note
from geo_service.api.deps import LayerDep, WorkspaceDep, actor_of, known_form_fields
from geo_service.errors import InvalidInput, PayloadTooLarge
from geo_service.exported import export_frame
from geo_service.formats import read_rows, write_features, write_workspace
from geo_service.imports import Imported, import_frame

__all__ = ["router"]

router = APIRouter(tags=["transfer 导入导出"])

_EXT = {"geojson": "geojson", "gpkg": "gpkg", "csv": "csv", "xlsx": "xlsx", "zip-geojson": "zip"}


@router.post(
    "/collections/{collection_id}/import",
    status_code=201,
    summary="导入文件（GeoJSON、GeoPackage、Shapefile zip、CSV、XLSX）/ Import a file",
)
async def import_file(
    request: Request,
    ws: WorkspaceDep,
    spec: LayerDep,
    file: Annotated[UploadFile, File(description="要导入的文件 / the file")],
    crs: Annotated[str, Form(description="来源坐标系：EPSG 代码、gcj02、bd09")] = "EPSG:4326",
    mode: Annotated[str, Form(description="append（追加）或 replace（替换）")] = "append",
    override: Annotated[
        str | None,
        Form(description="越过的选址规则编号（逗号分隔），须同时填写理由 / siting rules overridden"),
    ] = None,
    reason: Annotated[str | None, Form(description="理由，记入历史 / reason, kept in the history")] = None,
) -> dict[str, Any]:
    await _known_fields_only(request, spec.name)
    limit = ws.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"上传文件超过 {limit // (1024 * 1024)} MB",
            f"Upload exceeds {limit // (1024 * 1024)} MB",
            layer=spec.name,
        )
    if not data:
        raise InvalidInput("上传的文件为空", "The uploaded file is empty", layer=spec.name, field="file")
    actor = actor_of(request)
    overrides = tuple(v.strip() for v in (override or "").split(",") if v.strip())

    def work() -> Imported:  # in a worker thread: reading and storing must not hold up the loop
        # a sheet's rows keep their spreadsheet numbers, and a row without coordinates is that row's problem
        sheet = read_rows(
            data, filename=file.filename or "upload", spec=spec, source_crs=crs, max_bytes=limit
        )
        return import_frame(ws, spec.name, sheet, actor=actor, mode=mode, override=overrides, reason=reason)

    done = await run_in_threadpool(work)
    return {
        "layer": spec.name,
        "imported": done.count,
        "mode": mode,
        # of the rows: new features, features changed (their next version) and left as they were; and the
        # features the file left out, deleted (and restorable)
        "created": done.created,
        "updated": done.updated,
        "unchanged": done.unchanged,
        "deleted": done.deleted,
        "version": ws.store.layer_version(spec.name),
        "kept_fields": list(done.kept_fields),  # a replacing file's missing columns, kept as stored
        "notices": done.notices,
    }


_IMPORT_FIELDS = ("file", "crs", "mode", "override", "reason")


async def _known_fields_only(request: Request, layer: str) -> None:
    """Refuse what an import does not take: query parameters (its parameters are form fields) and form
    fields of other names; a misplaced ``override`` must not be quietly dropped."""
    takes = ", ".join(_IMPORT_FIELDS)
    if request.query_params:
        names = sorted(set(request.query_params))
        raise InvalidInput(
            f"导入不接受查询参数：{'、'.join(names)}；请以表单字段（multipart/form-data）提交：{takes}",
            f"Import takes no query parameters ({', '.join(names)}); send them as form fields "
            f"(multipart/form-data): {takes}",
            layer=layer,
            field=names[0],
        )
    await known_form_fields(request, _IMPORT_FIELDS, what=("导入", "import"), layer=layer)


@router.get("/collections/{collection_id}/export", summary="导出图层 / Export a layer")
def export_layer(request: Request, ws: WorkspaceDep, spec: LayerDep, f: str = "geojson") -> Response:
    if f not in ("geojson", "gpkg", "csv", "xlsx"):
        raise InvalidInput(
            f"导出格式「{f}」不支持，可用 geojson、gpkg、csv、xlsx",
            f"Export format '{f}' is not supported; use geojson, gpkg, csv or xlsx",
            field="f",
        )
    data, media = write_features(export_frame(ws.store, spec.name), fmt=f, layer=spec.name)
    note(request, download=spec.name, format=f, bytes=len(data))
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{spec.name}.{_EXT[f]}"'},
    )


@router.get("/export", summary="导出整个工作空间 / Export the whole workspace")
def export_workspace(request: Request, ws: WorkspaceDep, f: str = "gpkg") -> Response:
    if f not in ("gpkg", "zip-geojson"):
        raise InvalidInput(
            f"导出格式「{f}」不支持，可用 gpkg、zip-geojson",
            f"Export format '{f}' is not supported; use gpkg or zip-geojson",
            field="f",
        )
    frames = {name: export_frame(ws.store, name) for name in ws.catalog}
    data = write_workspace(frames, fmt=f)
    note(request, download="workspace", format=f, layers=len(frames), bytes=len(data))
    media = "application/geopackage+sqlite3" if f == "gpkg" else "application/zip"
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="workspace.{_EXT[f]}"'}
    )
