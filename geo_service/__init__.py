"""geo-service: a geospatial planning service for a city's urban-management bureau (城市管理局).

Coverage, assignment, siting, snow routes and maps over layers declared in ``layers/``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
