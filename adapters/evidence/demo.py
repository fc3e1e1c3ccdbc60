"""Demo photos (演示照片): a few cases of the demo with real stored photos, drawn with
Pillow when the demo loads — a street with exposed rubbish before, the same street clean
after — so that the case page shows thumbnails and the check step its before/after pair."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta

from PIL import Image, ImageDraw

from workflows.commands import CaseAction, ReportCase

CATEGORY = "E0102"  # 暴露垃圾, routed to 环卫 (hw) in the sample city


def street(seed: int, *, rubbish: bool, size=(640, 480)) -> bytes:
    """A small JPEG of a street scene; `rubbish` adds the pile a supervisor reports."""
    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, (150 + rng.randrange(40), 190, 230))
    d = ImageDraw.Draw(im)
    d.rectangle([0, h * 0.42, w, h * 0.56], fill=(205, 195, 175))  # pavement
    d.rectangle([0, h * 0.56, w, h], fill=(88, 90, 96))  # road
    for x in range(0, w, 90):
        d.rectangle([x + 15, h * 0.76, x + 60, h * 0.78], fill=(235, 235, 235))
    bx = rng.randrange(w // 2, w - 200)
    d.rectangle([bx, h * 0.12, bx + 190, h * 0.42], fill=(175, 120, 90))  # a building
    for wx in range(bx + 15, bx + 170, 55):
        d.rectangle([wx, h * 0.18, wx + 32, h * 0.26], fill=(220, 232, 242))
    if rubbish:
        px = rng.randrange(40, w // 3)
        d.ellipse([px, h * 0.40, px + 170, h * 0.58], fill=(70, 105, 45))
        d.polygon([(px + 30, h * 0.50), (px + 70, h * 0.38), (px + 120, h * 0.49)],
                  fill=(125, 85, 45))
        d.rectangle([px + 95, h * 0.44, px + 130, h * 0.55], fill=(35, 85, 165))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def add_demo_photos(cg, now: datetime) -> int:
    """Three patrol reports with a before-photo: one left for filing, one resolved with an
    after-photo (waiting for the check), one resolved, checked and closed. Returns how many
    (0 without a store, or in a city without the sample's users and 环卫 routing)."""
    store, city = cg.evidence, cg.city
    grid = next((code for code, cell in sorted(city.cells.items())
                 if (rule := city.route(CATEGORY, cell)) and rule.unit == "hw"), None)
    if store is None or grid is None or not {"sup_zhang", "acc_wang", "disp_chen", "hw_luo"} \
            <= set(city.users):
        return 0
    at = now - timedelta(minutes=40)
    steps = ([], [("file", "acc_wang"), ("dispatch", "disp_chen"), ("resolve", "hw_luo")],
             [("file", "acc_wang"), ("dispatch", "disp_chen"), ("resolve", "hw_luo"),
              ("check", "sup_zhang"), ("close", "acc_wang")])
    for i, path in enumerate(steps):
        before = store.put(street(100 + i, rubbish=True), "image/jpeg").ref
        case = cg.service.report(ReportCase(
            channel="patrol", category=CATEGORY, grid=grid, actor="sup_zhang",
            occurred_at=at + timedelta(minutes=i), evidence=[before],
            description="演示：人行道旁暴露垃圾（附现场照片）"))
        for k, (trigger, actor) in enumerate(path, start=1):
            fields: dict = {}
            if trigger == "resolve":
                fields["evidence"] = [store.put(street(100 + i, rubbish=False)).ref]
            if trigger == "check":
                fields["passed"] = True
            cg.service.act(CaseAction(case.id, trigger, actor,
                                      at + timedelta(minutes=i + 5 * k), **fields))
    return len(steps)
