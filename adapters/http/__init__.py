"""HTTP adapter: JSON API, Open311 GeoReport v2 and the web console, in one FastAPI app."""

from adapters.http.app import create_app

__all__ = ["create_app"]
