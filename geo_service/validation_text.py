"""pydantic's validation errors said in Chinese (its own messages are English), for the API's
problem documents and the settings refused at start alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["zh_of"]

# pydantic's error types, said in Chinese (its own messages are English); others fall back to them
_ZH_OF_TYPE = {
    "missing": "缺少此参数",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "greater_than_equal": "应不小于 {ge}",
    "less_than_equal": "应不大于 {le}",
    "greater_than": "应大于 {gt}",
    "less_than": "应小于 {lt}",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字（不能是 NaN 或无穷大）",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为字符串",
    "datetime_parsing": "应为 ISO 8601 时间（如 2026-12-01T21:00）",
    "datetime_from_date_parsing": "应为 ISO 8601 时间（如 2026-12-01T21:00）",
    "datetime_type": "应为 ISO 8601 时间（如 2026-12-01T21:00）",
    "json_invalid": "不是有效的 JSON（{error}）",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "extra_forbidden": "不允许此参数",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
}


def _plain(value: Any) -> Any:
    """A bound as people write it: 5000, not 5000.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def zh_of(err: Mapping[str, Any]) -> str:
    """pydantic's error ``err`` (one of ``ValidationError.errors()``) said in Chinese."""
    text = _ZH_OF_TYPE.get(str(err.get("type")))
    if text is None:
        return f"格式不对（{err.get('msg')}）"
    try:
        return text.format(**{k: _plain(v) for k, v in (err.get("ctx") or {}).items()})
    except (KeyError, IndexError):
        return f"格式不对（{err.get('msg')}）"
