"""Layer declarations: load ``layers/*.yaml`` and validate feature properties against them.

A declaration names the layer, its zh/en titles, its geometry type(s) (or none for a table), typed
fields with required/optional, allowed values and ranges, the fields that bound its validity in time,
and a map style. Storage, validation and the API are built from these, so a city adds a layer by
adding a file. A bad declaration stops the service at start with a message naming file and field.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from geo_service.errors import BadDeclaration, InvalidInput
from geo_service.timetext import YEARS, UnreadableTime, read_time

__all__ = [
    "FIELD_TYPES",
    "GEOMETRY_TYPES",
    "Catalog",
    "FieldSpec",
    "LayerSpec",
    "load_catalog",
    "parse_layer",
    "with_layers",
]

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime")
GEOMETRY_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")
RESERVED = {"fid", "id", "geom", "geometry", "_version"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TZ = ZoneInfo("Asia/Shanghai")
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f"}


@dataclass(frozen=True)
class FieldSpec:
    """One typed attribute of a layer."""

    name: str
    type: str
    required: bool = False
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    default: Any = None
    unique: bool = False
    references: str | None = None
    # another field of the layer this one may not equal (a shift's end, its start)
    differs_from: str | None = None
    title: Mapping[str, str] = field(default_factory=dict)
    description: Mapping[str, str] = field(default_factory=dict)
    # other headers that mean this field in an uploaded table (a 12345 export's 受理时间 for reported_at),
    # in order of preference; the name and the titles come before them
    aliases: tuple[str, ...] = ()
    # for an enum: other words for its values as people write them (巡查 for patrol), matched ignoring
    # case and surrounding spaces
    value_aliases: Mapping[str, Any] = field(default_factory=dict)

    def label(self, lang: str = "zh") -> str:
        return self.title.get(lang) or self.name

    def headers(self) -> list[str]:
        """The headers an uploaded table may give this field under: its Chinese title, its name, its
        English title, then its aliases (matched ignoring case and surrounding spaces)."""
        out: list[str] = []
        for label in (self.title.get("zh"), self.name, self.title.get("en"), *self.aliases):
            if label and label not in out:
                out.append(label)
        return out

    def coerce(self, value: Any, *, layer: str, feature: Any = None) -> Any:
        """Return ``value`` as this field's Python type, or raise ``InvalidInput`` naming the field."""
        if value is None or (isinstance(value, str) and value.strip() == "" and self.type != "string"):
            if self.required:
                raise self._missing(layer, feature)
            return None
        try:
            out = _COERCE[self.type](value)
        except UnreadableTime as e:  # a date or time: why, and the forms taken
            raise self._unreadable_time(e, value, layer, feature) from None
        except (TypeError, ValueError, OverflowError):
            raise self._error(
                f"应为{_TYPE_ZH[self.type]}", f"should be {self.type}", value, layer, feature
            ) from None
        if self.type == "string" and self.required and not str(out).strip():
            raise self._missing(layer, feature)
        if self.type == "string" and "\x00" in str(out):  # PostgreSQL text cannot hold it; nobody types it
            raise self._error("含有空字符 (\\0)", "contains a NUL character (\\0)", value, layer, feature)
        if self.type == "string" and not _unicode(str(out)):  # half an emoji from a file: no store holds it
            raise self._error(
                "含有无效字符（孤立的 UTF-16 代理项）",
                "holds an invalid character (a lone surrogate)",
                value,
                layer,
                feature,
            )
        if self.enum is not None and out not in self.enum:
            said = self.value_aliases.get(str(out).strip().lower(), _NOT_SAID)
            if said is not _NOT_SAID:
                return said
            allowed = ", ".join(map(str, self.enum))
            words = {v: [k for k, w in self.value_aliases.items() if w == v][:1] for v in self.enum}
            allowed_zh = "、".join(f"{v}（{words[v][0]}）" if words[v] else str(v) for v in self.enum)
            raise self._error(
                f"取值应为 {allowed_zh} 之一", f"must be one of {allowed}", value, layer, feature
            )
        if self.min is not None and isinstance(out, int | float) and out < self.min:
            raise self._error(
                f"不应小于 {self.min:g}", f"must be at least {self.min:g}", value, layer, feature
            )
        if self.max is not None and isinstance(out, int | float) and out > self.max:
            raise self._error(
                f"不应大于 {self.max:g}", f"must be at most {self.max:g}", value, layer, feature
            )
        if self.pattern is not None and isinstance(out, str) and not re.fullmatch(self.pattern, out):
            tidy = _tidy_clock_text(out)  # 7:00, 6点-20点, 07：00 as a spreadsheet or a clerk writes them
            if tidy != out and re.fullmatch(self.pattern, tidy):
                return tidy
            hint_zh, hint_en = self.description.get("zh"), self.description.get("en")
            raise self._error(
                "格式不正确" + (f"（{hint_zh}）" if hint_zh else ""),
                "is not in the form this field takes"
                + (f" ({hint_en})" if hint_en else f" (pattern {self.pattern})"),
                value,
                layer,
                feature,
            )
        return out

    def _missing(self, layer: str, feature: Any) -> InvalidInput:
        """A required field left out or blank, said as a sentence (there is no value to show)."""
        return InvalidInput(
            f"图层 {layer} 缺少必填字段「{self.label('zh')}」({self.name})",
            f"Layer {layer}: missing required field '{self.name}' ({self.label('zh')})",
            layer=layer,
            feature=feature,
            field=self.name,
        )

    def _unreadable_time(self, e: UnreadableTime, value: Any, layer: str, feature: Any) -> InvalidInput:
        zh, en = e.sentences(
            f"图层 {layer} 字段「{self.label('zh')}」({self.name}) 的值",
            f"Layer {layer}, field '{self.name}': the value",
            date=self.type == "date",
        )
        return InvalidInput(zh, en, layer=layer, feature=feature, field=self.name)

    def _error(self, zh: str, en: str, value: Any, layer: str, feature: Any) -> InvalidInput:
        shown = repr(value) if not isinstance(value, str) else f"'{value[:60]}'"
        shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")  # printable whatever was sent
        return InvalidInput(
            f"图层 {layer} 字段「{self.label('zh')}」({self.name}) {zh}：{shown}",
            f"Layer {layer}, field '{self.name}' {en}: {shown}",
            layer=layer,
            feature=feature,
            field=self.name,
        )


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+\.0*", text):  # 3.0: a whole number a spreadsheet (or a float column) wrote
        text = text.split(".")[0]
    out = int(text)
    if abs(out) >= 2**63:
        raise OverflowError(value)
    return out


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    out = float(value)
    if out != out or out in (float("inf"), float("-inf")):
        raise ValueError(value)
    return out


