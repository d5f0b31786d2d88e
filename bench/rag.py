"""RAG builder against llama-index's default VectorStoreIndex (SimpleVectorStore), same corpus, same embedding model.

In one run: (1) full build time; (2) rebuild after changing 1 file of 200 against the full build; (3) query latency
p50 over 100k vectors (dim 384) against SimpleVectorStore, and HNSW recall@10 against exact search; (4) persist +
reload time against SimpleVectorStore's JSON persist (at 10k vectors: its JSON reload takes minutes at 100k).
The corpus is 200 real Python source files of scikit-learn and MLflow (1.5-4 KB each), copied to a temporary folder.
Run: .venv/bin/python bench/rag.py [--parts 1234]"""
import argparse, json, os, shutil, statistics, tempfile, time, warnings
from pathlib import Path
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import row  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
tmp = Path(tempfile.mkdtemp(prefix="llmops-bench-rag-"))
os.environ.update(LLMOPS_HOME=str(tmp / "home"), LLMOPS_EXPERIMENT="bench-rag")


def timed(fn):
    t = time.perf_counter(); r = fn(); return time.perf_counter() - t, r


def p50(fn, items):
    ts = []
    for x in items:
        t = time.perf_counter(); fn(x); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def corpus(n=200) -> list[Path]:
    import mlflow, sklearn
    pool = [p for pkg in (sklearn, mlflow) for p in sorted(Path(pkg.__file__).parent.rglob("*.py")) if 1500 <= p.stat().st_size <= 4000]
    out = tmp / "corpus"; out.mkdir()
    for i, p in enumerate(pool[:n]): shutil.copy(p, out / f"{i:03d}_{p.name}")
    return sorted(out.iterdir())


def builds(s, parts):
    "Parts 1 and 2: full build against llama-index, then an incremental rebuild."
    from jupyter_llmops import rag
    from jupyter_llmops.models import embed_model_path
    files = corpus()
    rag.Embedder.get("local")  # loading the model is not build time, for either side
    print(f"corpus: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e3:.0f} KB; embedding all-MiniLM-L6-v2 on the CPU\n")
    t_kit, b = timed(lambda: rag.build("bench", [str(tmp / "corpus")], settings=s, progress=False))
    if "1" in parts:
        from llama_index.core import Settings as LISettings, SimpleDirectoryReader, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        LISettings.llm = None
        LISettings.embed_model = HuggingFaceEmbedding(model_name=str(embed_model_path()), device="cpu", embed_batch_size=64)
        docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
        t_li, li = timed(lambda: VectorStoreIndex.from_documents(docs))
        t_li200, li2 = timed(lambda: VectorStoreIndex.from_documents(docs, transformations=[SentenceSplitter(chunk_size=200, chunk_overlap=32)]))
        n_li, n_li200 = len(li.docstore.docs), len(li2.docstore.docs)
        print("1. full build (cold embedding cache)")
        print(f"   jupyter-llmops              {t_kit:7.1f} s  {b.chunks:5d} chunks ({b.chunks / t_kit:.1f} chunks/s)")
        print(f"   llama-index default         {t_li:7.1f} s  {n_li:5d} chunks (1024-token chunks, of which the model reads 256)  -> kit {t_li / t_kit:.2f}x")
        print(f"   llama-index, 200-token      {t_li200:7.1f} s  {n_li200:5d} chunks ({n_li200 / t_li200:.1f} chunks/s)  -> kit {t_li200 / t_kit:.2f}x")
        row("RAG build", f"{len(files)} files, cold cache, vs llama-index `VectorStoreIndex`",
            f"{t_li200 / t_kit:.2f}x at equal 200-token chunks ({t_kit:.1f} s vs {t_li200:.1f} s); llama-index's default 1024-token chunks: "
            f"{t_li:.1f} s, because the model reads only 256 tokens of each", "python bench/rag.py --parts 1")
    if "2" in parts:
        target = files[17]
        target.write_text(target.read_text() + "\n# a change to one file of 200\n")
        t_inc, inc = timed(lambda: rag.build("bench", [str(tmp / "corpus")], settings=s, progress=False))
        print(f"\n2. rebuild after changing 1 file of {len(files)}: {t_inc:.2f} s = {100 * t_inc / t_kit:.1f}% of the full build "
              f"(goal <= 5%); read {inc.reread} file, embedded {inc.embedded} chunk(s)")
        row("RAG rebuild", f"1 changed file of {len(files)} vs the full build", f"{100 * t_inc / t_kit:.1f}% (goal <= 5%)", "python bench/rag.py --parts 2")
        t_q = p50(lambda q: rag.query("bench", q, k=5, settings=s),
                  ["how to compute a distance matrix", "sparse input validation", "random state seed", "fit and transform", "plot the results"] * 4)
        print(f"   end-to-end rag.query on this index (embed the question, dense + BM25, fusion): {t_q * 1e3:.1f} ms p50")


