"""The user guide tells the truth: every endpoint it names exists with that method, every
`geo-service …` command it shows parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from geo_service.cli import build_parser

GUIDES = sorted((Path(__file__).resolve().parent.parent / "docs" / "guide").glob("*.md"))
ENDPOINT = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)")
COMMAND = re.compile(r"`(geo-service [^`]+)`")


def _template_match(path: str, templates: set[str]) -> bool:
    for t in templates:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"
        if re.match(pattern, path):
            return True
    return False


@pytest.mark.parametrize("guide", GUIDES, ids=[g.stem for g in GUIDES])
def test_endpoints_and_commands_exist(guide, client):
    text = guide.read_text(encoding="utf-8")
    routes: dict[str, set[str]] = {}
    for path, ops in client.app.openapi()["paths"].items():
        for method in ops:
            routes.setdefault(method.upper(), set()).add(path)
    named = ENDPOINT.findall(text)
    assert len(named) >= 10
    for method, path in named:
        path = re.sub(r"<[^>]+>|方案编号|班组|图层", "x", path)
        assert _template_match(path, routes.get(method, set())), (method, path)
    commands = COMMAND.findall(text)
    assert len(commands) >= 5
    parser = build_parser()
    for cmd in commands:
        args = shlex.split(cmd)[1:]
        args = [a for a in args if a != "…"]
        parser.parse_args(args)
