"""Siting rules as data: load and check a rule file (``layers/rules/siting.yaml``).

A rule names its kind, the layers it applies to, its parameters (distances, classes, kinds), a
message in Chinese and English and its source. A rule that refers to a missing layer, field, road
class or feature kind, or has a negative distance, is refused at load time naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from geo_service.catalog import Catalog
from geo_service.errors import BadDeclaration

__all__ = ["KINDS", "KIND_FIELDS", "Rule", "RuleSet", "load_rules"]

#: rule kind → (required parameters, layer and field whose allowed values the parameter must use)
KINDS: dict[str, dict[str, tuple[str, str] | None]] = {
    "road_setback": {"road_classes": ("roads", "road_class"), "distance_m": None},
    "road_conditions": {"road_classes": ("roads", "road_class"), "distance_m": None},
    "poi_setback": {"poi_kinds": ("pois", "kind"), "distance_m": None},
    "no_overlap": {"area_kinds": ("restricted_areas", "kind")},
    "spacing": {"layers": None, "distance_m": None},
    "density": {"min_m2_per_stall": None},
    "hours": {"earliest": None, "latest": None},
    "lunar_window": {"lunar_from": None, "lunar_to": None},
    "goods": {"allowed": None},
}

#: rule kind → fields of the checked layer it reads (``field:`` in the rule renames the single one)
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "road_conditions": ("capacity", "hours"),
    "density": ("capacity",),
    "hours": ("hours",),
    "goods": ("goods",),
    "lunar_window": ("valid_from", "valid_to"),
}
_CONTEXT_LAYERS = ("roads", "pois", "restricted_areas")


@dataclass(frozen=True)
class Rule:
    """One siting rule."""

    id: str
    kind: str
    applies_to: tuple[str, ...]
    params: Mapping[str, Any]
    message: Mapping[str, str]
    title: Mapping[str, str]
    source: str
    severity: str = "error"

    def text(self, lang: str, **values: Any) -> str:
        """The message in ``lang`` (zh/en) with parameters and ``values`` filled in."""
        try:
            return self.message[lang].format(**{**self.params, **values})
        except (KeyError, IndexError, ValueError):
            return self.message[lang]


@dataclass(frozen=True)
class RuleSet:
    """The rules of a file, and the layers the checker must read for them."""

    rules: tuple[Rule, ...]
    path: Path | None = None
    layers_read: tuple[str, ...] = field(
        default=("roads", "pois", "restricted_areas", "stall_sites", "festival_sales_points")
    )

    def for_layer(self, layer: str) -> tuple[Rule, ...]:
        """The rules that apply to a layer, in file order."""
        return tuple(r for r in self.rules if layer in r.applies_to)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)


def _bad(rule: str, zh: str, en: str) -> BadDeclaration:
    return BadDeclaration(f"选址规则「{rule}」：{zh}", f"Siting rule '{rule}': {en}", field=rule)


def load_rules(path: Path | str, *, catalog: Catalog) -> RuleSet:
    """Read and check a rule file against the layer catalog.

    Parameters
    ----------
    path
        The YAML file (``rules:`` list; see ``layers/rules/siting.yaml``).
    catalog
        The layer declarations: layers, fields and allowed values the rules may name.

    Raises
    ------
    BadDeclaration
        Naming the rule: unknown kind, missing layer or field, unknown road class / POI kind / area kind,
        negative distance, missing message.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BadDeclaration(
            f"选址规则文件 {path.name} 无法读取：{exc}", f"Rule file {path.name} cannot be read: {exc}"
        ) from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rules"), list):
        raise BadDeclaration(
            f"选址规则文件 {path.name} 应含 rules 列表", f"Rule file {path.name} needs a 'rules' list"
        )
    rules, seen = [], set()
    for item in raw["rules"]:
        rid = str(item.get("id") or "?") if isinstance(item, Mapping) else "?"
        if not isinstance(item, Mapping) or rid == "?":
            raise _bad(rid, "缺少 id", "has no id")
        if rid in seen:
            raise _bad(rid, "编号重复", "id is used twice")
        seen.add(rid)
        kind = item.get("kind")
        if kind not in KINDS:
            raise _bad(
                rid,
                f"类型「{kind}」未知（可用：{', '.join(KINDS)}）",
                f"unknown kind '{kind}' ({', '.join(KINDS)})",
            )
        applies = tuple(item.get("applies_to") or ())
        if not applies:
            raise _bad(rid, "applies_to 为空", "applies_to is empty")
        for layer in applies:
            if layer not in catalog:
                raise _bad(rid, f"图层「{layer}」不存在", f"refers to the missing layer '{layer}'")
        params = {
            k: v
            for k, v in item.items()
            if k not in ("id", "kind", "applies_to", "message", "title", "source", "severity")
        }
        for name, ref in KINDS[kind].items():
            if name not in params:
                raise _bad(rid, f"缺少参数 {name}", f"misses the parameter '{name}'")
            if ref is not None:
                layer, fld = ref
                if layer not in catalog or fld not in catalog[layer].field_names:
                    raise _bad(
                        rid,
                        f"引用的图层字段 {layer}.{fld} 不存在",
                        f"refers to the missing field {layer}.{fld}",
                    )
                allowed = catalog[layer].field(fld).enum or ()
                for value in params[name]:
                    if value not in allowed:
                        raise _bad(
                            rid,
                            f"「{value}」不是 {layer}.{fld} 的取值",
                            f"'{value}' is not a value of {layer}.{fld} ({', '.join(map(str, allowed))})",
                        )
        if kind == "spacing":
            for layer in params["layers"]:
                if layer not in catalog:
                    raise _bad(rid, f"图层「{layer}」不存在", f"refers to the missing layer '{layer}'")
        fields = (params["field"],) if isinstance(params.get("field"), str) else KIND_FIELDS.get(kind, ())
        for layer in applies:
            for fld in fields:
                if fld not in catalog[layer].field_names:
                    raise _bad(
                        rid, f"图层 {layer} 没有字段「{fld}」", f"reads the missing field {layer}.{fld}"
                    )
        if kind == "spacing":
            for layer in params["layers"]:
                if not getattr(catalog[layer], "siting", False):
                    raise _bad(
                        rid,
                        f"间距只能针对摊点图层，{layer} 不是",
                        f"spacing applies between site layers; '{layer}' is not one",
                    )
        for name in ("distance_m", "min_m2_per_stall", "max_capacity"):
            if name in params and (not isinstance(params[name], int | float) or params[name] < 0):
                raise _bad(rid, f"{name} 应为非负数", f"{name} must be a non-negative number")
        message = item.get("message") or {}
        if not message.get("zh") or not message.get("en"):
            raise _bad(rid, "需要中英文提示", "needs zh and en messages")
        rules.append(
            Rule(
                id=rid,
                kind=kind,
                applies_to=applies,
                params=params,
                message=message,
                title=item.get("title") or {"zh": rid, "en": rid},
                source=str(item.get("source") or ""),
                severity=str(item.get("severity") or "error"),
            )
        )
    sites = {layer for r in rules for layer in r.applies_to}
    sites |= {layer for r in rules if r.kind == "spacing" for layer in r.params["layers"]}
    context = (*_CONTEXT_LAYERS, "districts") if "districts" in catalog else _CONTEXT_LAYERS
    return RuleSet(tuple(rules), path, layers_read=(*context, *sorted(sites)))
