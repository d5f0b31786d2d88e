"""What the showcase's report must show (issue 23), checked on a real output notebook of `llmops demo`: at least eight
figures, no red stderr block, a groundedness figure and marked-up answer per RAG answer, the hallucination rate in the
monitor step, and each step ending with where its MLflow run lives. tests/test_hostile.py runs the demo once and checks
both its secrets and this."""
import re
import nbformat

RAG, MONITOR = "ba7b07ca", "2629fca2"  # the showcase's cells of steps 5 and 6, by id
STEPS = ["cf1807d7", "824be2f4", RAG, MONITOR, "5c1d7e93", "88fdd968", "fa027ffd", "7e2d4a81"]  # steps 3-10: an MLflow run each


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def check_report(path) -> dict:
    "Assert the report's promises on output notebook `path`; return the counts it measured."
    nb = nbformat.read(str(path), as_version=4)
    cells = {c.get("id"): c for c in nb.cells}
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    pngs = [o for o in outs if "image/png" in o.get("data", {})]
    stderr = [o for o in outs if o.output_type == "stream" and o.name == "stderr"]
    errors = [o for o in outs if o.output_type == "error"]
    assert not errors, [o.ename for o in errors]
    assert len(pngs) >= 8, len(pngs)
    assert stderr == [], [o.text[:200] for o in stderr]
    rag = cells[RAG]
    answers = len(re.findall(r"^   Q: ", _text(rag), re.M))
    judged = len(re.findall(r"^\s+groundedness \d\.\d\d \((?:grounded|NOT grounded) at", _text(rag), re.M))
    html = [o for o in rag.outputs if "groundedness" in o.get("data", {}).get("text/html", "")]
    rag_pngs = [o for o in rag.outputs if "image/png" in o.get("data", {})]
    assert answers >= 1 and judged == answers and len(html) == answers and len(rag_pngs) == answers + 1, (answers, judged, len(html), len(rag_pngs))
    hit = re.search(r"rag eval demo-docs .*: hit@5 (\d\.\d+)", _text(rag))  # its questions name documents of the corpus indexed
    assert hit and float(hit.group(1)) >= 0.5, hit and hit.group(0)  # (an installed kit indexes its modules, a checkout its notebooks)
    assert re.search(r"hallucination rate: \d+ of \d+ answers with retrieved context not grounded", _text(cells[MONITOR]))
    assert "hallucination_rate" in _text(cells[MONITOR])  # a row of the monitor's summary
    for cid in STEPS:
        assert re.search(r"MLflow: .* in experiment '.+' \(", _text(cells[cid])), cid
    md = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert all(len(c.source.splitlines()) >= 2 for c in md), [c.source.splitlines()[0] for c in md]  # a sentence under each heading
    return dict(images=len(pngs), stderr=len(stderr), answers=answers)
