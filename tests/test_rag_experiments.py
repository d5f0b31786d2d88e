"""Retrieval experiments and interop on a small corpus: sweeps (child runs, cache reuse, --keep best), generated questions
(the local LLM and the extractive fallback), llama-index retrievers and query engines, imports of persisted llama-index indexes."""
import json, warnings
from pathlib import Path
import mlflow
import pytest
from jupyter_llmops import rag
from jupyter_llmops.commands.core import dispatch
from jupyter_llmops.config import load_settings
from jupyter_llmops.errors import UsageError
from jupyter_llmops.rag_eval import evaluate, questions, read_qa, sweep
from jupyter_llmops.rag_interop import import_llamaindex, load_index

TOPICS = {
    "account.md": "# Account\n\n## Reset your password\n\nOpen Settings, choose Account, then Reset password. A reset link arrives by "
                  "e-mail within five minutes.\n\n## Delete your account\n\nWrite to the privacy team; deletion takes thirty days.\n",
    "billing.md": "# Billing\n\nInvoices are sent on the first day of each month. You can pay by card or by bank transfer. "
                  "Refunds are accepted within thirty days of purchase.\n",
    "install.md": "# Installation\n\nRun the installer, accept the licence, and restart the computer afterwards. The installer "
                  "needs two gigabytes of free disk space.\n",
    "status.md": "# Outages\n\nPlanned maintenance happens on Sundays at two in the morning. The status page lists incidents "
                 "and their resolution.\n",
}


@pytest.fixture
def docs(tmp_path, monkeypatch):
    d = tmp_path / "docs"; d.mkdir()
    for name, text in TOPICS.items(): (d / name).write_text(text)
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(x) + "\n" for x in [
        {"question": "how can I get a new password?", "expected_source": "account.md"},
        {"question": "when do invoices arrive?", "expected_source": "billing.md"},
        {"question": "how much disk space does setup need?", "expected_source": "install.md"},
        {"question": "when is the service down for maintenance?", "expected_source": "status.md"}]))
    monkeypatch.chdir(tmp_path)
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path / "home"), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "rag-x"})
    return d, s


def test_sweep_child_runs_cache_and_keep_best(docs):
    d, s = docs
    r = dispatch(["rag", "sweep", "kb", "docs", "--data", "qa.jsonl", "--chunk-size", "32,128", "--overlap", "0,8",
                  "--mode", "dense,lexical,hybrid", "--k", "2", "--keep", "best"], settings=s)
    assert len(r.table) == 2 * 2 * 3 and list(r.table.columns[:6]) == ["chunk_size", "overlap", "mode", "hit@k", "mrr", "ndcg@k"]
    ordered = list(zip(r.table["hit@k"], r.table["mrr"], r.table["ndcg@k"]))
    assert ordered == sorted(ordered, reverse=True) and r.best == r.table.iloc[0].to_dict()
    # at chunk size 128 every file is one chunk whatever the overlap: the second build embeds nothing
    big = r.table[r.table.chunk_size == 128].drop_duplicates("overlap").sort_values("overlap", ascending=False)
    assert big.embedded.tolist()[0] == 0 or big.embedded.tolist()[1] == 0
    runs = mlflow.search_runs(experiment_names=["rag-x"], filter_string="tags.`llmops.kind` = 'rag-sweep-variant'", output_format="list")
    assert len(runs) == 12 and {x.data.tags["mlflow.parentRunId"] for x in runs} == {r.run_id}
    parent = mlflow.get_run(r.run_id)
    assert parent.data.params["best_mode"] == r.best["mode"] and "rag_sweep/chart.png" in [a.path for a in mlflow.MlflowClient().list_artifacts(r.run_id, "rag_sweep")]
    kept = rag.load("kb", s)
    assert r.kept == "kb" and kept.manifest["chunk_size"] == r.best["chunk_size"] and kept.manifest["overlap"] == r.best["overlap"]
    assert rag.list_indexes(s).name.tolist() == ["kb"]  # the variants are gone
    assert evaluate("kb", "qa.jsonl", 2, r.best["mode"], s, log=False).metrics["hit@k"] == pytest.approx(r.best["hit@k"])
    assert r.chart_png()[:4] == b"\x89PNG" and "rag sweep" in r._repr_html_()


