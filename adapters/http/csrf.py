"""Cross-site request forgery: every console form (login included) carries a token, checked
together with the Origin header.

- A logged-in form's token is an HMAC of the session id (one per session, nothing stored).
- The login form's token is an HMAC of a random pre-session cookie (`cg_csrf`).
- The browser's `Origin` (else `Referer`) must be this server's own origin (or one of
  `CASEGRID_ALLOWED_ORIGINS`): a page on another port of the same host is another origin.
  A form post with neither header is refused too (browsers always send one).
- The JSON API with a Bearer token is not CSRF-prone; a state-changing API request that
  authenticates with the console's cookie needs `X-CSRF-Token` or a matching Origin.
"""

from __future__ import annotations

import hmac
import os
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

FIELD = "csrf_token"
HEADER = "x-csrf-token"
LOGIN_COOKIE = "cg_csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class CsrfError(Exception):
    """403: the request did not come from this server's own pages."""

    def __init__(self, field: str, rule: str):
        self.field, self.rule = field, rule
        super().__init__(rule)

    def to_dict(self) -> dict:
        return {"error": "forbidden", "field": self.field, "rule": self.rule,
                "message": f"{self.field}: {self.rule}"}


def allowed_origins(request: Request) -> set[str]:
    """This server as the browser sees it: the Host it was asked for (http, and https
    behind TLS), plus CASEGRID_ALLOWED_ORIGINS (comma-separated) for a proxy's public name."""
    host = request.headers.get("host", "")
    out = {f"{request.url.scheme}://{host}"}
    if getattr(request.app.state, "secure_cookies", False):
        out.add(f"https://{host}")
    extra = os.environ.get("CASEGRID_ALLOWED_ORIGINS", "")
    out |= {o.strip().rstrip("/") for o in extra.split(",") if o.strip()}
    return out


def sender_origin(request: Request) -> str | None:
    """The Origin header, else the origin of the Referer, else None."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin
    ref = request.headers.get("referer")
    if ref:
        parts = urlsplit(ref)
        return f"{parts.scheme}://{parts.netloc}"
    return None


def check_origin(request: Request, *, required: bool = True) -> bool:
    """True if Origin/Referer names this server; CsrfError if it names another one (or,
    when `required`, if there is none). False if absent and not required."""
    origin = sender_origin(request)
    if origin is None:
        if required:
            raise CsrfError("origin", "missing: a form must be sent from this server's own "
                                      "pages (no Origin or Referer header)")
        return False
    if origin not in allowed_origins(request):
        raise CsrfError("origin", f"'{origin[:100]}' is not this server's origin")
    return True


def check_form(request: Request, form, expected: str | None) -> None:
    """A console form post: its origin, and its csrf_token equal to `expected`."""
    check_origin(request)
    got = str(form.get(FIELD) or "")
    if not expected or not got or not hmac.compare_digest(got, expected):
        raise CsrfError(FIELD, "missing or not this session's: reload the page and try again")


def check_cookie_api(request: Request, expected: str) -> None:
    """A state-changing API request authenticated by the console's cookie."""
    if request.method in SAFE_METHODS:
        return
    got = request.headers.get(HEADER)
    if got:
        if not hmac.compare_digest(got, expected):
            raise CsrfError(HEADER, "is not this session's token")
        check_origin(request, required=False)
        return
    if not check_origin(request, required=False):
        raise CsrfError(HEADER, "required with the session cookie (or send the token as "
                                "'Authorization: Bearer')")


def new_nonce() -> str:
    return secrets.token_urlsafe(18)
