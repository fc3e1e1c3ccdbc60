"""Charts as PNG (matplotlib, Agg), with a CJK font when one is installed (Debian
`fonts-noto-cjk`; deploy/install-system-deps.sh)."""

from __future__ import annotations

import io
from pathlib import Path

CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

_FONT_READY = None


def _mpl():
    global _FONT_READY
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    if _FONT_READY is None:
        names = []
        for f in CJK_FONT_FILES:
            if Path(f).exists():
                try:
                    font_manager.fontManager.addfont(f)
                    names.append(font_manager.FontProperties(fname=f).get_name())
                except Exception:  # noqa: BLE001 - an unreadable font file: try the next
                    continue
        _FONT_READY = names
        matplotlib.rcParams["font.sans-serif"] = [*names, "DejaVu Sans"]
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False
    return plt


def has_chart(sec: dict) -> bool:
    """A section with a chart that has something to draw."""
    return bool(sec.get("chart") and sec["chart"]["labels"])


def chart_png(spec: dict, *, width: float = 9.0, height: float = 3.6) -> bytes:
    """A chart spec {type: bar|barh|line, title, labels, series[{name, values}]} as PNG."""
    plt = _mpl()
    labels = spec["labels"]
    series = spec["series"]
    kind = spec["type"]
    if kind == "barh":
        height = max(2.4, 0.32 * len(labels) * max(1, len(series)) + 1.2)
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    n = max(1, len(series))
    if kind == "line":
        for s in series:
            xs = [i for i, v in enumerate(s["values"]) if v is not None]
            ax.plot([labels[i] for i in xs], [s["values"][i] for i in xs], marker="o", markersize=3,
                    label=s["name"])
        ax.tick_params(axis="x", labelsize=7)
    else:
        w = 0.8 / n
        pos = list(range(len(labels)))
        for k, s in enumerate(series):
            off = [p - 0.4 + w / 2 + k * w for p in pos]
            vals = [v or 0 for v in s["values"]]
            if kind == "barh":
                bars = ax.barh(off, vals, height=w, label=s["name"])
            else:
                bars = ax.bar(off, vals, width=w, label=s["name"])
            ax.bar_label(bars, labels=["" if v is None else f"{v:g}" for v in s["values"]],
                         fontsize=7, padding=2)
        if kind == "barh":
            ax.set_yticks(pos, labels, fontsize=8)
            ax.invert_yaxis()
        else:
            ax.set_xticks(pos, labels, fontsize=8, rotation=20 if len(labels) > 6 else 0)
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if kind == "barh" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    ax.set_title(spec.get("title", ""), fontsize=11)
    if n > 1 or kind == "line":
        ax.legend(fontsize=8)
    ax.grid(axis="x" if kind == "barh" else "y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
