"""HTML put into a folium page as it is.

branca's ``Element(text)`` is a Jinja template: whatever ``{{ … }}``, ``{% … %}`` or ``{# …`` the text
holds is run on the server when the page renders, so a name typed by a user (a plan title, a stop or a
district) could run code in the service. Every piece of HTML the map pages add goes through
:class:`Raw`, whose template prints the text and never reads it as a template.
"""

from __future__ import annotations

from branca.element import Element

__all__ = ["Raw"]


class Raw(Element):
    """A piece of HTML (or script) written into the page verbatim: already escaped where it needs to be."""

    def __init__(self, text: str) -> None:
        super().__init__(template="{{ this.text }}")
        self.text = text
