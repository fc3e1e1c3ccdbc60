"""Photo evidence over HTTP (证据材料): upload one photo, then fetch it or its thumbnail.

    POST /api/evidence              multipart, field `file` → 201 {ref, url, thumb_url, …}
    GET  /api/evidence/<hex>        the same answer, and `verified` (the file still matches)
    GET  /evidence/<hex>            the photo (orientation applied, no metadata)
    GET  /evidence/<hex>/thumb      the ~320 px JPEG thumbnail
    GET  /evidence/<hex>/original   exactly the uploaded bytes (center roles: proof)

The `ref` ('sha256:<hex>') goes into a report's or a step's `evidence` list. Any logged-in
user who may write uploads (Bearer token, or the console's cookie with its CSRF token);
any logged-in user fetches. Photos never change (the name is their hash): cached a year.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from adapters.evidence import Blob, EvidenceStore, Stored, ref_of
from adapters.http.access import CENTER_READERS, check_write, require_role
from adapters.http.api.auth import Me
from adapters.http.api.deps import Cg, note
from adapters.http.uploads import SLACK, bounded_form, files_of
from domain.errors import ValidationError

router = APIRouter(tags=["evidence"])
CACHE = "private, max-age=31536000, immutable"


def store_of(cg) -> EvidenceStore:
    if cg.evidence is None:
        raise ValidationError("file", "this server keeps no evidence store")
    return cg.evidence


async def store_uploads(cg, form, field: str) -> list[Stored]:
    """Store every photo posted under `field` (all checked before any is kept)."""
    store = store_of(cg)
    files = files_of(form, field)
    datas = []
    for f in files:
        datas.append(await f.read())
        await f.close()
    return await run_in_threadpool(store.put_all, datas, field)


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "one JPEG, PNG or WebP photo"}}}}}}
IMAGES = {200: {"description": "The image", "content": {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/webp": {"schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "Not modified (If-None-Match)"},
    303: {"description": "Not logged in: to the login page"},
    **{s: {"description": d, "content": {"text/html": {}}} for s, d in (
        (403, "Not for this role"), (404, "No such photo"),
        (422, "The ref is not 64 lowercase hex"))}}


@router.post("/api/evidence", status_code=201, openapi_extra={"requestBody": UPLOAD_BODY},
             responses={413: {"description": "Larger than the limit (default 10 MB)"},
                        415: {"description": "Not a JPEG, PNG or WebP image"}})
async def upload(request: Request, user: Me, cg: Cg):
    """Upload one photo (multipart/form-data, field `file`: JPEG, PNG or WebP). The bytes
    decide the type, not the file name. The same bytes give the same `ref`."""
    check_write(user, "upload_evidence")
    store = store_of(cg)
    form = await bounded_form(request, store.limits.max_bytes + SLACK, "file", ("file",))
    files = files_of(form, "file")
    if not files:
        raise ValidationError("file", "is required: a JPEG, PNG or WebP photo as "
                                      "multipart/form-data field 'file'")
    if len(files) > 1:
        raise ValidationError("file", "one photo per request")
    stored = (await store_uploads(cg, form, "file"))[0]
    note(request, evidence=stored.ref)
    return JSONResponse(stored.as_dict(), status_code=201)


@router.get("/api/evidence/{ref}")
async def about(request: Request, ref: str, user: Me, cg: Cg):
    """What is stored under a ref (its upload's answer) and whether the stored original
    still hashes to it (`verified`): a client can ask before uploading again."""
    ref = ref_of(ref, "ref")
    store = store_of(cg)
    info = await run_in_threadpool(store.info, ref)
    return info.as_dict() | {"verified": await run_in_threadpool(store.verify, ref)}


def _blob(blob: Blob, hex_: str, request: Request) -> Response:
    headers = {"Cache-Control": CACHE, "ETag": f'"{hex_}"',
               "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"}
    if request.headers.get("if-none-match") == f'"{hex_}"':
        return Response(status_code=304, headers=headers)
    return Response(blob.data, media_type=blob.content_type, headers=headers)


async def _serve(request: Request, ref: str, cg, what: str) -> Response:
    ref = ref_of(ref, "ref")
    store = store_of(cg)
    get = {"photo": store.open, "thumb": store.thumb, "original": store.original}[what]
    blob = await run_in_threadpool(get, ref)
    return _blob(blob, ref.removeprefix("sha256:"), request)


@router.get("/evidence/{ref}", response_class=Response, responses=IMAGES)
async def photo(request: Request, ref: str, user: Me, cg: Cg):
    """The photo as displayed (EXIF orientation applied, no metadata)."""
    return await _serve(request, ref, cg, "photo")


@router.get("/evidence/{ref}/thumb", response_class=Response, responses=IMAGES)
async def thumb(request: Request, ref: str, user: Me, cg: Cg):
    """The thumbnail: a JPEG of at most 320 px."""
    return await _serve(request, ref, cg, "thumb")


@router.get("/evidence/{ref}/original", response_class=Response, responses=IMAGES)
async def original(request: Request, ref: str, user: Me, cg: Cg):
    """Exactly the uploaded bytes, with the phone's metadata (GPS included): for the
    center's roles, as proof (its SHA-256 is the ref)."""
    require_role(user, CENTER_READERS, "the original upload")
    return await _serve(request, ref, cg, "original")
