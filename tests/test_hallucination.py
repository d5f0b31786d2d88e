"""Hallucination you can measure, end to end: a RAG answer keeps its retrieved context in the trace and the call table;
the monitor scores groundedness once per call, shows the hallucination rate and alerts on it; `eval check` gates a
data file (exit status 3); `eval align` fits the evaluators to a label session and the monitor uses the result;
toxicity's classifier beats the lexicon on the labelled set shipped with the tests."""
import json, time
from pathlib import Path
import pytest
from conftest import ROOT, run_cli
from jupyter_llmops.calls import CallTable
from jupyter_llmops.config import load_settings
from jupyter_llmops.recorder import RECORDER, flush

CTX = [{"source": "faq.md", "text": "Open Settings and choose Reset password. A reset link is sent to your e-mail address within five minutes."}]
ANSWERS = [("Open Settings and choose Reset password.", True), ("A reset link is sent to your e-mail address.", True),
           ("Call our office in Paris; it is open on Sundays.", False), ("The index is kept up to date by the LLM, which is a Lambda-based model.", False)]


def env_for(tmp_path, **extra):
    return {"LLMOPS_HOME": str(tmp_path / "home"), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "hall", **extra}


def submit(s, answers, model="local", ctx=CTX):
    now = time.time_ns()
    for i, (a, _) in enumerate(answers):
        RECORDER.submit(s, dict(model=model, messages=[{"role": "user", "content": "Context: ...\nQuestion: How do I reset my password?"}], text=a,
                                start_ns=now + i * 10**6, end_ns=now + i * 10**6 + 10**8, prompt=("qa", 1),
                                attrs={"llmops.latency_s": 0.1, "llmops.question": "How do I reset my password?", "llmops.context": ctx}))
    assert flush()


@pytest.mark.slow
def test_rag_answer_keeps_its_context_and_the_monitor_scores_it(tmp_path):
    from jupyter_llmops.ask import ask
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.monitor import monitor
    from jupyter_llmops.rag import build
    e = env_for(tmp_path)
    s = load_settings(tmp_path, environ=e)
    (tmp_path / "docs").mkdir(); (tmp_path / "docs" / "reset.md").write_text("# Passwords\n\n" + CTX[0]["text"] + "\n")
    build("kb", [str(tmp_path / "docs")], settings=s)
    a = ask("How do I reset my password?", index="kb", k=2, max_tokens=24, settings=s)
    assert flush(scores=True)
    tr = connect(s).get_trace(a.trace_id)
    ctx = tr.data.spans[0].attributes["llmops.context"]
    assert ctx[0]["source"].endswith("reset.md") and "Reset password" in ctx[0]["text"]
    m = monitor("1h", settings=s)
    row = m.summary.loc["local"]
    assert row.with_context == 1 and 0.0 <= row.groundedness <= 1.0 and {"groundedness", "hallucination_rate"} <= set(m.summary.columns)
    from jupyter_llmops.recorder import recorded_calls
    assert recorded_calls("1h", s).question.tolist() == ["How do I reset my password?"]  # the question, not the filled prompt


def test_hallucination_rate_alerts_and_no_call_is_scored_twice(tmp_path, webhook, monkeypatch):
    import jupyter_llmops.monitor as mon
    e = env_for(tmp_path, LLMOPS_ALERT_HALLUCINATION_RATE="0.25", LLMOPS_ALERT_WEBHOOK=f"{webhook.url}/h")
    s = load_settings(tmp_path, environ=e)
    submit(s, ANSWERS)
    m = mon.monitor("1h", settings=s)
    assert m.summary.loc["local", "hallucination_rate"] == 0.5 and m.summary.loc["local", "with_context"] == 4
    assert m.calls.sort_values("time").hallucinated.tolist() == [not ok for _, ok in ANSWERS]
    assert [(a["metric"], a["value"]) for a in m.alerts] == [("hallucination_rate", 0.5)] and webhook.got[-1]["alerts"] == m.alerts
    assert len(CallTable.at(s).scores(0, ["groundedness"])) == 4
    monkeypatch.setattr(mon, "score_rows", lambda *a, **k: pytest.fail("a call was scored twice"))
    again = mon.monitor("1h", settings=s, alert=False)
    assert again.summary.loc["local", "hallucination_rate"] == 0.5
    r = run_cli("monitor", "--since", "1h", "--cached", cwd=tmp_path, env={**e, "LLMOPS_ALERT_WEBHOOK": ""})
    assert r.returncode == 0 and "hallucination_rate" in r.stdout and "ALERT local: hallucination_rate 0.5" in r.stdout


