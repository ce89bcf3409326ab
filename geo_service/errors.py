"""The domain exception tree.

Every error a user can cause is one of these, with a message in Chinese and English and, where it
applies, the layer, feature and field at fault. ``geo_service.api.problems`` maps them to HTTP
statuses and ``application/problem+json``; nothing else in the package knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BadDeclaration",
    "ComputationTimeout",
    "Conflict",
    "GeoServiceError",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionRequired",
    "StorageFull",
    "StorageUnwritable",
    "StoreUnavailable",
    "UnsupportedFormat",
]


class GeoServiceError(Exception):
    """Base of every error the service reports to its users.

    Parameters
    ----------
    zh, en
        The message in Chinese and in English.
    layer, feature, field
        Where the fault is, when known.
    details
        Extra machine-readable members for the problem document (for example siting violations).
    """

    code = "error"
    title = {"zh": "错误", "en": "Error"}

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        layer: str | None = None,
        feature: Any = None,
        field: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.layer = layer
        self.feature = feature
        self.field = field
        self.details = dict(details or {})

    def as_dict(self) -> dict[str, Any]:
        """The members of the problem document that describe this error."""
        out: dict[str, Any] = {
            "code": self.code,
            "title": f"{self.title['zh']} / {self.title['en']}",
            "detail": f"{self.zh} / {self.en}",
            "detail_zh": self.zh,
            "detail_en": self.en,
        }
        for key in ("layer", "feature", "field"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update(self.details)
        return out

    def as_line(self) -> str:
        """The error as a refused command or start says it on stderr: ``错误 / error [field]: 中文 / English``.

        >>> InvalidInput("班组不存在", "No such crew", field="--crew").as_line()
        '错误 / error [--crew]: 班组不存在 / No such crew'
        """
        where = f" [{self.field}]" if self.field else ""  # the option or field at fault
        return f"错误 / error{where}: {self.zh} / {self.en}"


class InvalidInput(GeoServiceError):
    """The request or file holds something the service cannot accept."""

    code = "invalid-input"
    title = {"zh": "输入无效", "en": "Invalid input"}


class NotFound(GeoServiceError):
    """A layer, feature, plan or crew that does not exist."""

    code = "not-found"
    title = {"zh": "未找到", "en": "Not found"}


class Conflict(GeoServiceError):
    """A write that names a stale version, or clashes with a uniqueness rule."""

    code = "conflict"
    title = {"zh": "冲突", "en": "Conflict"}


class PreconditionRequired(GeoServiceError):
    """An update or delete that does not say which version it expects."""

    code = "precondition-required"
    title = {"zh": "缺少版本号", "en": "Precondition required"}


class PayloadTooLarge(GeoServiceError):
    """An upload, body, geometry or batch beyond the configured limits."""

    code = "too-large"
    title = {"zh": "内容过大", "en": "Payload too large"}


class UnsupportedFormat(GeoServiceError):
    """A file whose format the service does not read."""

    code = "unsupported-format"
    title = {"zh": "不支持的格式", "en": "Unsupported format"}


class StoreUnavailable(GeoServiceError):
    """The store cannot be reached right now (for example PostGIS is down)."""

    code = "store-unavailable"
    title = {"zh": "存储不可用", "en": "Store unavailable"}


class StorageFull(StoreUnavailable):
    """The disk (or database) holding the workspace is full: the write was rolled back, nothing was
    half-written (507 Insufficient Storage). See ``geo_service.store.failures``."""

    code = "storage-full"
    title = {"zh": "存储空间已满", "en": "Storage full"}


class StorageUnwritable(StoreUnavailable):
    """The workspace cannot be written (a read-only file or database, a disk error): the write was
    rolled back. See ``geo_service.store.failures``."""

    code = "storage-unwritable"
    title = {"zh": "工作空间无法写入", "en": "Workspace cannot be written"}


class BadDeclaration(GeoServiceError):
    """A layer declaration or rule set that cannot be loaded; the service refuses to start."""

    code = "bad-declaration"
    title = {"zh": "声明文件有误", "en": "Bad declaration"}


class ComputationTimeout(GeoServiceError):
    """A computation ran past its budget (see ``geo_service.budget``); answered 503 with Retry-After."""

    code = "computation-timeout"
    title = {"zh": "计算超时", "en": "Computation timed out"}

    @classmethod
    def after(cls, seconds: float) -> ComputationTimeout:
        return cls(
            f"计算超过 {seconds:g} 秒的时限，请缩小范围或稍后重试",
            f"The computation exceeded its {seconds:g} s budget; narrow it or retry later",
        )
