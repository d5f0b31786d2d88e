"""Edit nbdev notebooks as plain text, and back: cell ids are kept, so `nbdev-export` output stays stable.

    python scripts/nbtext.py dump nbs/15_budget.ipynb > /tmp/budget.nb.py    # one marker line per cell
    python scripts/nbtext.py load /tmp/budget.nb.py nbs/15_budget.ipynb      # write (or create) the notebook

A marker line is `# %% [code] id=ab12cd34` or `# %% [markdown] id=...`; everything up to the next marker is the
cell's source (markdown as is, not commented). A marker without `id=` gets a new id (a hash of the notebook name and
the cell's text). Outputs are never written: the repository keeps notebooks clean, as `nbdev-clean` leaves them.
"""
import hashlib, json, re, sys
from pathlib import Path

MARK = re.compile(r"^# %% \[(code|markdown|raw)\](?: id=([A-Za-z0-9_-]+))?\s*$")
META = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}


def dump(nb_path: str) -> str:
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    out = []
    for c in nb["cells"]:
        out.append(f"# %% [{c['cell_type']}] id={c.get('id', '')}")
        out.append("".join(c["source"]))
    return "\n".join(out) + "\n"


def parse(text: str, name: str) -> list[dict]:
    cells, cur = [], None
    for line in text.split("\n"):
        m = MARK.match(line)
        if m:
            if cur: cells.append(cur)
            cur = {"type": m[1], "id": m[2], "lines": []}
        elif cur is not None: cur["lines"].append(line)
        elif line.strip(): raise SystemExit(f"text before the first cell marker: {line!r}")
    if cur: cells.append(cur)
    out, seen = [], set()
    for c in cells:
        src = "\n".join(c["lines"]).strip("\n")
        cid = c["id"] or hashlib.sha1(f"{name}\n{src}".encode()).hexdigest()[:8]
        while cid in seen: cid = hashlib.sha1(cid.encode()).hexdigest()[:8]
        seen.add(cid)
        lines = src.splitlines(keepends=True)
        cell = {"cell_type": c["type"], "id": cid, "metadata": {}, "source": lines}
        if c["type"] == "code": cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return out


def load(txt_path: str, nb_path: str):
    p = Path(nb_path)
    meta = json.loads(p.read_text(encoding="utf-8"))["metadata"] if p.exists() else META
    cells = parse(Path(txt_path).read_text(encoding="utf-8"), p.stem)
    order = ["cell_type", "execution_count", "id", "metadata", "outputs", "source"]
    cells = [{k: c[k] for k in order if k in c} for c in cells]
    nb = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump": sys.stdout.write(dump(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "load": load(sys.argv[2], sys.argv[3])
    else: sys.exit(__doc__)
