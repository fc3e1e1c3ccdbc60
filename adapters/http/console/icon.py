"""The site's icon (favicon): browsers ask for /favicon.ico on every page; answer it from
static/ (base.html also links the SVG)."""

from __future__ import annotations

from fastapi.responses import FileResponse

from adapters.http.console.pages import HERE, router

ICON = HERE / "static" / "favicon.ico"


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(ICON, media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})