def _to_str(value: Any) -> str:
    if isinstance(value, dict | list | bool):
        raise TypeError(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.time):  # a spreadsheet's time cell (07:00 typed in Excel)
        return value.strftime("%H:%M")
    return str(value)


_NOT_SAID = object()


def _tidy_clock_text(text: str) -> str:
    """Times of day as people write them, in the form the layers keep: full-width digits and colons,
    ``6点`` / ``6点30``, ``～`` / ``至`` between two times, one-digit hours (``7:00`` → ``07:00``).

    >>> _tidy_clock_text("6点-20点"), _tidy_clock_text("7：30～22:00"), _tidy_clock_text("6点30至9点")
    ('06:00-20:00', '07:30-22:00', '06:30-09:00')
    """
    out = unicodedata.normalize("NFKC", text).strip()
    out = re.sub(r"(\d{1,2})点(\d{1,2})分?", lambda m: f"{m[1]}:{int(m[2]):02d}", out)
    out = re.sub(r"(\d{1,2})点", r"\1:00", out)
    out = re.sub(r"\s*(?:~|～|〜|—|–|至|到)\s*", "-", out)
    return re.sub(r"(?<!\d)(\d):(\d\d)", r"0\1:\2", out)


def _to_date(value: Any) -> dt.date:
    """A date, or the day (in Beijing) of a time, in the forms :func:`_to_datetime` reads
    (2026-12-01, 2026/12/1, 2026年12月1日, …); text must be one or the other whole, not a date with
    anything after it."""
    if isinstance(value, dt.datetime):  # (a spreadsheet's date cell, too)
        day = value.astimezone(_TZ).date() if value.tzinfo is not None else value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and len(value.strip()) <= 10:
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            return _to_datetime(value).date()
    else:
        return _to_datetime(value).date()
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise UnreadableTime("years", value)
    return day


