"""RAG against llama-index, fairly: the same texts, the same embedding model, the same chunks, medians of several runs.

1. Full build, cold embedding cache: `rag.build` (the kit's defaults) against llama-index's
   `VectorStoreIndex.from_documents` (its default SimpleVectorStore). Both split with llama-index's `SentenceSplitter`
   at 200/32 tokens counted in the embedding model's own tokenizer (one tokenizer for both), both embed with
   all-MiniLM-L6-v2 on the CPU in batches of 64. Median of --runs builds each, interleaved. The kit embeds each chunk
   under its heading line (title > section); llama-index is timed twice: on the bare chunks (its default), and with
   that line as each chunk's only embedded metadata, so that both sides embed the same text (the equal-work figure).
2. Rebuild after changing one file, against the full build.
3. Query latency, end to end (the question embedded every time): `rag.query` at the kit's defaults (hybrid, the
   index type the build chose) against llama-index retrievers (`index.as_retriever(similarity_top_k=10).retrieve`,
   question embedded by `HuggingFaceEmbedding`) over its `FaissVectorStore` (HNSW with the kit's parameters, and flat)
   and its `SimpleVectorStore`, at 10k and 100k chunks of real text; recall@10 of the kit's dense search against exact
   search. The text: docstrings of installed packages (scikit-learn, SciPy, pandas, ...), 64-token chunks, embedded
   once into a kit embedding cache (--cache keeps it between runs: 100k chunks take about an hour on this CPU).
   --real N embeds only the first N chunks and draws the vectors of the others from a Gaussian with the mean and
   covariance of those N (normalised): every chunk's text is real (BM25 and the stored chunks are), the questions
   are real and embedded by the model, and the extra vectors lie where real ones do (low-rank, not uniform: uniform
   random vectors are HNSW's worst case and no embedding looks like them).
4. Persist + reload at 10k chunks: the kit's own code (a rebuild with nothing changed writes the FAISS index,
   chunks, BM25 and manifest; `rag.load` reads them) against llama-index's `storage_context.persist` +
   `load_index_from_storage`, with its FaissVectorStore and with its SimpleVectorStore.
Run: .venv/bin/python bench/rag.py [--parts 1234] [--runs 5] [--cache /tmp/rag-bench-cache] [--real 10000]"""
import argparse, ast, gc, os, re, shutil, statistics, sys, tempfile, time, warnings
from pathlib import Path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import row  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
tmp = Path(tempfile.mkdtemp(prefix="llmops-bench-rag-"))
QUESTIONS = ["how do I compute a distance matrix between samples", "validate sparse input arrays", "set the random state seed",
             "fit the model and transform the data", "plot the results on an axis", "log a model artifact to the tracking server",
             "read a CSV file into a data frame", "solve a linear system of equations", "tokenize text for a transformer model",
             "compute eigenvalues of a symmetric matrix", "handle missing values when grouping", "save and load a trained estimator",
             "integrate a function numerically", "learning rate schedule for the optimizer", "convert a tensor to a numpy array",
             "cross validation scores of a classifier", "resample a time series by month", "sparse matrix multiplication",
             "register a model version with an alias", "gradient of a loss with respect to parameters"]


def timed(fn):
    t = time.perf_counter(); r = fn(); return time.perf_counter() - t, r


def p50(fn, items):
    ts = []
    for x in items:
        t = time.perf_counter(); fn(x); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def settings_at(home: Path):
    from jupyter_llmops.config import load_settings
    return load_settings(home, environ={"LLMOPS_HOME": str(home), "HOME": str(home), "LLMOPS_EXPERIMENT": "bench-rag"})


def li_embed():
    from llama_index.core import Settings as LISettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from jupyter_llmops.models import embed_model_path
    LISettings.llm = None
    LISettings.embed_model = HuggingFaceEmbedding(model_name=str(embed_model_path()), device="cpu", embed_batch_size=64)
    return LISettings.embed_model


def source_corpus(n=60) -> list[Path]:
    "n real Python files of scikit-learn and MLflow (1.5-4 KB), copied to a temporary folder."
    import mlflow, sklearn
    pool = [p for pkg in (sklearn, mlflow) for p in sorted(Path(pkg.__file__).parent.rglob("*.py")) if 1500 <= p.stat().st_size <= 4000]
    out = tmp / "corpus"; out.mkdir(exist_ok=True)
    for i, p in enumerate(pool[:n]): shutil.copy(p, out / f"{i:03d}_{p.name}")
    return sorted(out.iterdir())


