"""城管通, the field app (/m/): an installable, offline-first web app for the people on the
street, served by the same process as the console and the API.

pwa (the manifest, the service worker and its version), screens (home, report, patrol
report, a unit's inbox, the supervisor's check list, a case), shared (the viewer, photos).
Every write goes through the JSON API from static/field/field.js, by a queue kept in
IndexedDB on the phone, so that what is done without network is sent when it returns.
"""

from adapters.http.field.shared import error_page, router

# each module adds its routes to `router` when imported
from adapters.http.field import pwa, screens  # noqa: F401, E402  isort: skip

__all__ = ["error_page", "router"]