def _to_datetime(value: Any) -> dt.datetime:
    """A time in Beijing: ISO 8601 or the Chinese forms with the year first that 12345 and 数字城管
    spreadsheets use (2026/12/01 21:00, 2026年12月1日 21:00, 下午9:05, full-width digits), as
    :func:`geo_service.timetext.read_time` reads them; naive ones are Beijing time. Ambiguous forms
    (12/01/2026) and numbers raise :class:`UnreadableTime`, which says why."""
    out = read_time(value.strip() if isinstance(value, str) else value)
    if not YEARS[0] <= out.year <= YEARS[1]:  # (and before 1901 a zone's offset is its local mean time)
        raise UnreadableTime("years", value)
    if out.tzinfo is None:
        out = out.replace(tzinfo=_TZ)
    out = out.astimezone(_TZ)
    if not YEARS[0] <= out.year <= YEARS[1]:  # the year in Beijing (2099-12-31T20:00Z is 2100 here)
        raise UnreadableTime("years", value)
    return out


_COERCE = {
    "string": _to_str,
    "integer": _to_int,
    "number": _to_float,
    "boolean": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
}
_TYPE_ZH = {
    "string": "文本",
    "integer": "整数",
    "number": "数值",
    "boolean": "是/否",
    "date": "日期",
    "datetime": "日期时间",
}


