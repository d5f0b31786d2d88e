"""The README's pictures of `make demo`, taken from a real demo run, never drawn by hand.

    python scripts/readme_images.py [OUTPUT_NOTEBOOK]   # after `make demo`: the newest <home>/runs/showcase-*/showcase.ipynb
    python scripts/readme_images.py --check             # the README shows those files, and they are PNGs (tests/test_readme.py)

It writes three image outputs of the showcase's output notebook to docs/img/demo-*.png (the answer the groundedness
model judged worst, the monitor's hallucination rate, the route's quality-against-cost curve) and rewrites the README
block between `<!-- demo-images:start -->` and `<!-- demo-images:end -->`, naming the run they come from.
"""
import base64, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
README = ROOT / "README.md"
START, END = "<!-- demo-images:start -->", "<!-- demo-images:end -->"
RAG, MONITOR, ROUTE = "ba7b07ca", "2629fca2", "fa027ffd"  # the showcase's cells (steps 5, 6 and 9), by id


def images(cell) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def text(cell) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def picks(nb: dict) -> list[tuple[str, bytes, str]]:
    "(file name, PNG, caption) of the three pictures."
    cells = {c.get("id"): c for c in nb["cells"]}
    rag = cells[RAG]
    scores = [float(x) for x in re.findall(r"^\s+groundedness (\d\.\d\d) ", text(rag), re.M)]
    worst = min(range(len(scores)), key=scores.__getitem__) if scores else 0
    mon = images(cells[MONITOR])
    return [("demo-groundedness.png", images(rag)[1 + worst], "step 5: a RAG answer, sentence by sentence, judged against its passages"),
            ("demo-monitor.png", mon[-1], "step 6: the monitor's hallucination rate over the run"),
            ("demo-route.png", images(cells[ROUTE])[0], "step 9: the route's quality against its share of calls to the larger model")]


def block(run: str, shots: list) -> str:
    imgs = " ".join(f'<img src="docs/img/{n}" alt="{c}" width="32%">' for n, _, c in shots)
    return (f"{START}\n<!-- made by `python scripts/readme_images.py` from the output notebook of the demo run {run} -->\n"
            f"{imgs}\n\n<sub>{' · '.join(c for _, _, c in shots)}</sub>\n{END}")


def newest() -> Path:
    sys.path.insert(0, str(ROOT / "src"))
    from jupyter_llmops.config import load_settings
    runs = sorted(load_settings().path("runs").glob("showcase-*/showcase.ipynb"), key=lambda p: p.stat().st_mtime)
    if not runs: raise SystemExit("no demo run found: run `make demo` first (or name an output notebook)")
    return runs[-1]


def check() -> int:
    t = README.read_text(encoding="utf-8")
    if START not in t or END not in t: print("README has no demo-images block", file=sys.stderr); return 1
    b = t.split(START, 1)[1].split(END, 1)[0]
    names = re.findall(r'src="docs/img/(demo-[\w-]+\.png)"', b)
    bad = [n for n in names if not (IMG / n).is_file() or (IMG / n).read_bytes()[:8] != b"\x89PNG\r\n\x1a\n"]
    if len(names) < 2 or bad or "the demo run showcase-" not in b:
        print(f"README's demo images: {names}, missing or not PNG: {bad}", file=sys.stderr); return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]: return check()
    nb_path = Path(argv[0]) if argv else newest()
    shots = picks(json.loads(nb_path.read_text(encoding="utf-8")))
    IMG.mkdir(parents=True, exist_ok=True)
    for n, data, _ in shots: (IMG / n).write_bytes(data)
    t = README.read_text(encoding="utf-8")
    new = block(nb_path.parent.name, shots)
    t = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: new, t, flags=re.S) if START in t else t
    README.write_text(t, encoding="utf-8")
    print(f"{len(shots)} images from {nb_path} -> {IMG}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
