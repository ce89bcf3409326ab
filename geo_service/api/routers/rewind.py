"""Put a layer back as it stood at an earlier moment (the undo of a wrong import or of a morning's edits)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, StrictStr

from geo_service.api.audit import note
from geo_service.api.deps import Body, LayerDep, WorkspaceDep, actor_of, known_query_only
from geo_service.duty import TZ, parse_time
from geo_service.errors import InvalidInput
from geo_service.rewind import rewind_layer

__all__ = ["router"]

router = APIRouter(tags=["features 要素"])


class Rewind(Body):
    # text only, read as every time the service takes (a bare number is no moment: 20261206 would be
    # seconds since 1970 to pydantic)
    to: StrictStr = Field(
        description="回到的时刻，如 2026-12-06T09:00（不带时区即北京时间）/ the moment to go back to, "
        "such as 2026-12-06T09:00 (Beijing time without a zone)"
    )
    reason: str | None = Field(
        None, max_length=500, description="理由，记入历史 / reason, kept in the history"
    )
    dry_run: bool = Field(False, description="只列出将做的改动，不写入 / only list what would change")


@router.post(
    "/collections/{collection_id}/rewind",
    summary="将图层回退到某一时刻（撤销误导入）/ Put a layer back as it stood at a moment (undo an import)",
    dependencies=[Depends(known_query_only)],  # a dry_run in the query string is refused, not ignored
)
async def rewind(request: Request, ws: WorkspaceDep, spec: LayerDep, body: Rewind) -> dict[str, Any]:
    actor = actor_of(request)
    to = parse_time(body.to, field="to", past=True)
    if to is None:
        raise InvalidInput("需要回到的时刻 to", "'to', the moment to go back to, is required", field="to")
    done = await run_in_threadpool(
        lambda: rewind_layer(ws, spec.name, to, actor=actor, reason=body.reason, dry_run=body.dry_run)
    )
    answer = {
        "layer": done.layer,
        "to": done.to.astimezone(TZ).isoformat(),
        "dry_run": done.dry_run,
        # features put back to their state then, brought back under their ids, deleted (created since)
        "reverted": list(done.reverted),
        "restored": list(done.restored),
        "deleted": list(done.deleted),
        "unchanged": done.unchanged,
        "version": done.version if done.version is not None else ws.store.layer_version(spec.name),
    }
    note(request, **{k: answer[k] for k in ("to", "dry_run", "reverted", "restored", "deleted")})
    return answer
