"""What a stored plan tells a crew besides its stops: the closures it was made under, the items it could
not serve and why, and its notices about the crew (a depot cut off). Read by the route page and the
printable sheet alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["crew_notices", "plan_closures", "unserved_items"]

#: the reasons (``reason_en``) of an item left out because it was itself closed, by the plan or in its
#: layer (a bridge marked closed)
_CLOSED = frozenset({"closed", "road closed"})


def plan_closures(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The roads and bridges/culverts closed when the plan was made, each once: ``item`` (``road:3``),
    ``kind`` (road or bridge) and ``name`` (None when the plan does not know it): those the plan was
    asked to close, then the items it left out for being closed in their own layer."""
    names = dict(doc.get("closure_names") or {})
    unserved = {u["item"]: u for u in doc.get("unserved", ())}
    closures = doc.get("closures") or {}
    items = [*closures.get("roads", ()), *closures.get("bridges", ())]
    items += [i for i, u in unserved.items() if u.get("reason_en") in _CLOSED and i not in items]
    return [
        {
            "item": item,
            "kind": item.partition(":")[0],
            "name": names.get(item) or unserved.get(item, {}).get("name"),
        }
        for item in items
    ]


def unserved_items(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plan's items no vehicle serves (of every crew: nobody's route has them), each with ``item``,
    ``name`` and why in both languages (``reason_zh``, ``reason_en``)."""
    return [dict(u) for u in doc.get("unserved", ())]


def crew_notices(doc: Mapping[str, Any], crew: str) -> list[str]:
    """The plan's notices (each in Chinese and English, ``中文 / English``) about ``crew`` or one of its
    vehicles (named ``crew-1`` …), with the closures that caused a depot to be cut off."""
    mine = [str(n) for n in doc.get("notices", ()) if crew in str(n)]
    if any("cut off" in n for n in mine):
        mine += [str(n) for n in doc.get("notices", ()) if str(n).startswith("由以下封闭造成")]
    return mine