def test_eval_check_fails_with_status_3_and_passes(tmp_path):
    rows = [{"question": "How do I reset my password?", "answer": a, "context": [CTX[0]["text"]]} for a, _ in ANSWERS]
    (tmp_path / "cases.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    e = env_for(tmp_path)
    bad = run_cli("eval", "check", "--data", "cases.jsonl", "--min", "groundedness=0.8", "no_pii=1", cwd=tmp_path, env=e)
    assert bad.returncode == 3 and "EvaluationFailed: quality gate failed on cases.jsonl: groundedness 0." in bad.stderr and "< 0.8" in bad.stderr
    good = run_cli("eval", "check", "--data", "cases.jsonl", "--min", "groundedness=0.3", "no_pii=1", cwd=tmp_path, env=e)
    assert good.returncode == 0 and "groundedness" in good.stdout and "FAIL" not in good.stdout


def test_eval_align_on_a_label_session_feeds_the_monitor(tmp_path):
    from jupyter_llmops.evaluators import aligned
    from jupyter_llmops.feedback import LabelSession
    from jupyter_llmops.monitor import monitor
    e = env_for(tmp_path)
    s = load_settings(tmp_path, environ=e)
    ctx = "The museum opens at 9 am and closes at 6 pm. Tickets cost 12 euros; children under 12 enter free. The cafe is on the first floor."
    good = ["The museum opens at 9 am.", "Tickets cost 12 euros.", "Children under 12 enter free.", "It closes at 6 pm.",
            "The cafe is on the first floor.", "Entry costs 12 euros for adults.", "You can visit from 9 am to 6 pm.", "Kids under 12 do not pay."]
    bad = ["The museum is closed on Mondays.", "Tickets cost 30 dollars.", "Parking is free for visitors.", "The cafe serves vegan food.",
           "Guided tours start every hour.", "It was built in 1850 by an architect from Rome.", "Dogs are welcome inside.", "The shop sells maps."]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps({"question": "Tell me about the museum.", "answer": a, "context": ctx}) + "\n" for a in good + bad))
    ls = LabelSession("museum", tmp_path / "items.jsonl", "grounded", settings=s)
    keys = iter(["y" if i < len(good) else "n" for i in range(len(good) + len(bad))] + ["q"])
    ls.run_in_terminal(ask=lambda _: next(keys), say=lambda _: None)
    kto = [json.loads(l) for l in ls.labels_path.read_text().splitlines()]
    assert len(kto) == 16 and {"prompt", "completion", "label"} <= set(kto[0]) and kto[0]["label"] is True and kto[-1]["label"] is False
    r = run_cli("eval", "align", "museum-ok", "--labels", "feedback:museum", "--features", "groundedness,relevance", "--holdout", "0.25", cwd=tmp_path, env=e)
    assert r.returncode == 0, r.stderr
    assert "museum-ok (aligned)" in r.stdout and "groundedness" in r.stdout
    a = aligned("museum-ok", s)
    assert a["features"] == ["groundedness", "relevance"] and a["model"].meta["n_labels"] == 16
    from mlflow import MlflowClient
    from jupyter_llmops.evaluators import aligned_path
    c = MlflowClient(s.tracking_uri)
    run = c.search_runs([c.get_experiment_by_name(s.experiment).experiment_id], "tags.`llmops.kind` = 'eval-align'")[0]
    logged = Path(c.download_artifacts(run.info.run_id, "museum-ok.json", str(tmp_path)))
    assert json.loads(logged.read_text()) == json.loads(aligned_path("museum-ok", s).read_text())  # the fitted evaluator, in MLflow
    s2 = s.updated(hallucination_evaluator="museum-ok")
    submit(s2, [(good[0], True), (bad[1], False)], model="museum-bot", ctx=[{"source": "museum.md", "text": ctx}])
    m = monitor("1h", settings=s2, alert=False)
    assert m.evaluator == "museum-ok" and m.summary.loc["museum-bot", "hallucination_rate"] == 0.5


def test_toxicity_classifier_beats_the_lexicon_on_the_labelled_set():
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from jupyter_llmops.evaluators import toxicity, toxicity_backend
    rows = [json.loads(l) for l in (ROOT / "tests" / "data" / "toxicity.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"toxic", "borderline", "benign"}
    y = [r["label"] for r in rows]
    got = {}
    for backend in ("auto", "lexicon"):
        s = load_settings().updated(toxicity_model=backend)
        p = [toxicity(r["text"], s) for r in rows]
        got[toxicity_backend(s)] = (roc_auc_score(y, p), balanced_accuracy_score(y, [v >= 0.5 for v in p]))
    print("toxicity agreement on tests/data/toxicity.jsonl (AUC, balanced accuracy at 0.5):", got)
    assert set(got) == {"alt-profanity-check", "lexicon"}
    assert got["alt-profanity-check"][0] > got["lexicon"][0] and got["alt-profanity-check"][1] > got["lexicon"][1]
