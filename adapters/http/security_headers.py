"""Response headers on every answer, and the cookie flags.

The Content-Security-Policy allows scripts and styles from this server only (no inline
script: the console's JavaScript is in adapters/http/static/), nothing may frame a page
(`frame-ancestors 'none'`, `X-Frame-Options: DENY`), types are not sniffed, and no
Referer leaves the server. The only inline pieces allowed are named by their hash: the
style block of the html reports and the Swagger UI page's start-up script (/docs, which
loads Swagger UI from its CDN as FastAPI does). Behind TLS (`CASEGRID_SECURE_COOKIES=1` or
`casegrid serve --secure-cookies`) cookies get `Secure` and responses HSTS.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

CDN = "https://cdn.jsdelivr.net"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def _hashes(html: str, tag: str) -> str:
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                    for t, body in _INLINE.findall(html) if t == tag)


def _report_style() -> str:
    from adapters.reports import HTML

    return _hashes(HTML, "style")


CSP = ("default-src 'self'; script-src 'self'; style-src 'self' {report_style}; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; "
       "manifest-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def secure_setting(value: bool | None = None) -> bool:
    """The `Secure` cookie flag: an explicit value, else $CASEGRID_SECURE_COOKIES."""
    if value is not None:
        return value
    return os.environ.get("CASEGRID_SECURE_COOKIES", "").lower() in ("1", "true", "yes", "on")


class SecurityHeaders:
    def __init__(self, secure: bool, images: str = ""):
        """`images`: one more origin for img-src (the city's own map tile server, if any)."""
        self.secure = secure
        self.csp = CSP.format(report_style=_report_style())
        if images:
            self.csp = self.csp.replace("img-src 'self' data:", f"img-src 'self' data: {images}")

    def apply(self, response) -> None:
        h = response.headers
        if "content-security-policy" not in h:
            h["Content-Security-Policy"] = self.csp
        for k, v in HEADERS.items():
            h.setdefault(k, v)
        if self.secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")

    def cookie(self, response, name: str, value: str, *, max_age: int, httponly: bool = True,
               samesite: str = "lax") -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=httponly, samesite=samesite,
                            secure=self.secure, path="/")


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """Swagger UI, with a policy that allows its CDN and exactly its inline start-up script."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title)
    html = page.body.decode()
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {CDN} {_hashes(html, 'script')}; "
        f"style-src 'self' {CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    return page
