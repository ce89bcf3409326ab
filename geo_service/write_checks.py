"""The checks every feature write passes before it is stored, and the store locks held across them.

A single write (:mod:`geo_service.features`) and a file import (:mod:`geo_service.imports`) apply the
same checks: the siting rules (and the overrides that excuse one, with a reason), the spacing between
the sites of one write, the district a feature's ``district`` field names, the features of other
layers a field names (a crew's depot) and, when a key is removed or renamed, the features that still
name it. Each ``…_refusals`` says which features of a batch fail (an import names every failing row);
each ``check_…`` raises the first refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from geo_service.catalog import LayerSpec
from geo_service.errors import Conflict, InvalidInput
from geo_service.store.base import NewFeature
from geo_service.workspace import Workspace

__all__ = [
    "REFERENCES_LOCK",
    "SITING_LOCK",
    "batch_spacing_refusals",
    "check_batch_spacing",
    "check_districts",
    "check_not_referenced",
    "check_references",
    "check_siting",
    "checked_overrides",
    "checks_held",
    "district_refusals",
    "noted_reason",
    "reference_refusals",
    "referrers",
    "siting_refusal",
]


#: the store lock (``Store.exclusive``) held by every check of a reference together with its write
REFERENCES_LOCK = "references"
#: the store lock held by every siting check of a write together with the write
SITING_LOCK = "siting"


def noted_reason(reason: str | None, overrides: Iterable[str]) -> str | None:
    """The reason a write keeps in history, naming the siting rules it was allowed to break: an approved
    exception is read back as what was approved, not only why."""
    rules = sorted(set(overrides))
    if not rules or reason is None:
        return reason
    return f"{reason}（越过选址规则 / overrides: {', '.join(rules)}）"


def checked_overrides(
    ws: Workspace, spec: LayerSpec, override: Iterable[str], reason: str | None
) -> set[str]:
    """The siting rules a write overrides, refused when one is unknown or no reason is given."""
    override = set(override)
    if not override:
        return override
    if not spec.siting:
        raise InvalidInput(
            f"图层 {spec.name} 不适用选址规则，不能越过规则（override）",
            f"Siting rules do not apply to layer {spec.name}: nothing to override",
            layer=spec.name,
            field="override",
        )
    from geo_service.siting import siting_context
    from geo_service.siting.checker import DISTRICT_RULE

    known = set(siting_context(ws).rules.ids)
    if DISTRICT_RULE in override and DISTRICT_RULE not in known:  # reported as a rule, but not one to waive
        raise InvalidInput(
            "所属区检查不能越过：请改正所属区字段或位置",
            "The district check cannot be overridden: correct the district field or the position",
            layer=spec.name,
            field="override",
        )
    unknown = sorted(override - known - {"*"})
    if unknown:
        raise InvalidInput(
            f"没有编号为「{unknown[0]}」的选址规则（现有：{'、'.join(sorted(known))}）",
            f"No siting rule '{unknown[0]}' (rules: {', '.join(sorted(known))})",
            layer=spec.name,
            field="override",
        )
    if not (reason and reason.strip()):
        raise InvalidInput(
            "越过选址规则必须填写理由",
            "Overriding a siting rule needs a reason",
            layer=spec.name,
            field="reason",
        )
    return override


def siting_refusal(
    ws: Workspace,
    spec: LayerSpec,
    feature: NewFeature,
    *,
    exclude_id: int | None,
    override: set[str],
    label: Any = None,
    exclude_layer: bool = False,
) -> InvalidInput | None:
    """The refusal of a stall-site or festival-point write that breaks a siting rule not overridden
    (``exclude_layer``: the layer's stored sites are being replaced, so they are no neighbours); None
    when it passes. The district is left to :func:`district_refusals`, which no override passes."""
    if not spec.siting or not _judged(feature):
        return None
    from geo_service.siting import check_on_write
    from geo_service.siting.checker import DISTRICT_RULE

    report = check_on_write(
        ws,
        spec.name,
        feature.geometry,
        feature.properties,
        exclude_id=exclude_id,
        override_rules=override,
        exclude_layer=exclude_layer,
    )
    everything = "*" in override
    blocking = [
        v
        for v in report.violations
        if v.rule_id != DISTRICT_RULE and v.rule_id not in override and not everything
    ]
    unchecked = [u for u in report.unchecked if u["rule"] not in override and not everything]
    return _refusal(spec, blocking, unchecked, label)


def _judged(feature: NewFeature) -> bool:
    """Whether the siting rules judge a site as written: not while it is closed or suspended (closing a
    site, or pausing it, breaks no rule; reopening it is judged then)."""
    return str(feature.properties.get("status") or "open") not in ("suspended", "closed")


def check_siting(
    ws: Workspace,
    spec: LayerSpec,
    feature: NewFeature,
    *,
    exclude_id: int | None,
    override: Iterable[str],
    reason: str | None,
    label: Any = None,
) -> None:
    """Refuse a site write that breaks a siting rule not overridden (with a reason)."""
    overrides = checked_overrides(ws, spec, override, reason)
    refusal = siting_refusal(ws, spec, feature, exclude_id=exclude_id, override=overrides, label=label)
    if refusal is not None:
        raise refusal


def _refusal(
    spec: LayerSpec, blocking: Sequence[Any], unchecked: Sequence[Mapping[str, str]], label: Any
) -> InvalidInput | None:
    if not (blocking or unchecked):
        return None
    first_zh = blocking[0].message_zh if blocking else unchecked[0]["reason_zh"]
    first_en = blocking[0].message_en if blocking else unchecked[0]["reason_en"]
    return InvalidInput(
        f"不符合选址规则或无法检查（{len(blocking) + len(unchecked)} 项），如：{first_zh}",
        f"Breaks or cannot be checked against {len(blocking) + len(unchecked)} siting rule(s), e.g.: {first_en}",
        layer=spec.name,
        feature=label,
        details={"violations": [v.as_dict() for v in blocking], "unchecked": list(unchecked)},
    )


def batch_spacing_refusals(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any], override: set[str]
) -> dict[int, InvalidInput]:
    """Position in ``news`` → the refusal of a site closer to an earlier site of the same write than the
    spacing rules allow. Closed and suspended sites are neither judged nor judged against, as a single
    write of one is not (see :func:`_judged`)."""
    if not spec.siting:
        return {}
    judged = [k for k, f in enumerate(news) if _judged(f)]
    if len(judged) < 2:
        return {}
    from geo_service.siting import siting_context
    from geo_service.siting.checker import batch_spacing

    names = [news[k].properties.get("name") or labels[k] for k in judged]
    found = batch_spacing(siting_context(ws), spec.name, [news[k].geometry for k in judged], names)
    found = [(judged[i], v) for i, v in found if v.rule_id not in override and "*" not in override]
    out = {}
    for i in dict.fromkeys(i for i, _ in found):
        refusal = _refusal(spec, [v for k, v in found if k == i], [], labels[i])
        if refusal is not None:
            out[i] = refusal
    return out


def check_batch_spacing(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any], override: Iterable[str]
) -> None:
    """Refuse a write of several sites that are closer to each other than the spacing rules allow."""
    refusals = batch_spacing_refusals(ws, spec, news, labels, set(override))
    if refusals:
        raise refusals[min(refusals)]


def district_refusals(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any]
) -> dict[int, InvalidInput]:
    """Position in ``news`` → the refusal of a feature that does not lie in the district its
    ``district`` field names (or lies outside every district): for every layer with such a field, once
    the workspace has districts. No override passes it: the field is corrected, not excused."""
    if spec.name == "districts" or "district" not in spec.field_names or "districts" not in ws.catalog:
        return {}
    which = [
        i
        for i, f in enumerate(news)
        if f.geometry is not None and (f.properties.get("district") is not None or spec.siting)
    ]
    if not which:
        return {}
    from geo_service.districts import DistrictIndex

    crs = ws.settings.metric_crs
    index = ws.cached(
        f"districts:{crs}",
        ("districts",),
        lambda: DistrictIndex.build(ws.frame("districts"), crs=crs),
        family="districts",
    )
    if not len(index):
        return {}
    out = {}
    placements = index.place([news[i].geometry for i in which])
    for i, placement in zip(which, placements, strict=True):
        named = news[i].properties.get("district")
        wrong = index.mismatch(placement, None if named is None else str(named))
        if wrong is not None:
            out[i] = InvalidInput(
                f"所在城区不符：{wrong[0]}",
                f"Wrong district: {wrong[1]}",
                layer=spec.name,
                feature=labels[i],
                field="district",
                details={"district_found": placement.district},
            )
    return out


def check_districts(
    ws: Workspace, spec: LayerSpec, news: Sequence[NewFeature], labels: Sequence[Any]
) -> None:
    refusals = district_refusals(ws, spec, news, labels)
    if refusals:
        raise refusals[min(refusals)]


def reference_refusals(
    ws: Workspace,
    spec: LayerSpec,
    news: Sequence[NewFeature],
    labels: Sequence[Any],
    only: Iterable[str] | None = None,
) -> dict[int, InvalidInput]:
    """Position in ``news`` → the refusal of a feature whose field names a feature of another layer that
    does not exist (a crew's depot, a shift's beat): the ``references`` of the layer's declaration.
    ``only``: the fields written (a PATCH leaves the others as they were)."""
    written = None if only is None else set(only)
    out: dict[int, InvalidInput] = {}
    for f in spec.fields:
        if not f.references or (written is not None and f.name not in written):
            continue
        target, _, key = f.references.partition(".")
        known = None
        for i, (feat, label) in enumerate(zip(news, labels, strict=True)):
            value = feat.properties.get(f.name)
            if value is None or i in out:
                continue
            if known is None:
                known = {str(v) for v in ws.frame(target)[key].dropna()}
            if str(value) not in known:
                shown = "、".join(sorted(known)[:10]) or "（无）"
                out[i] = InvalidInput(
                    f"字段 {f.name} 的值「{value}」不是已有的 {f.references}（如：{shown}）",
                    f"Field '{f.name}' is '{value}', which is no {f.references} "
                    f"(e.g. {', '.join(sorted(known)[:10]) or 'none'})",
                    layer=spec.name,
                    feature=label,
                    field=f.name,
                )
    return out


def check_references(
    ws: Workspace,
    spec: LayerSpec,
    news: Sequence[NewFeature],
    labels: Sequence[Any],
    only: Iterable[str] | None = None,
) -> None:
    """Refuse a write whose field names a feature of another layer that does not exist."""
    refusals = reference_refusals(ws, spec, news, labels, only)
    if refusals:
        raise refusals[min(refusals)]


def check_not_referenced(
    ws: Workspace, spec: LayerSpec, before: Mapping[str, Any], after: Mapping[str, Any] | None
) -> None:
    """Refuse removing (``after`` None) or renaming a key that features of other layers still name."""
    for other, field, key in referrers(ws, spec.name):
        if before.get(key) is None or (after is not None and after.get(key) == before.get(key)):
            continue
        frame = ws.frame(other)
        users = frame[frame[field].astype(str) == str(before[key])]
        if len(users):
            o_spec, f_spec = ws.catalog[other], ws.catalog[other].field(field)
            ids = [int(i) for i in users.index[:20]]  # which ones: a dispatcher goes to them next
            shown = ", ".join(map(str, ids)) + ("…" if len(users) > len(ids) else "")
            raise Conflict(
                f"{o_spec.title.get('zh') or other}（{other}）中仍有 {len(users)} 个要素（{shown}）的"
                f"「{f_spec.label('zh')}」为「{before[key]}」，请先修改它们",
                f"{len(users)} feature(s) of {other} ({shown}) still have {field} '{before[key]}'; change them "
                "first",
                layer=spec.name,
                field=key,
                details={"referrers": {"layer": other, "ids": ids}},
            )
    for outside in ws.outside_referrers:
        old = before.get(outside.key)
        if outside.layer != spec.name or old is None or (after is not None and after.get(outside.key) == old):
            continue
        holders = list(outside.holders(str(old)))
        if holders:
            raise Conflict(
                f"{outside.title['zh']}仍指向{spec.field(outside.key).label('zh')}「{old}」：{'、'.join(holders)}；"
                "请先修改它们",
                f"{outside.title['en']} still name {outside.key} '{old}': {', '.join(holders)}; change them first",
                layer=spec.name,
                field=outside.key,
                details={"holders": holders},
            )


@contextmanager
def checks_held(ws: Workspace, spec: LayerSpec) -> Iterator[None]:
    """The store's locks that a write holds across its checks and its write, so that no other write
    slips in between:

    - for a layer that names features of others (a crew its depot) or is named by them, the
      references lock: otherwise a crew could be given a depot while another request deletes it, both
      checks passing (helper-23 saw it on both stores);
    - for a layer with siting rules, the siting lock: otherwise two planners saving neighbouring sites
      at the same moment could both pass ``site-spacing``.

    Always taken in that order, so two writes never wait for each other's second lock."""
    with ExitStack() as held:
        if (
            any(f.references for f in spec.fields)
            or referrers(ws, spec.name)
            or any(r.layer == spec.name for r in ws.outside_referrers)
        ):
            held.enter_context(ws.store.exclusive(REFERENCES_LOCK))
        if spec.siting:
            held.enter_context(ws.store.exclusive(SITING_LOCK))
        yield


def referrers(ws: Workspace, layer: str) -> list[tuple[str, str, str]]:
    """(other layer, its field, this layer's key field) for each field declared to reference ``layer``."""
    out = []
    for other in ws.catalog.values():
        for f in other.fields:
            target, _, key = (f.references or "").partition(".")
            if target == layer:
                out.append((other.name, f.name, key))
    return out