def vectors(parts):
    "Parts 3 and 4: vector search and persistence against SimpleVectorStore."
    import faiss
    import numpy as np
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import SimpleVectorStore, VectorStoreQuery
    from jupyter_llmops import rag
    rng = np.random.default_rng(0); n, d = 100_000, 384
    vecs = rng.standard_normal((n, 48)).astype("float32") @ rng.standard_normal((48, d)).astype("float32")  # low rank, like real embeddings
    vecs += 0.1 * rng.standard_normal((n, d)).astype("float32"); vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    qs = vecs[rng.choice(n, 50, replace=False)] + 0.01
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    def store(m):
        svs = SimpleVectorStore()
        svs.add([TextNode(text=f"chunk {i}", id_=str(i), embedding=vecs[i].tolist()) for i in range(m)])
        return svs
    if "3" in parts:
        t_build, hnsw = timed(lambda: rag._faiss_index("hnsw", vecs))
        flat = rag._faiss_index("flat", vecs)
        svs = store(n)
        t_h = p50(lambda q: hnsw.search(q[None], 10), qs)
        t_f = p50(lambda q: flat.search(q[None], 10), qs)
        t_s = p50(lambda q: svs.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=10)), qs[:10])
        _, want = flat.search(qs, 10); _, got = hnsw.search(qs, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want)])
        print(f"\n3. query latency p50 over {n // 1000}k vectors (dim {d}), top 10")
        print(f"   FAISS HNSW (M=32, efSearch 128)  {t_h * 1e3:8.3f} ms  -> {t_s / t_h:6.0f}x faster than SimpleVectorStore (goal >= 20x); "
              f"recall@10 {recall:.3f} (goal >= 0.95); built in {t_build:.0f} s")
        row("RAG query", f"HNSW over {n // 1000}k vectors vs `SimpleVectorStore`, p50 top-10",
            f"{t_h * 1e3:.1f} ms vs {t_s * 1e3:,.0f} ms: {t_s / t_h:,.0f}x (goal >= 20x); recall@10 {recall:.3f} (goal >= 0.95)", "python bench/rag.py --parts 3")
        print(f"   FAISS flat (exact)               {t_f * 1e3:8.3f} ms  -> {t_s / t_f:6.0f}x")
        print(f"   llama-index SimpleVectorStore    {t_s * 1e3:8.1f} ms")
    if "4" in parts:
        m = 10_000
        small, svs = rag._faiss_index("hnsw", vecs[:m]), store(m)
        d4 = tmp / "persist"; d4.mkdir()
        def kit_persist():
            faiss.write_index(small, str(d4 / "index.faiss"))
            with open(d4 / "chunks.jsonl", "w") as fh:
                for i in range(m): fh.write(json.dumps({"id": i, "text": f"chunk {i}"}) + "\n")
        def kit_load():
            faiss.read_index(str(d4 / "index.faiss"))
            with open(d4 / "chunks.jsonl") as fh: [json.loads(l) for l in fh]
        t_kp, _ = timed(kit_persist); t_kl, _ = timed(kit_load)
        t_sp, _ = timed(lambda: svs.persist(str(d4 / "svs.json")))
        t_sl, _ = timed(lambda: SimpleVectorStore.from_persist_path(str(d4 / "svs.json")))
        mb = lambda *ps: sum((d4 / p).stat().st_size for p in ps) / 1e6
        print(f"\n4. persist + reload of {m // 1000}k vectors")
        print(f"   jupyter-llmops (FAISS HNSW + chunks.jsonl)  {t_kp:6.2f} s + {t_kl:6.2f} s  {mb('index.faiss', 'chunks.jsonl'):5.0f} MB")
        print(f"   llama-index SimpleVectorStore JSON         {t_sp:6.2f} s + {t_sl:6.2f} s  {mb('svs.json'):5.0f} MB  "
              f"-> kit {(t_sp + t_sl) / (t_kp + t_kl):.0f}x faster")
        row("RAG persist", f"FAISS + chunks vs `SimpleVectorStore` JSON, persist + reload, {m // 1000}k vectors",
            f"{t_kp + t_kl:.2f} s vs {t_sp + t_sl:.0f} s: {(t_sp + t_sl) / (t_kp + t_kl):,.0f}x", "python bench/rag.py --parts 4")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="1234", help="which comparisons to run, e.g. 34")
    parts = set(ap.parse_args().parts)
    from jupyter_llmops.config import load_settings
    try:
        if parts & set("12"): builds(load_settings(), parts)
        if parts & set("34"): vectors(parts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
