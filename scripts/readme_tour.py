"""Render the tour (nbs/index.ipynb) into the README's quick start, between <!-- tour:start --> and <!-- tour:end -->,
and the command tree (`llmops help`, generated from the commands' parsers) between <!-- commands:start --> and
<!-- commands:end -->.

    python scripts/readme_tour.py [--check]
Markdown cells are copied, headings one level down (the notebook's title and summary are left out: the README has its
own); code cells become
```python blocks. `--check` exits 1 when the README is not up to date (tests/test_readme.py runs it).
"""
import json, os, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- tour:start -->", "<!-- tour:end -->"
TREE_START, TREE_END = "<!-- commands:start -->", "<!-- commands:end -->"


def command_tree() -> str:
    "The text of `llmops help`."
    from jupyter_llmops.commands import help_tree
    return repr(help_tree())


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


def _between(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def updated(readme: str) -> str:
    readme = _between(readme, START, END, render())
    return _between(readme, TREE_START, TREE_END, f"```text\n{command_tree()}\n```")


def main():
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    for a, b in ((START, END), (TREE_START, TREE_END)):
        if a not in text or b not in text: sys.exit(f"README.md: markers {a} ... {b} not found")
    new = updated(text)
    if "--check" in sys.argv[1:]:
        if new != text: sys.exit("README.md's quick start or command tree is out of date: run `python scripts/readme_tour.py`")
        return print("README.md's quick start matches nbs/index.ipynb and its command tree matches `llmops help`")
    fd, tmp = tempfile.mkstemp(dir=ROOT, prefix=".README.")
    with os.fdopen(fd, "w", encoding="utf-8") as f: f.write(new)
    os.replace(tmp, path)
    print("README.md: quick start rendered from nbs/index.ipynb, command tree from `llmops help`")


if __name__ == "__main__":
    main()