@dataclass(frozen=True)
class LayerSpec:
    """A layer as declared in one file of ``layers/``."""

    name: str
    title: Mapping[str, str]
    geometry_types: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    time_start: str | None = None
    time_end: str | None = None
    style: Mapping[str, Any] = field(default_factory=dict)
    description: Mapping[str, str] = field(default_factory=dict)
    siting: bool = False
    editors: tuple[str, ...] = ()
    source: Path | None = None

    @property
    def is_table(self) -> bool:
        """A layer without geometry (rosters, crews, category tables)."""
        return not self.geometry_types

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise InvalidInput(
            f"图层 {self.name} 没有字段「{name}」",
            f"Layer {self.name} has no field '{name}'",
            layer=self.name,
            field=name,
        )

    def validate_properties(
        self, properties: Mapping[str, Any] | None, *, partial: bool = False, feature: Any = None
    ) -> dict[str, Any]:
        """Check and coerce a feature's properties.

        Unknown fields are refused; missing optional ones take their default. With ``partial`` only
        the given fields are checked (a PATCH), and required ones may be absent.
        """
        props = dict(properties or {})
        for key in ("id", "fid", "_version"):
            props.pop(key, None)
        unknown = [k for k in props if k not in self.field_names]
        if unknown:
            raise InvalidInput(
                f"图层 {self.name} 没有字段「{unknown[0]}」（可用字段：{', '.join(self.field_names)}）",
                f"Layer {self.name} has no field '{unknown[0]}' (fields: {', '.join(self.field_names)})",
                layer=self.name,
                feature=feature,
                field=unknown[0],
            )
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name in props:
                out[f.name] = f.coerce(props[f.name], layer=self.name, feature=feature)
            elif not partial:
                out[f.name] = f.coerce(f.default, layer=self.name, feature=feature)
        start, end = self.time_start, self.time_end
        if (
            start
            and end
            and out.get(start) is not None
            and out.get(end) is not None
            and out[end] < out[start]
        ):
            raise InvalidInput(
                f"图层 {self.name}：结束日期 {out[end]} 早于开始日期 {out[start]}",
                f"Layer {self.name}: '{end}' ({out[end]}) is before '{start}' ({out[start]})",
                layer=self.name,
                feature=feature,
                field=end,
            )
        for f in self.fields:
            other = f.differs_from
            if other and out.get(f.name) is not None and out.get(f.name) == out.get(other):
                hint_zh = f"：{f.description['zh']}" if f.description.get("zh") else ""
                hint_en = f": {f.description['en']}" if f.description.get("en") else ""
                twin = self.field(other)
                raise InvalidInput(
                    f"{f.label('zh')}不能与{twin.label('zh')}相同（都是 {out[f.name]}）{hint_zh}",
                    f"{f.label('en')} cannot be the same as {twin.label('en')} (both {out[f.name]}){hint_en}",
                    layer=self.name,
                    feature=feature,
                    field=f.name,
                )
        return out

    def blanks_defaulted(self, properties: Mapping[str, Any], *, new: bool = True) -> dict[str, Any]:
        """``properties`` of an imported row with a blank value (None, or spaces) of a field that
        declares a default replaced by that default.

        In a ``new`` feature's row an empty cell is a value not given, as a column left out is and as
        an API create without the field is: a new stall site's empty 开放时段 is 06:00-20:00, a 12345
        table's empty 来源 is 12345. In the row of a feature the file updates (``new=False``) an empty
        cell of an optional field is that field emptied (the clerk cleared it, or it was empty in the
        export), and only a required field, which cannot be empty, takes its default.
        """
        out = dict(properties)
        for f in self.fields:
            value = out.get(f.name)
            if (
                (new or f.required)
                and f.default is not None
                and f.name in out
                and (value is None or (isinstance(value, str) and not value.strip()))
            ):
                out[f.name] = f.default
        return out

    def is_valid_at(self, properties: Mapping[str, Any], at: dt.datetime | dt.date) -> bool:
        """True where the feature's validity window (if the layer has one) holds ``at``."""
        day = at.astimezone(_TZ).date() if isinstance(at, dt.datetime) else at
        start = properties.get(self.time_start) if self.time_start else None
        end = properties.get(self.time_end) if self.time_end else None
        return (start is None or start <= day) and (end is None or day <= end)


class Catalog(Mapping[str, LayerSpec]):
    """The declared layers, by name."""

    def __init__(self, layers: Mapping[str, LayerSpec]) -> None:
        self._layers = dict(layers)

    def __getitem__(self, name: str) -> LayerSpec:
        try:
            return self._layers[name]
        except KeyError:
            from geo_service.errors import NotFound

            raise NotFound(
                f"没有名为「{name}」的图层（现有：{', '.join(self._layers)}）",
                f"No layer named '{name}' (layers: {', '.join(self._layers)})",
                layer=name,
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, name: object) -> bool:
        return name in self._layers

    def get(self, name: str, default: LayerSpec | None = None) -> LayerSpec | None:  # type: ignore[override]
        return self._layers.get(name, default)


def _bad(path: Path, zh: str, en: str, field: str | None = None) -> BadDeclaration:
    where = f"{path.name}" + (f", field '{field}'" if field else "")
    where_zh = f"{path.name}" + (f" 字段「{field}」" if field else "")
    return BadDeclaration(f"图层声明 {where_zh}：{zh}", f"Layer declaration {where}: {en}", field=field)


def _titles(value: Any, path: Path, what: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"zh": value, "en": value}
    if not isinstance(value, Mapping) or not value.get("zh"):
        raise _bad(path, f"{what} 需要 zh/en 标题", f"{what} needs zh/en titles")
    extra = [str(k) for k in value if k not in ("zh", "en")]
    if extra:  # {zh: 如 1-5 或 1-5,7, …}: YAML cuts the text at the comma and reads the rest as a key
        raise _bad(
            path,
            f"{what} 的标题或说明中有 zh、en 以外的键 {extra}：含逗号的文字请加引号",
            f"{what}: a title or description has keys other than zh and en {extra}; quote text that holds a "
            "comma",
        )
    return {"zh": str(value["zh"]), "en": str(value.get("en") or value["zh"])}


