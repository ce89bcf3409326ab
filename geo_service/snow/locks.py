"""Order locks of a response plan: an item locked to a stop of its vehicle (positions count within a
priority) is put there, two locked to one stop are refused, and one locked beyond the vehicle's stops
goes as late as the others allow, with a notice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geo_service.errors import InvalidInput
from geo_service.snow.model import PlanModel

__all__ = ["pin", "pin_notices", "refuse_shared_positions"]


def pin(
    model: PlanModel, plan: list[dict[int, list[tuple[int, int]]]], pins: Mapping[int, int]
) -> list[dict[int, list[tuple[int, int]]]]:
    """Put order-locked items at their position (1-based) among their vehicle's stops of their priority
    (a route holds its priorities one after another; each keeps its place)."""
    if not pins:
        return plan
    for routes in plan:
        for w in routes:
            route = routes[w]
            if not any(k in pins for k, _ in route):
                continue
            groups: dict[int, list[tuple[int, int]]] = {}
            for entry in route:
                groups.setdefault(model.items[entry[0]].priority, []).append(entry)
            routes[w] = [entry for group in groups.values() for entry in pinned(group, pins)]
    return plan


def pinned(route: list[tuple[int, int]], pins: Mapping[int, int]) -> list[tuple[int, int]]:
    """One priority's stops with its locks kept: a lock within the stops exactly (no two share a stop:
    refused up front); one beyond them as late as the others allow; the rest in their order around them."""
    n = len(route)
    slots: list[tuple[int, int] | None] = [None] * n
    pinned = sorted((pins[k], (k, d)) for k, d in route if k in pins)
    for position, entry in pinned:
        if position <= n:
            slots[position - 1] = entry
    free = [i for i in range(n) if slots[i] is None]
    beyond = [entry for position, entry in pinned if position > n]
    for i, entry in zip(free[len(free) - len(beyond) :], beyond, strict=True):
        slots[i] = entry
    rest = iter([(k, d) for k, d in route if k not in pins])
    return [slot if slot is not None else next(rest) for slot in slots]


def refuse_shared_positions(model: PlanModel, pins: Mapping[int, int], lock_idx: Mapping[int, str]) -> None:
    """Two items locked to the same stop of one vehicle (positions count within a priority) cannot both
    be there: refused up front, naming both, rather than one quietly put after the other."""
    seen: dict[tuple[str, int, int], int] = {}
    for k, position in sorted(pins.items(), key=lambda kv: model.items[kv[0]].id):
        place = (lock_idx[k], model.items[k].priority, position)
        if place in seen:
            a, b = model.items[seen[place]].id, model.items[k].id
            raise InvalidInput(
                f"{a} 与 {b} 都锁定在车辆 {place[0]} 的 {place[1]} 级第 {position} 站，同一站只能安排一个对象",
                f"{a} and {b} are both locked to stop {position} of priority {place[1]} of vehicle "
                f"{place[0]}: one stop takes one item",
                field="locks",
                details={"items": [a, b]},
            )
        seen[place] = k


def pin_notices(
    model: PlanModel,
    plan: list[dict[int, list[tuple[int, int]]]],
    pins: Mapping[int, int],
    vehicles_out: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Where an order lock asked for a stop beyond the vehicle's stops of that priority, the item goes
    last (as ``pin`` puts it): said so, with where it went."""
    notices = []
    for routes in plan:
        for w, route in routes.items():
            for at, (k, _) in enumerate(route, start=1):
                asked = pins.get(k)
                if asked is None or asked == at:
                    continue
                it, veh = model.items[k], model.vehicles[w]
                seq = next((s["seq"] for s in vehicles_out[w]["stops"] if s.get("item") == it.id), at)
                last_zh, last_en = ("，即最后一站", ", the last") if at == len(route) else ("", "")
                notices.append(
                    f"{it.id} 锁定在车辆 {veh.id} 的 {it.priority} 级第 {asked} 站，但该车 {it.priority} 级只有 "
                    f"{len(route)} 站：已排在第 {at} 站{last_zh}（路线第 {seq} 站）/ {it.id} is locked to "
                    f"stop {asked} of priority {it.priority} of vehicle {veh.id}, which has only {len(route)} "
                    f"stops of that priority: it is placed at stop {at} of {len(route)}{last_en} "
                    f"(stop {seq} of the route)"
                )
    return notices