def builds(parts, runs, n_files=60):
    "Parts 1 and 2: full builds against llama-index at equal chunks, then an incremental rebuild."
    from jupyter_llmops import rag
    from jupyter_llmops.rag_docs import Chunker
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    files = source_corpus(n_files)
    emb = rag.Embedder.get("local"); embed = li_embed()  # loading the model is not build time, for either side
    from llama_index.core.node_parser import SentenceSplitter
    ch = Chunker(emb.tokenizer, emb.max_len, 200, 32)
    count = ch.count  # one tokenizer for both sides: MiniLM's
    splitter = SentenceSplitter(chunk_size=200, chunk_overlap=32, tokenizer=count, include_metadata=False)  # as the kit's
    docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
    for d in docs:  # llama-index subtracts the metadata's tokens from each chunk: none, so both sides cut the same chunks
        d.excluded_embed_metadata_keys = d.excluded_llm_metadata_keys = list(d.metadata)
    # The kit embeds each chunk under its heading line (title > section). For the same text on both sides, llama-index
    # gets that line as the chunk's only embedded metadata (its template puts it above the text, as the kit does);
    # the lines are computed here, outside llama-index's timing.
    from jupyter_llmops.rag_docs import read_doc
    from llama_index.core.schema import TransformComponent
    heads = {c.text: c.embed_text[:-len(c.text)].rstrip("\n") for f in files for c in ch.chunks(read_doc(f))}
    class Headings(TransformComponent):
        def __call__(self, nodes, **kw):
            for n in nodes:
                h = heads.get(n.text, "")
                n.metadata = {"heading": h} if h else {}
                n.excluded_embed_metadata_keys, n.excluded_llm_metadata_keys = [], []
                n.metadata_template, n.text_template = "{value}", "{metadata_str}\n{content}"
            return nodes
    print(f"corpus: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e3:.0f} KB; all-MiniLM-L6-v2 on the CPU; "
          f"{runs} builds each, interleaved, cold caches\n")
    t_kit, t_li, t_lh, n_kit, n_li = [], [], [], 0, 0
    s = settings_at(tmp / "home")
    def cold():  # no index, no cached embedding; the MLflow store stays (a user's first build finds it made)
        if not rag.list_indexes(s).empty: rag.drop("bench", s)
        for f in s.path("cache").glob("embeddings.sqlite*"): f.unlink()
    rag.build("warm-up", [str(files[0])], settings=s, progress=False); rag.drop("warm-up", s)  # imports, MLflow store
    VectorStoreIndex.from_documents(docs[:1], transformations=[splitter], embed_model=embed)
    for i in range(runs):
        cold()
        t, b = timed(lambda: rag.build("bench", [str(tmp / "corpus")], settings=s, progress=False)); t_kit.append(t); n_kit = b.chunks
        t, li = timed(lambda: VectorStoreIndex.from_documents(docs, transformations=[splitter], embed_model=embed)); t_li.append(t)
        n_li = len(li.docstore.docs); del li; gc.collect()
        t, li = timed(lambda: VectorStoreIndex.from_documents(docs, transformations=[splitter, Headings()], embed_model=embed)); t_lh.append(t)
        del li; gc.collect()
    k, l, lh = statistics.median(t_kit), statistics.median(t_li), statistics.median(t_lh)
    if "1" in parts:
        print("1. full build (cold embedding cache), median of", runs)
        print(f"   jupyter-llmops              {k:7.1f} s  {n_kit:5d} chunks ({n_kit / k:.1f} chunks/s)  runs: {', '.join(f'{x:.1f}' for x in t_kit)}")
        print(f"   llama-index VectorStoreIndex {l:6.1f} s  {n_li:5d} chunks ({n_li / l:.1f} chunks/s)  runs: {', '.join(f'{x:.1f}' for x in t_li)}")
        print(f"   llama-index, heading lines   {lh:6.1f} s  {n_li:5d} chunks, each embedded under the kit's heading line (the same text as the kit)  runs: {', '.join(f'{x:.1f}' for x in t_lh)}")
        print(f"   -> kit {l / k:.2f}x against llama-index embedding the bare chunks; {lh / k:.2f}x at equal text (goal >= 1.0)")
        row("RAG build", f"{len(files)} files, cold cache, vs llama-index `VectorStoreIndex`, the same splitter and tokenizer "
            f"(200/32 MiniLM tokens), median of {runs}", f"{lh / k:.2f}x at equal text ({k:.1f} s vs {lh:.1f} s, llama-index embedding each chunk under the kit's heading line); {l / k:.2f}x against llama-index embedding the bare chunks ({l:.1f} s); {n_kit} vs {n_li} chunks (goal >= 1.0)",
            "python bench/rag.py --parts 1")
    if "2" in parts:
        target = files[len(files) // 3]
        t_inc = []
        for i in range(runs):
            target.write_text(target.read_text() + f"\n# change {i} to one file of {len(files)}\n")
            t, inc = timed(lambda: rag.build("bench", [str(tmp / "corpus")], settings=s, progress=False)); t_inc.append(t)
        inc_t = statistics.median(t_inc)
        print(f"\n2. rebuild after changing 1 file of {len(files)}: {inc_t:.2f} s = {100 * inc_t / k:.1f}% of the full build "
              f"(goal <= 5%); read {inc.reread} file, embedded {inc.embedded} chunk(s); median of {runs}")
        row("RAG rebuild", f"1 changed file of {len(files)} vs the full build, median of {runs}", f"{100 * inc_t / k:.1f}% (goal <= 5%)",
            "python bench/rag.py --parts 2")


def docstring_corpus(out: Path, want: int, chunker) -> int:
    "Module docstrings of installed packages as .txt files in `out`, until they make `want` chunks; the chunk count."
    import sklearn
    sp = Path(sklearn.__file__).parent.parent
    out.mkdir(parents=True, exist_ok=True)
    from jupyter_llmops.rag_docs import read_doc
    n = 0
    for pkg in ["sklearn", "scipy", "pandas", "numpy", "mlflow", "transformers", "torch", "sympy", "matplotlib", "llama_index",
                "networkx", "statsmodels"]:
        for p in sorted((sp / pkg).rglob("*.py")):
            if "test" in p.parts or p.name.startswith("test"): continue
            try: tree = ast.parse(p.read_text(encoding="utf-8"))
            except Exception: continue
            docs = [ast.get_docstring(x) for x in ast.walk(tree) if isinstance(x, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
            text = re.sub(r"^\s*#", " ", "\n\n".join(d for d in docs if d and len(d) > 80), flags=re.M)
            if len(text) < 2000: continue
            f = out / f"{len(list(out.iterdir())):05d}_{pkg}_{p.stem}.txt"
            f.write_text(text); n += len(chunker.chunks(read_doc(f)))
            if n >= want: return n
    return n


def synthesize(folder: Path, chunker, emb, s, real: int):
    "Embed the first `real` chunks of `folder` (cached) and put Gaussian vectors fitted to them in the cache for the rest."
    import numpy as np
    from jupyter_llmops.embeddings import EmbeddingCache
    from jupyter_llmops.rag_docs import read_doc
    texts = [c.embed_text for f in sorted(folder.iterdir()) for c in chunker.chunks(read_doc(f))]
    cache = EmbeddingCache(s.path("cache", "embeddings.sqlite"))
    keys = [EmbeddingCache.key(x) for x in texts]
    have = cache.get_many(emb.id, keys[:real])
    todo = [i for i in range(real) if keys[i] not in have]
    for a in range(0, len(todo), 1024):
        part = todo[a:a + 1024]; cache.put_many(emb.id, dict(zip([keys[i] for i in part], emb.encode([texts[i] for i in part]))))
    have = cache.get_many(emb.id, keys[:real]); R = np.stack([have[k] for k in keys[:real]])
    done = cache.get_many(emb.id, keys[real:])
    rest = sorted({k for k in keys[real:] if k not in done})
    X = np.random.default_rng(0).multivariate_normal(R.mean(0), np.cov(R, rowvar=False), size=len(rest)).astype("float32")
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    cache.put_many(emb.id, dict(zip(rest, X)))
    print(f"   {real:,} chunks embedded, {len(rest):,} vectors drawn from a Gaussian fitted to them")


def vectors(parts, runs, cache: Path | None, real: int | None = None, sizes=(10_000, 100_000)):
    "Parts 3 and 4: the kit's query and persistence against llama-index's FAISS and simple vector stores."
    import faiss, numpy as np
    from jupyter_llmops import rag, rag_store
    from jupyter_llmops.rag_docs import Chunker
    from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import SimpleVectorStore
    from llama_index.vector_stores.faiss import FaissVectorStore
    emb = rag.Embedder.get("local"); embed = li_embed()
    chunker = Chunker(emb.tokenizer, emb.max_len, 64, 0)
    for n in sizes:
        home = tmp / f"home-{n}"; s = settings_at(home)
        if cache:
            cache.mkdir(parents=True, exist_ok=True)
            s.path("cache").mkdir(parents=True, exist_ok=True)
            os.symlink(cache / "embeddings.sqlite", s.path("cache", "embeddings.sqlite"))
        folder = tmp / f"docstrings-{n}"
        total = docstring_corpus(folder, n, chunker)
        if real and n > real: synthesize(folder, chunker, emb, s, real)
        t_build, b = timed(lambda: rag.build("big", [str(folder)], chunk_size=64, overlap=0, settings=s, progress=True))
        idx = rag.load("big", s)
        print(f"\n3. {b.chunks:,} chunks ({total:,} counted) of docstrings, index {idx.manifest['index']}; built in {t_build:.0f} s "
              f"({b.embedded:,} chunks embedded, {b.reused:,} from the cache)")
        vecs = idx.faiss.reconstruct_n(0, idx.faiss.ntotal) if idx.manifest["index"] != "ivf" else None
        flat = faiss.IndexFlatIP(vecs.shape[1]); flat.add(vecs)
        qv = emb.encode(QUESTIONS)
        _, want = flat.search(qv, 10)
        _, got = idx.faiss.search(qv, 10)  # the index's own search (rag.query then re-ranks its candidates by document)
        recall = np.mean([len(set(a) & set(w)) / 10 for a, w in zip(got, want)])
        qs = QUESTIONS * 3
        t_kit = p50(lambda q: rag.query("big", q, 10, settings=s), qs)
        t_kit_dense = p50(lambda q: rag.query("big", q, 10, "dense", s), qs)
        nodes = [TextNode(text=c["text"], id_=str(c["id"]), embedding=vecs[i].tolist()) for i, c in enumerate(idx.chunks)]
        def li_faiss(kind):
            fi = rag_store.faiss_index(kind, vecs[:0]) if kind == "flat" else faiss.IndexHNSWFlat(vecs.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            if kind == "hnsw": fi.hnsw.efConstruction, fi.hnsw.efSearch = 64, 256
            return VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=FaissVectorStore(faiss_index=fi)), embed_model=embed)
        li_h, li_f = li_faiss("hnsw"), li_faiss("flat")
        t_lh = p50(lambda q: li_h.as_retriever(similarity_top_k=10).retrieve(q), qs)
        t_lf = p50(lambda q: li_f.as_retriever(similarity_top_k=10).retrieve(q), qs)
        li_s = VectorStoreIndex(nodes, embed_model=embed)
        t_ls = p50(lambda q: li_s.as_retriever(similarity_top_k=10).retrieve(q), QUESTIONS[:max(5, runs)])
        t_e = p50(lambda q: emb.encode([q]), qs)
        print(f"   p50, top 10, question embedded each time ({t_e * 1e3:.1f} ms of it embedding the question):")
        print(f"   jupyter-llmops rag.query (hybrid, default)   {t_kit * 1e3:8.1f} ms   recall@10 of its {idx.manifest['index']} search {recall:.3f}")
        print(f"   jupyter-llmops rag.query --mode dense        {t_kit_dense * 1e3:8.1f} ms")
        print(f"   llama-index FaissVectorStore (HNSW, same M/ef){t_lh * 1e3:8.1f} ms")
        print(f"   llama-index FaissVectorStore (flat)          {t_lf * 1e3:8.1f} ms")
        print(f"   llama-index SimpleVectorStore                {t_ls * 1e3:8.1f} ms  -> kit {t_ls / t_kit:,.0f}x faster")
        if "3" in parts:
            row("RAG query", f"`rag.query` (hybrid, question embedded) at {b.chunks // 1000}k chunks vs llama-index retrievers, p50 top-10",
                f"{t_kit * 1e3:.1f} ms (goal <= 20 ms at 100k) vs FaissVectorStore HNSW {t_lh * 1e3:.1f} ms, flat {t_lf * 1e3:.1f} ms, "
                f"SimpleVectorStore {t_ls * 1e3:,.0f} ms; recall@10 {recall:.3f} (goal >= 0.95)", "python bench/rag.py --parts 3")
        if "4" in parts and n == sizes[0]:
            t_kp, t_kl, t_fp, t_fl, t_sp, t_sl = [], [], [], [], [], []
            for i in range(runs):
                t, _ = timed(lambda: rag.build("big", [str(folder)], chunk_size=64, overlap=0, settings=s, progress=False)); t_kp.append(t)
                rag._loaded.clear(); t, _ = timed(lambda: rag.load("big", s)); t_kl.append(t)
                for li, d, tp, tl, kind in ((li_f, tmp / f"li-faiss-{i}", t_fp, t_fl, "faiss"), (li_s, tmp / f"li-simple-{i}", t_sp, t_sl, "simple")):
                    t, _ = timed(lambda: li.storage_context.persist(persist_dir=str(d))); tp.append(t)
                    def reload():
                        vs = FaissVectorStore.from_persist_dir(str(d)) if kind == "faiss" else None
                        sc = StorageContext.from_defaults(persist_dir=str(d), **({"vector_store": vs} if vs else {}))
                        return load_index_from_storage(sc, embed_model=embed)
                    t, _ = timed(reload); tl.append(t)
                    shutil.rmtree(d, ignore_errors=True)
            m = statistics.median
            print(f"\n4. persist and reload of {b.chunks:,} chunks, median of {runs}")
            print(f"   jupyter-llmops: write = a rebuild with nothing changed (reads the manifest, re-indexes BM25, writes FAISS + chunks")
            print(f"   + BM25 + manifest, logs an MLflow run); reload = rag.load       {m(t_kp):6.2f} s + {m(t_kl):6.2f} s")
            print(f"   llama-index FaissVectorStore + docstore                        {m(t_fp):6.2f} s + {m(t_fl):6.2f} s")
            print(f"   llama-index SimpleVectorStore + docstore (JSON)                {m(t_sp):6.2f} s + {m(t_sl):6.2f} s")
            print(f"   reload: kit {m(t_fl) / m(t_kl):.1f}x FaissVectorStore's speed, {m(t_sl) / m(t_kl):.0f}x SimpleVectorStore's")
            row("RAG persist", f"reload (`rag.load`) and write (a no-change rebuild: BM25 re-indexed, an MLflow run) vs llama-index "
                f"`load_index_from_storage` and `persist`, {b.chunks / 1000:.0f}k chunks, median of {runs}",
                f"reload {m(t_kl):.2f} s vs FaissVectorStore {m(t_fl):.2f} s, SimpleVectorStore {m(t_sl):.1f} s; write {m(t_kp):.2f} s vs "
                f"{m(t_fp):.2f} s and {m(t_sp):.1f} s", "python bench/rag.py --parts 4")
        del li_h, li_f, li_s, nodes; gc.collect()
        if not parts & {"3"}: break  # part 4 alone needs only the 10k index


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="1234", help="which comparisons to run, e.g. 34")
    ap.add_argument("--runs", type=int, default=5, help="runs per median (at least 5)")
    ap.add_argument("--cache", type=Path, help="a folder for the embedding cache of parts 3-4, kept between runs")
    ap.add_argument("--files", type=int, default=60, help="files of the build corpus (parts 1-2)")
    ap.add_argument("--sizes", default="10000,100000", help="chunk counts of parts 3-4")
    ap.add_argument("--real", type=int, help="embed only this many chunks; Gaussian vectors fitted to them for the rest")
    a = ap.parse_args()
    parts = set(a.parts)
    try:
        if parts & set("12"): builds(parts, a.runs, a.files)
        if parts & set("34"): vectors(parts, a.runs, a.cache, a.real, [int(x) for x in a.sizes.split(",")])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
