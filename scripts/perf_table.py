"""Rewrite the README's performance table from the README-ROW lines the benchmarks printed (`make bench`).

    python scripts/perf_table.py RESULTS_FILE README.md
The table sits between the markers <!-- perf-table:start --> and <!-- perf-table:end -->; rows keep the order in
which the benchmarks printed them. Nothing else in the README changes; the file is replaced atomically.
"""
import os, sys, tempfile
from pathlib import Path

START, END = "<!-- perf-table:start -->", "<!-- perf-table:end -->"


def table(lines: list[str]) -> str:
    rows = [l.rstrip("\n").split("\t")[1:] for l in lines if l.startswith("README-ROW\t")]
    out = ["| capability | what is compared | result (medians) | command |", "|---|---|---|---|"]
    out += [f"| {c} | {w} | {r} | `{cmd}` |" for c, w, r, cmd in rows]
    return "\n".join(out)


def main(results: str, readme: str):
    lines = Path(results).read_text(encoding="utf-8", errors="replace").splitlines()
    if not any(l.startswith("README-ROW\t") for l in lines): sys.exit(f"{results}: no README-ROW lines: did the benchmarks run?")
    text = Path(readme).read_text(encoding="utf-8")
    if START not in text or END not in text: sys.exit(f"{readme}: markers {START} ... {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table(lines)}\n{END}{tail}"
    fd, tmp = tempfile.mkstemp(dir=Path(readme).parent, prefix=".README.")
    with os.fdopen(fd, "w", encoding="utf-8") as f: f.write(new)
    os.replace(tmp, readme)
    print(f"{readme}: performance table rewritten ({sum(l.startswith('README-ROW') for l in lines)} rows)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