def _load_field(raw: Any, path: Path) -> FieldSpec:
    if not isinstance(raw, Mapping) or "name" not in raw:
        raise _bad(path, "字段需要 name", "every field needs a name")
    name = str(raw["name"])
    if not _NAME.fullmatch(name) or name in RESERVED:
        raise _bad(path, "字段名无效或为保留字", "invalid or reserved field name", name)
    known = {
        "name",
        "type",
        "required",
        "enum",
        "min",
        "max",
        "pattern",
        "default",
        "unique",
        "references",
        "differs_from",
        "title",
        "description",
        "aliases",
        "value_aliases",
    }
    extra = set(raw) - known
    if extra:
        raise _bad(path, f"未知属性 {sorted(extra)}", f"unknown keys {sorted(extra)}", name)
    ftype = raw.get("type")
    if ftype not in FIELD_TYPES:
        raise _bad(
            path,
            f"类型「{ftype}」无效，应为 {FIELD_TYPES}",
            f"type '{ftype}' is not one of {FIELD_TYPES}",
            name,
        )
    lo, hi = raw.get("min"), raw.get("max")
    for bound in (lo, hi):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise _bad(path, "min/max 应为数值", "min/max must be numbers", name)
    if lo is not None and hi is not None and lo > hi:
        raise _bad(path, "min 大于 max", "min is greater than max", name)
    if (lo is not None or hi is not None) and ftype not in ("integer", "number"):
        raise _bad(path, "只有数值字段可设 min/max", "only numeric fields take min/max", name)
    pattern = raw.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _bad(path, f"正则表达式无效：{exc}", f"invalid pattern: {exc}", name) from None
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise _bad(path, "aliases 应为表头文字的列表", "aliases must be a list of header texts", name)
    enum = raw.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise _bad(path, "enum 应为非空列表", "enum must be a non-empty list", name)
    said = raw.get("value_aliases", {})
    if not isinstance(said, dict) or (said and (enum is None or any(v not in enum for v in said.values()))):
        raise _bad(
            path,
            "value_aliases 应为「说法: 取值」的映射，取值须在 enum 中",
            "value_aliases must map words to values of the enum",
            name,
        )
    spec = FieldSpec(
        name=name,
        type=ftype,
        required=bool(raw.get("required", False)),
        enum=tuple(_COERCE[ftype](v) for v in enum) if enum else None,
        min=lo,
        max=hi,
        pattern=pattern,
        default=raw.get("default"),
        unique=bool(raw.get("unique", False)),
        references=raw.get("references"),
        differs_from=raw.get("differs_from"),
        title=_titles(raw.get("title", name), path, name),
        description=_titles(raw["description"], path, name) if raw.get("description") else {},
        aliases=tuple(a.strip() for a in aliases),
        value_aliases={str(k).strip().lower(): _COERCE[ftype](v) for k, v in said.items()},
    )
    if spec.default is not None:
        try:
            spec.coerce(spec.default, layer=path.stem)
        except InvalidInput:
            raise _bad(
                path,
                f"默认值 {spec.default!r} 不符合字段定义",
                f"default {spec.default!r} is not valid",
                name,
            ) from None
    return spec


