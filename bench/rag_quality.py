"""Retrieval quality of the default `rag build` + `rag query` on three corpora, on held-out questions, against the
kit's earlier default.

Corpora (none of the held-out questions was used to choose the defaults; the tune halves were):
- docs: this repository's README.md and nbs/*.ipynb, with 30 questions written by hand
  (bench/data/kitdocs_heldout.jsonl; bench/data/kitdocs_tune.jsonl were the tune set);
- begin: BEGIN's knowledge passages (CMU-DoG and Topical Chat dev splits, ../shared/data/begin, CC BY 4.0), queried
  with the dialogue responses labelled "fully attributable" (seeded halves: tune / held out);
- gptcache: GPTCache's 1,000 sentences (../shared/data/gptcache, MIT), queried with their paraphrases (300 tune,
  300 held out).
Each corpus is built with the kit's defaults and evaluated with `rag_eval.evaluate` (hit@5, MRR, nDCG@5) in every
mode; "before" is the earlier default on the same index: reciprocal rank fusion (k = 60) of the top 20 dense and top
20 BM25 (unstemmed) chunks.
Run: .venv/bin/python bench/rag_quality.py [--split heldout|tune] [--cache DIR]"""
import argparse, csv, json, os, random, shutil, sys, tempfile, warnings
from pathlib import Path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import row  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
tmp = Path(tempfile.mkdtemp(prefix="llmops-bench-ragq-"))


def corpora(split: str) -> dict:
    "{name: (source folder, questions JSONL)} written under the temporary folder."
    out = {}
    d = tmp / "docs"; d.mkdir()
    for p in [ROOT / "README.md", *sorted((ROOT / "nbs").glob("*.ipynb"))]: shutil.copy(p, d / p.name)
    out["docs"] = (d, ROOT / "bench" / "data" / f"kitdocs_{split}.jsonl")
    csv.field_size_limit(10 ** 9)
    rows = []
    for f in ("cmu", "tc"):
        with open(DATA / "begin" / f"begin_dev_{f}.tsv") as fh: rows += list(csv.DictReader(fh, delimiter="\t"))
    know = sorted({r["knowledge"] for r in rows}); kid = {k: i for i, k in enumerate(know)}
    d = tmp / "begin"; d.mkdir()
    for k, i in kid.items(): (d / f"k{i:03d}.txt").write_text(k)
    qs = [dict(question=r["response"], expected_source=f"k{kid[r['knowledge']]:03d}.txt") for r in rows if r["begin_label"] == "Fully attributable"]
    random.Random(0).shuffle(qs)
    (tmp / "begin.jsonl").write_text("\n".join(map(json.dumps, qs[::2] if split == "tune" else qs[1::2])))
    out["begin"] = (d, tmp / "begin.jsonl")
    g = json.load(open(DATA / "gptcache" / "mock_data.json"))
    d = tmp / "gptcache"; d.mkdir()
    for i, x in enumerate(g): (d / f"g{i:04d}.txt").write_text(x["origin"])
    qs = [dict(question=x["similar"], expected_source=f"g{i:04d}.txt") for i, x in enumerate(g)]
    random.Random(0).shuffle(qs)
    (tmp / "gptcache.jsonl").write_text("\n".join(map(json.dumps, qs[:300] if split == "tune" else qs[300:600])))
    out["gptcache"] = (d, tmp / "gptcache.jsonl")
    return out


def before(idx, cases, emb, k=5):
    "hit@k and MRR of the earlier default: RRF (k = 60) of the top 20 dense and top 20 unstemmed BM25 chunks."
    import bm25s
    from jupyter_llmops.rag_docs import Chunk
    from jupyter_llmops.rag_eval import source_matches
    bm = bm25s.BM25()
    bm.index(bm25s.tokenize([Chunk(c["text"], 0, c["title"], c["heading"]).embed_text for c in idx.chunks], stopwords="en", show_progress=False), show_progress=False)
    hit = rr = 0.0
    for c in cases:
        D, I = idx.faiss.search(emb.encode([c["question"]]), 20)
        lists = [[int(i) for i in I[0] if i >= 0]]
        q = bm25s.tokenize([c["question"]], stopwords="en", show_progress=False, return_ids=False)
        if q[0]:
            res, sc = bm.retrieve(q, k=min(20, len(idx.chunks)), show_progress=False)
            lists.append([int(i) for i, x in zip(res[0], sc[0]) if x > 0])
        fused = {}
        for lst in lists:
            for r, i in enumerate(lst): fused[i] = fused.get(i, 0.0) + 1 / (60 + r + 1)
        top = [i for i, _ in sorted(fused.items(), key=lambda x: -x[1])[:k]]
        ranks = [r for r, i in enumerate(top, 1) if source_matches(c["expected_source"], idx.chunks[i]["source"])]
        if ranks: hit += 1; rr += 1 / ranks[0]
    return hit / len(cases), rr / len(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="heldout", choices=["heldout", "tune"])
    ap.add_argument("--cache", type=Path, help="a folder for the embedding cache, kept between runs")
    a = ap.parse_args()
    from jupyter_llmops import rag
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.rag_eval import evaluate, read_qa
    home = tmp / "home"; (home / "cache").mkdir(parents=True)
    if a.cache:
        a.cache.mkdir(parents=True, exist_ok=True); os.symlink(a.cache / "embeddings.sqlite", home / "cache" / "embeddings.sqlite")
    s = load_settings(home, environ={"LLMOPS_HOME": str(home), "HOME": str(home), "LLMOPS_EXPERIMENT": "bench-rag-quality"})
    emb = rag.Embedder.get("local")
    try:
        print(f"{a.split} questions; the kit's defaults (chunk size 200, overlap 32, index auto, hybrid)\n")
        print(f"{'corpus':10s} {'docs':>5s} {'chunks':>6s} {'questions':>9s}  {'before (RRF)':>16s}  {'hybrid':>22s}  {'dense':>16s}  {'lexical':>16s}")
        summary = []
        for name, (src, qa) in corpora(a.split).items():
            b = rag.build(name, [str(src)], settings=s, progress=False)
            cases = read_qa(qa)
            h0, m0 = before(rag.load(name, s), cases, emb)
            r = {m: evaluate(name, qa, 5, m, s, log=False).metrics for m in ("hybrid", "dense", "lexical")}
            f = lambda m: f"{r[m]['hit@k']:.3f} / {r[m]['mrr']:.3f}"
            print(f"{name:10s} {b.files:5d} {b.chunks:6d} {len(cases):9d}  {h0:.3f} / {m0:.3f}  {f('hybrid')} nDCG {r['hybrid']['ndcg@k']:.3f}  "
                  f"{f('dense')}  {f('lexical')}", flush=True)
            summary.append(f"{name} {r['hybrid']['hit@k']:.2f}/{r['hybrid']['mrr']:.2f} (was {h0:.2f}/{m0:.2f})")
        print("\n(hit@5 / MRR)")
        row("RAG retrieval", f"default build + hybrid query on {a.split} questions, hit@5/MRR, vs the earlier default (RRF)",
            "; ".join(summary) + " (goal on the docs: >= 0.90 / >= 0.75)", f"python bench/rag_quality.py --split {a.split}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