def test_sweep_refuses_bad_grids_before_building(docs):
    d, s = docs
    with pytest.raises(UsageError, match="overlap must be smaller"):
        sweep("kb", ["docs"], "qa.jsonl", "32", "32,64", settings=s, progress=False)
    with pytest.raises(UsageError, match="bad --mode fuzzy"):
        sweep("kb", ["docs"], "qa.jsonl", modes="dense,fuzzy", settings=s, progress=False)
    (Path("bad.jsonl")).write_text('{"question": "x"}\n')
    with pytest.raises(UsageError, match="bad.jsonl:1: missing field"):
        sweep("kb", ["docs"], "bad.jsonl", settings=s, progress=False)
    assert rag.list_indexes(s).empty


def test_questions_from_the_local_llm_and_the_fallback(docs):
    d, s = docs
    rag.build("kb", ["docs"], settings=s, progress=False)
    q = questions("kb", n=4, settings=s, progress=False)  # the local LLM (SmolLM2)
    rows = read_qa(q.path)
    assert len(rows) == 4 and sum(q.methods.values()) == 4
    assert sorted(Path(r["expected_source"]).name for r in rows) == sorted(TOPICS)  # spread over the sources
    assert all(r["question"].endswith("?") and r["method"] in ("llm", "extractive") for r in rows)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        q2 = questions("kb", n=3, out="mine.jsonl", llm="openai:none@http://127.0.0.1:9", settings=s, progress=False)
    assert q2.methods == {"extractive": 3} and Path("mine.jsonl").is_file() and any("extractive" in str(x.message) for x in w)
    assert evaluate("kb", q2.path, 2, settings=s, log=False).metrics["hit@k"] > 0


def test_retriever_and_query_engine_with_the_kit_llm(docs):
    d, s = docs
    rag.build("kb", ["docs"], settings=s, progress=False)
    ix = load_index("kb", s)
    from llama_index.core.retrievers import BaseRetriever
    ret = ix.as_retriever(k=3)
    assert isinstance(ret, BaseRetriever)
    nodes = ret.retrieve("how do I reset my password?")
    assert [n.node.metadata["file_name"] for n in nodes][0] == "account.md" and nodes[0].score >= nodes[-1].score
    assert {"source", "start", "title", "heading", "index", "version"} <= set(nodes[0].node.metadata)
    dense = ix.as_retriever(k=3, mode="dense").retrieve("how do I reset my password?")
    assert [n.node.node_id for n in dense] == [f"kb:1:{h.chunk_id}" for h in ix.query("how do I reset my password?", 3, "dense").hits]
    ans = ix.as_query_engine(k=2).query("How do I reset my password?")  # the kit's local LLM, offline
    assert str(ans).strip() and Path(ans.source_nodes[0].node.metadata["source"]).name == "account.md"


def test_build_from_a_persisted_llamaindex_faiss_index(docs, tmp_path):
    d, s = docs
    import faiss
    from llama_index.core import MockEmbedding, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.faiss import FaissVectorStore
    li_docs = SimpleDirectoryReader(str(d)).load_data()
    sc = StorageContext.from_defaults(vector_store=FaissVectorStore(faiss_index=faiss.IndexFlatL2(8)))
    VectorStoreIndex.from_documents(li_docs, storage_context=sc, embed_model=MockEmbedding(embed_dim=8)).storage_context.persist(str(tmp_path / "li"))
    b = dispatch(["rag", "build", "imp", "--from-llamaindex", str(tmp_path / "li")], settings=s)
    assert b.files == 4 and b.embedded == b.chunks
    assert Path(rag.query("imp", "refunds within thirty days", 1, settings=s).hits[0].source).name == "billing.md"
    again = dispatch(["rag", "build", "imp"], settings=s)  # no source: the last build's, the imported documents
    assert (again.files, again.embedded, again.version) == (4, 0, b.version + 1)
    with pytest.raises(UsageError, match="no persisted llama-index index"):
        dispatch(["rag", "build", "imp", "--from-llamaindex", str(d)], settings=s)
