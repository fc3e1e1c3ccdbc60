"""Draw the field app's icons (城管通) into adapters/http/static/field/ (run once; the PNGs
are committed): `python deploy/make_field_icons.py`."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "adapters" / "http" / "static" / "field"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
BLUE, WHITE = (11, 92, 173), (255, 255, 255)


def icon(size: int, *, maskable: bool = False) -> Image.Image:
    img = Image.new("RGB", (size, size), BLUE if maskable else WHITE)
    d = ImageDraw.Draw(img)
    if not maskable:  # a rounded tile; a maskable icon fills the square (the OS cuts it)
        d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=BLUE)
    scale = 0.36 if maskable else 0.46
    font = ImageFont.truetype(FONT, int(size * scale))
    d.text((size / 2, size * 0.45), "城管", font=font, fill=WHITE, anchor="mm")
    small = ImageFont.truetype(FONT, int(size * scale * 0.42))
    d.text((size / 2, size * (0.72 if maskable else 0.78)), "通", font=small, fill=WHITE, anchor="mm")
    return img


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for n in (192, 512):
        icon(n).save(OUT / f"icon-{n}.png", optimize=True)
    icon(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    print("icons written to", OUT)
