"""Render the tour (nbs/index.ipynb) into the README's quick start, between <!-- tour:start --> and <!-- tour:end -->.

    python scripts/readme_tour.py [--check]
Markdown cells are copied, headings one level down (the notebook's title and summary are left out: the README has its
own); code cells become
```python blocks. `--check` exits 1 when the README is not up to date (tests/test_readme.py runs it).
"""
import json, os, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- tour:start -->", "<!-- tour:end -->"


def render(nb_path: Path = ROOT / "nbs" / "index.ipynb") -> str:
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, c in enumerate(cells):
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown":
            if i == 0: src = "\n".join(l for l in src.splitlines() if not l.startswith(("# ", "> "))).strip()
            src = "\n".join("#" + l if l.startswith("#") else l for l in src.splitlines())  # one level down: the README's section holds it
            if src: out.append(src)
        elif c["cell_type"] == "code":
            out.append(f"```python\n{src}\n```")
    return "\n\n".join(out)


def updated(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render()}\n{END}{tail}"


def main():
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text: sys.exit(f"README.md: markers {START} ... {END} not found")
    new = updated(text)
    if "--check" in sys.argv[1:]:
        if new != text: sys.exit("README.md's quick start differs from nbs/index.ipynb: run `python scripts/readme_tour.py`")
        return print("README.md's quick start matches nbs/index.ipynb")
    fd, tmp = tempfile.mkstemp(dir=ROOT, prefix=".README.")
    with os.fdopen(fd, "w", encoding="utf-8") as f: f.write(new)
    os.replace(tmp, path)
    print("README.md: quick start rendered from nbs/index.ipynb")


if __name__ == "__main__":
    main()
