"""The HTTP API: a FastAPI app factory, one router per resource, one error mapping."""

from geo_service.api.app import create_app

__all__ = ["create_app"]
