"""File names for what the service hands out as files (prints, exports, backups, the audit log).

A name is sent twice (RFC 6266): a plain ASCII ``filename`` every client understands, and the real
name as UTF-8 in ``filename*`` (RFC 5987), so that a browser saves ``冻雨除雪预案-中站一组-2026-12-06.pdf``
rather than the last piece of the URL.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

__all__ = ["content_disposition", "file_stem"]

# what no file name may hold on the common systems (and quotes, which would end the header's value)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(*parts: str) -> str:
    """A file name (without its extension) from ``parts`` joined by '-': characters a file system
    refuses, and runs of blanks, each become one '-'; the parts left empty are dropped."""
    cleaned = (_UNSAFE.sub("-", " ".join(str(p).split())).strip(" .-") for p in parts)
    return "-".join(p.replace(" ", "-") for p in cleaned if p)


def content_disposition(
    filename: str, *, fallback: str, disposition: Literal["attachment", "inline"] = "attachment"
) -> str:
    """The ``Content-Disposition`` value for ``filename`` (any text), with ``fallback`` for clients
    that know only the plain form: reduced to ASCII letters, digits, '.', '_' and '-'.

    >>> content_disposition("雪天路线-2026-12-06.pdf", fallback="route-2026-12-06.pdf")
    'attachment; filename="route-2026-12-06.pdf"; filename*=UTF-8\\'\\'%E9%9B%AA%E5%A4%A9%E8%B7%AF%E7%BA%BF-2026-12-06.pdf'
    """
    plain = _NOT_PLAIN.sub("-", fallback).strip("-.") or "download"
    name = _UNSAFE.sub("-", filename).strip() or plain
    if name == plain:
        return f'{disposition}; filename="{plain}"'
    return f"{disposition}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
