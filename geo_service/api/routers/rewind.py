"""Put a layer back as it stood at an earlier moment (the undo of a wrong import or of a morning's edits)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from geo_service.api.deps import Body, LayerDep, Moment, WorkspaceDep, actor_of
from geo_service.rewind import rewind_layer

__all__ = ["router"]

router = APIRouter(tags=["features 要素"])


class Rewind(Body):
    to: Moment = Field(
        description="回到的时刻（不带时区即北京时间）/ the moment to go back to (Beijing time without a zone)"
    )
    reason: str | None = Field(
        None, max_length=500, description="理由，记入历史 / reason, kept in the history"
    )
    dry_run: bool = Field(False, description="只列出将做的改动，不写入 / only list what would change")


@router.post(
    "/collections/{collection_id}/rewind",
    summary="将图层回退到某一时刻（撤销误导入）/ Put a layer back as it stood at a moment (undo an import)",
)
async def rewind(request: Request, ws: WorkspaceDep, spec: LayerDep, body: Rewind) -> dict[str, Any]:
    actor = actor_of(request)
    done = await run_in_threadpool(
        lambda: rewind_layer(ws, spec.name, body.to, actor=actor, reason=body.reason, dry_run=body.dry_run)
    )
    return {
        "layer": done.layer,
        "to": done.to.isoformat(),
        "dry_run": done.dry_run,
        # features put back to their state then, brought back under their ids, deleted (created since)
        "reverted": list(done.reverted),
        "restored": list(done.restored),
        "deleted": list(done.deleted),
        "unchanged": done.unchanged,
        "version": done.version if done.version is not None else ws.store.layer_version(spec.name),
    }
