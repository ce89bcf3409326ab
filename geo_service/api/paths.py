"""Where the service's own web assets live (served at /static, read by the print renderer)."""

from pathlib import Path

__all__ = ["STATIC_DIR"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
