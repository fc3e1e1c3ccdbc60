"""What makes /m/ an installable app: the web manifest and the service worker.

The worker is served from /m/sw.js so that its scope is /m/; its cache name carries a hash
of the app's static files, so a new deployment replaces the cached shell."""

from __future__ import annotations

import hashlib
from functools import cache

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from adapters.http.field.shared import STATIC, router
from adapters.http.i18n import word


@cache
def version() -> str:
    """A short hash of every file under static/field/ (the shell's cache name)."""
    h = hashlib.sha256()
    for p in sorted(STATIC.rglob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


@router.get("/m/manifest.webmanifest")
def manifest(request: Request):
    lang = "en" if request.cookies.get("cg_lang") == "en" else "zh"
    icons = [{"src": f"/static/field/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png",
              "purpose": "any"} for n in (192, 512)]
    icons.append({"src": "/static/field/icon-maskable-512.png", "sizes": "512x512",
                  "type": "image/png", "purpose": "maskable"})
    body = {"name": word("m_app", "zh"), "short_name": word("m_app", "zh"),
            "description": word("app", lang), "lang": "en" if lang == "en" else "zh-CN",
            "start_url": "/m/", "scope": "/m/", "id": "/m/", "display": "standalone",
            "orientation": "portrait", "background_color": "#ffffff",
            "theme_color": "#0b5cad", "icons": icons}
    return JSONResponse(body, media_type="application/manifest+json",
                        headers={"Cache-Control": "no-cache"})


@router.get("/m/sw.js")
def service_worker():
    js = (STATIC / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", version())
    return Response(js, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/m/"})
