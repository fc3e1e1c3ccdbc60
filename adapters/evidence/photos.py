"""Checking an uploaded photo (照片校验) and making its display copy and thumbnail, with Pillow.

What is kept of one upload:

- the original: exactly the bytes the phone sent. Its SHA-256 is the reference recorded
  on the case's events (`sha256:<hex>`), so a swapped or edited file is detectable later;
- the display copy (what `/evidence/<hex>` shows): the EXIF orientation applied
  (ImageOps.exif_transpose), at most DISPLAY_EDGE pixels on its long side, re-encoded
  without any metadata (no EXIF, so no GPS position of the phone);
- the thumbnail: a JPEG of at most THUMB_EDGE pixels, also without metadata.

Only JPEG, PNG and WebP that Pillow actually decodes are taken (the bytes decide, not the
declared type or the file name); a file over the size limit is refused before decoding,
an image over the pixel limit before its pixels are read (decompression bombs).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from adapters.evidence.errors import TooLarge, Unsupported
from domain.errors import ValidationError

MAX_BYTES = 10 * 1024 * 1024  # an upload, by default
MAX_PIXELS = 60_000_000  # width × height; Pillow's own guard (MAX_IMAGE_PIXELS) is ~89 M
DISPLAY_EDGE = 2560
THUMB_EDGE = 320
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
SAVE = {"JPEG": {"quality": 88, "optimize": True}, "PNG": {"optimize": True},
        "WEBP": {"quality": 85}}


@dataclass(frozen=True)
class Limits:
    """What an upload may be: its bytes and its pixels."""

    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS


@dataclass(frozen=True)
class Stored:
    """One stored photo: its reference and what it is (width × height as displayed)."""

    ref: str  # 'sha256:<64 hex>' of the original bytes
    bytes: int
    content_type: str
    width: int
    height: int

    @property
    def hex(self) -> str:
        return self.ref.removeprefix("sha256:")

    def as_dict(self) -> dict:
        return {"ref": self.ref, "url": f"/evidence/{self.hex}",
                "thumb_url": f"/evidence/{self.hex}/thumb", "bytes": self.bytes,
                "content_type": self.content_type, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Prepared:
    """An upload checked: what to store under its reference."""

    info: Stored
    original: bytes
    display: bytes
    thumb: bytes


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def prepare(data: bytes, limits: Limits = Limits(), field: str = "file") -> Prepared:
    """Check an upload and make its copies; TooLarge (413) / Unsupported (415) /
    ValidationError (422) naming `field` otherwise. Nothing is written here."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValidationError(field, "must be a file upload")
    data = bytes(data)
    if not data:
        raise ValidationError(field, "is empty")
    if len(data) > limits.max_bytes:
        mb = f" ({limits.max_bytes / 1048576:g} MB)" if limits.max_bytes >= 1048576 else ""
        raise TooLarge(field, f"is {len(data)} bytes; at most {limits.max_bytes}{mb}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd EXIF blocks
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _decode(data, limits, field)
        fmt = image.format
        try:
            shown = _shown(image)
            display = _encode(_fit(shown, DISPLAY_EDGE), fmt)
            thumb = _encode(_fit(shown, THUMB_EDGE), "JPEG")
        except Exception as e:  # noqa: BLE001 - a mode or profile Pillow cannot convert
            raise ValidationError(field, f"is a {fmt} image that could not be converted "
                                         f"({type(e).__name__})") from None
    info = Stored(digest(data), len(data), FORMATS[fmt], shown.width, shown.height)
    return Prepared(info, data, display, thumb)


def _decode(data: bytes, limits: Limits, field: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Unsupported(field, "is not a JPEG, PNG or WebP image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(field, f"has more than {limits.max_pixels} pixels") from None
    except Exception as e:  # noqa: BLE001 - a malformed header, whatever Pillow says
        raise ValidationError(field, f"could not be read as an image ({type(e).__name__})") from None
    if image.format not in FORMATS:
        raise Unsupported(field, f"is {image.format or 'an unknown'} image; only JPEG, PNG "
                                 "or WebP")
    w, h = image.size
    if w < 1 or h < 1 or w * h > limits.max_pixels:
        raise TooLarge(field, f"is {w}×{h} pixels; at most {limits.max_pixels} pixels")
    try:
        image.load()
    except Exception as e:  # noqa: BLE001 - truncated or corrupt data
        raise ValidationError(field, f"is a damaged {image.format} image: it does not "
                                     f"decode ({type(e).__name__})") from None
    return image


def _shown(image: Image.Image) -> Image.Image:
    """The image as it should be seen: EXIF orientation applied, first frame only."""
    try:
        shown = ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block: show it as stored
        shown = image
    if shown.mode not in ("RGB", "RGBA", "L", "LA"):
        shown = shown.convert("RGBA" if "A" in shown.getbands() or "transparency"
                              in shown.info else "RGB")
    return shown


def _fit(image: Image.Image, edge: int) -> Image.Image:
    if max(image.size) <= edge:
        return image.copy()
    out = image.copy()
    out.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    return out


def _encode(image: Image.Image, fmt: str) -> bytes:
    """Re-encoded without metadata (Pillow writes EXIF, ICC or text only when asked)."""
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
        image = flat
    buf = io.BytesIO()
    image.save(buf, fmt, **SAVE[fmt])
    return buf.getvalue()
