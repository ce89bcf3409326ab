"""Static PNG and PDF of a map page for reports, drawn by headless Chromium from a local file
(the page's scripts read from the service's own static folder; nothing is fetched from outside).

A PDF is A4 (the page's ``@page`` rule, see :mod:`geo_service.maps.furniture`), laid out in a window
the size of the page inside its margins, so the map fills the sheet as it would the screen."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from geo_service.errors import GeoServiceError
from geo_service.maps.furniture import Orientation, page_px

__all__ = ["PrintUnavailable", "print_page"]


# a printed page runs from a file: it may load the service's scripts, styles, fonts and images, and
# nothing else: no frames, objects or requests (so no text that got into the page can show other files)
_POLICY = (
    "default-src 'none'; script-src file: 'unsafe-inline' 'unsafe-eval'; style-src file: 'unsafe-inline'; "
    "img-src file: data: blob: http: https:; font-src file: data:; frame-src 'none'; object-src 'none'; connect-src 'none'"
)


def _confined(html: str) -> str:
    meta = f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
    head = html.find("<head>")
    return html[: head + 6] + meta + html[head + 6 :] if head >= 0 else meta + html


class PrintUnavailable(GeoServiceError):
    code = "print-unavailable"
    title = {"zh": "无法生成打印图", "en": "Print unavailable"}


def print_page(
    html: str,
    *,
    fmt: str,
    chromium: Path,
    orientation: Orientation = "landscape",
    width: int | None = None,
    height: int | None = None,
    wait_ms: int = 4000,
) -> bytes:
    """Render ``html`` (with file:// asset URLs) to PNG or PDF bytes.

    A PDF is one A4 page of ``orientation`` (more when the page runs on); a PNG is ``width`` ×
    ``height`` pixels, by default 1280 × 900 turned to the orientation."""
    if fmt == "pdf":
        width, height = page_px(orientation)
    else:
        wide, tall = (1280, 900) if orientation == "landscape" else (900, 1280)
        width, height = width or wide, height or tall
    if not Path(chromium).exists():
        raise PrintUnavailable(
            f"未找到 Chromium（{chromium}），无法生成 {fmt.upper()}",
            f"Chromium not found at {chromium}: cannot make the {fmt.upper()}",
        )
    with tempfile.TemporaryDirectory(prefix="geo-print-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(_confined(html), encoding="utf-8")
        out = Path(tmp) / f"out.{fmt}"
        cmd = [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp}/profile",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={wait_ms}",
        ]
        cmd += (
            [f"--screenshot={out}"] if fmt == "png" else [f"--print-to-pdf={out}", "--no-pdf-header-footer"]
        )
        cmd.append(page.as_uri())
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if not out.exists():
            raise PrintUnavailable(
                "Chromium 未能生成打印图", f"Chromium did not produce the print: {done.stderr[-300:]}"
            )
        return out.read_bytes()
