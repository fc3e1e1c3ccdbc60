"""docs/lifecycle.md, drawn from the same definition: `python -m workflows.diagram > docs/lifecycle.md`."""

from __future__ import annotations

from transitions.extensions import GraphMachine

from domain.lifecycle import CHANNELS, CLOSURE_TYPES, STATES, TRANSITIONS, sources
from domain.machine import build_machine


def mermaid() -> str:
    machine = build_machine(GraphMachine, graph_engine="mermaid", show_conditions=True,
                            title="casegrid case lifecycle")

    class _Model:
        pass

    model = _Model()
    machine.add_model(model)
    lines = model.get_graph().draw(None).splitlines()
    # the active-model styling says nothing about the definition
    keep = []
    for ln in lines:
        if not ln.strip() or ln.strip().startswith(("classDef", "Class ")):
            continue
        if ln == "casegrid case lifecycle":  # mermaid front matter wants a key
            ln = f"title: {ln}"
        for name, s in STATES.items():
            if ln.strip() == f'state "{name}" as {name}':
                ln = f'  state "{name} {s["zh"]}" as {name}'
        keep.append(ln.rstrip())
    return "\n".join(keep)


def _cond(t: dict) -> str:
    if "conditions" in t:
        return t["conditions"]
    if "unless" in t:
        return f"not {t['unless']}"
    return ""


def render() -> str:
    out = [
        "# Case lifecycle (案件生命周期)",
        "",
        "Generated from `domain/lifecycle.py` by `python -m workflows.diagram > docs/lifecycle.md`;",
        "a test fails when this file is out of date.",
        "",
        "```mermaid",
        mermaid(),
        "```",
        "",
        "## States",
        "",
        "| state | 中文 | step clock running | holder (责任主体) |",
        "|---|---|---|---|",
    ]
    for name, s in STATES.items():
        out.append(f"| `{name}` | {s['zh']} | {s['step'] or '—'} | {s['holder'] or '—'} |")
    out += [
        "",
        "## Transitions and who may fire them",
        "",
        "| trigger | 中文 | from | to | condition | roles | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        dest = t["dest"] or "(same state)"
        out.append(
            f"| `{t['trigger']}` | {t['zh']} | {', '.join(sources(t))} | {dest} | {_cond(t)} | "
            f"{', '.join(t['roles'])} | {t.get('reason', '')} |"
        )
    out += [
        "",
        "A unit member may act only on a case currently dispatched to their own unit; an",
        "inspector (纪检监察) fires no trigger. A step that ends after its due time records one",
        "`DeadlineMissed` first; `casegrid deadlines tick` records it for steps still running.",
        "",
        "## Channels (上报渠道)",
        "",
        "| channel | 中文 | roles that report through it | needs verification (核实) |",
        "|---|---|---|---|",
    ]
    for name, c in CHANNELS.items():
        out.append(f"| `{name}` | {c['zh']} | {', '.join(c['roles'])} | {'yes' if c['verify'] else 'no'} |")
    out += ["", "## Closure types (结案类型)", ""]
    out += [f"- `{k}`: {v}" for k, v in CLOSURE_TYPES.items()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