def load_layer(path: Path) -> LayerSpec:
    """Read and check one declaration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"无法读取：{exc}", f"cannot be read: {exc}") from None
    return parse_layer(text, path)


def parse_layer(text: str, path: Path) -> LayerSpec:
    """Check one declaration given as its text (a backup carries them); ``path`` is what messages name
    and what the layer's ``source`` is."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _bad(path, f"无法读取：{exc}", f"cannot be read: {exc}") from None
    if not isinstance(raw, Mapping):
        raise _bad(path, "内容应为映射", "must be a mapping")
    known = {"name", "title", "description", "geometry", "fields", "time", "style", "siting", "editors"}
    extra = set(raw) - known
    if extra:
        raise _bad(path, f"未知属性 {sorted(extra)}", f"unknown keys {sorted(extra)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _bad(path, "name 无效（小写字母、数字、下划线）", "name must be lower-case letters, digits, _")
    geometry = raw.get("geometry")
    geoms = () if geometry is None else ((geometry,) if isinstance(geometry, str) else tuple(geometry))
    for g in geoms:
        if g not in GEOMETRY_TYPES:
            raise _bad(path, f"几何类型「{g}」无效", f"geometry type '{g}' is not one of {GEOMETRY_TYPES}")
    fields_raw = raw.get("fields") or []
    if not isinstance(fields_raw, list):
        raise _bad(path, "fields 应为列表", "fields must be a list")
    fields = tuple(_load_field(f, path) for f in fields_raw)
    names = [f.name for f in fields]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise _bad(path, "字段重复", "duplicate field", sorted(dupes)[0])
    time = raw.get("time") or {}
    start, end = time.get("start"), time.get("end")
    for key in (start, end):
        if key is not None and (
            key not in names or next(f for f in fields if f.name == key).type not in ("date", "datetime")
        ):
            raise _bad(path, "time 应指向日期字段", "time must name date fields of the layer", key)
    editors = raw.get("editors") or []
    roles = ("admin", "planner", "dispatcher", "crew", "viewer")
    if not isinstance(editors, list) or any(e not in roles for e in editors):
        raise _bad(path, f"editors 应为角色列表 {roles}", f"editors must be a list of roles {roles}")
    style = raw.get("style") or {}
    if not isinstance(style, Mapping):
        raise _bad(path, "style 应为映射", "style must be a mapping")
    return LayerSpec(
        name=name,
        title=_titles(raw.get("title"), path, "layer"),
        description=_titles(raw["description"], path, "description") if raw.get("description") else {},
        geometry_types=geoms,
        fields=fields,
        time_start=start,
        time_end=end,
        style=dict(style),
        siting=bool(raw.get("siting", False)),
        editors=tuple(editors),
        source=path,
    )


def load_catalog(directory: Path | str) -> Catalog:
    """Load every ``*.yaml`` declaration in ``directory``.

    Raises
    ------
    BadDeclaration
        Naming the file (and field) of the first declaration that cannot be used.
    """
    directory = Path(directory)
    paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not paths:
        raise BadDeclaration(f"目录 {directory} 中没有图层声明", f"No layer declarations in {directory}")
    return with_layers(Catalog({}), [load_layer(path) for path in paths], directory=directory)


def with_layers(catalog: Catalog, specs: Iterable[LayerSpec], *, directory: Path | None = None) -> Catalog:
    """``catalog`` with ``specs`` added, checked as :func:`load_catalog` checks a folder of them: no name
    twice, and every ``differs_from`` and ``references`` naming a field that is there.

    Raises
    ------
    BadDeclaration
        Naming the file (and field) of the first declaration that cannot be used.
    """
    layers = dict(catalog.items())
    where = directory or Path(".")
    for spec in specs:
        if spec.name in layers:
            raise _bad(
                spec.source or where, f"图层名 {spec.name} 重复", f"layer name {spec.name} is declared twice"
            )
        layers[spec.name] = spec
    for spec in layers.values():
        for f in spec.fields:
            if f.differs_from is not None and f.differs_from not in spec.field_names:
                raise _bad(
                    spec.source or where,
                    f"differs_from 所指的字段 {f.differs_from} 不存在",
                    f"differs_from names {f.differs_from}, which is no field of the layer",
                    f.name,
                )
            if f.references:
                target, _, target_field = f.references.partition(".")
                if target not in layers or target_field not in layers[target].field_names:
                    raise _bad(
                        spec.source or where,
                        f"引用 {f.references} 不存在",
                        f"references {f.references}, which does not exist",
                        f.name,
                    )
    return Catalog(layers)
