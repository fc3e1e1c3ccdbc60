"""Reading a multipart upload with a bound: the body is refused (413) as soon as it passes
the bound, before it is parsed or spooled to disk, and a malformed body is a 422 naming
the field. Starlette itself bounds form fields but not files."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from adapters.evidence import TooLarge
from domain import validate
from domain.errors import ValidationError

SLACK = 256 * 1024  # multipart headers and the form's other fields
MAX_FILES = 5  # photos in one post


async def bounded_body(request: Request, limit: int, field: str) -> bytes:
    """The request body, at most `limit` bytes (TooLarge naming `field` otherwise)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(field, f"the request is {int(declared)} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(field, f"the request is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def bounded_form(request: Request, limit: int, field: str,
                       file_fields: tuple[str, ...] = ()) -> FormData:
    """The posted form (urlencoded or multipart) of a body of at most `limit` bytes; a
    file under a name not in `file_fields` is refused naming that field."""
    body = await bounded_body(request, limit, field)
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    again = Request(request.scope, replay)
    try:
        form = await again.form(max_files=MAX_FILES, max_fields=200)
    except HTTPException as e:
        raise ValidationError(field, f"the form could not be read: {e.detail}") from None
    for key, value in form.multi_items():
        if not isinstance(value, str) and key not in file_fields:
            await form.close()
            raise ValidationError(key[:100], "must be text, not a file")
    return form


def files_of(form: FormData, field: str) -> list[UploadFile]:
    """The files posted under `field` (an empty file input, filename '', is no file);
    a value that is text, or a file name with control characters, is refused."""
    out = []
    for item in form.getlist(field):
        if isinstance(item, str):
            if item:
                raise ValidationError(field, "must be a file upload, not text")
            continue
        if not item.filename and not item.size:
            continue
        validate.text(item.filename or "", f"{field}.filename", limit=255, multiline=False)
        out.append(item)
    return out
