"Prompt versioning on a real kernel, concurrent registration, lineage on a real local-model call, evaluation."
import json, os, subprocess, sys, threading
import mlflow
import pytest
from kernel import project_kernel
from jupyter_llmops import prompts, tracking
from jupyter_llmops.config import load_settings
from jupyter_llmops.llm import complete

T1 = "Answer the question.\nQuestion: {{question}}\nContext: {{context}}"
T2 = "Answer shortly and cite sources.\nQuestion: {{question}}\nContext: {{context}}"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k, proj = project_kernel(tmp_path_factory, "prm", "[llmops]\nexperiment = prompts-k\n")
    yield k
    k.close()


def ok(r):
    assert r.status == "ok", (r.ename, r.evalue, r.traceback)
    return r


def test_register_dedupe_alias_and_mlflow_loads_it_unchanged(kernel):
    r = ok(kernel.run(f'%%llmops prompt support-k -m "first" --alias staging\n{T1}\n'))
    assert "registered support-k version 1; @staging -> version 1" in r.text
    r = ok(kernel.run(f'%%llmops prompt support-k -m "shorter, cite sources" --alias staging\n{T2}'))
    assert "version 2" in r.text
    r = ok(kernel.run(f"%%llmops prompt support-k\n\n{T1}\n\n"))
    assert "identical to version 1, nothing registered" in r.text
    mlflow.set_tracking_uri(load_settings().tracking_uri)
    assert mlflow.genai.load_prompt("prompts:/support-k@staging").template == T2
    assert mlflow.genai.load_prompt("prompts:/support-k/1").template == T1


def test_list_show_diff_alias_render(kernel):
    r = ok(kernel.run("df = %llmops prompt list\nprint(df[df.name == 'support-k'][['latest', 'aliases']].values.tolist())"))
    assert r.stdout.strip() == "[[2, 'staging=2']]"
    r = ok(kernel.run("%llmops prompt show support-k@staging"))
    html = "".join(d.get("text/html", "") for d in r.data)
    assert "cite sources" in html and "@staging" in html
    r = ok(kernel.run("%llmops prompt diff support-k 1 2"))
    assert any("diff_" in d.get("text/html", "") for d in r.data)
    assert "+Answer shortly" in r.data[0]["text/plain"]
    ok(kernel.run("%llmops prompt alias support-k 1 production"))
    r = ok(kernel.run('r = %llmops prompt render support-k@production question="How?" context="{{x}} __import__(\'os\')"\nprint(r.version); print(r.text)'))
    assert r.stdout.splitlines()[:3] == ["1", "Answer the question.", "Question: How?"]
    assert "Context: {{x}} __import__('os')" in r.stdout


@pytest.mark.parametrize("line, ename, expect", [
    ('%llmops prompt render support-k@staging question="x"', "UsageError", "missing variable(s) context"),
    ('%llmops prompt render support-k/1 question=x context=y extra=z', "UsageError", "unknown variable(s) extra"),
    ("%llmops prompt show nope", "NotFoundError", "registered prompts:"),
    ("%llmops prompt alias support-k 9 production", "NotFoundError", "no version 9"),
    ("%llmops prompt alias support-k 1 latest", "UsageError", "bad alias"),
    ("%%llmops prompt support-k\n   \n", "UsageError", "template is empty"),
    ("%%llmops prompt support-k\nHi {{ not a var }}", "UsageError", "malformed variable"),
])
def test_bad_input(kernel, line, ename, expect):
    r = kernel.run(line)
    assert r.status == "error" and r.ename == ename and expect in r.evalue + "".join(r.traceback)
    assert "Traceback" not in "".join(r.traceback)


WORKER = """
import sys
from jupyter_llmops.prompts import register
from jupyter_llmops.config import load_settings
s = load_settings()
for i in range(3):
    register("conc", f"worker {sys.argv[1]} draft {i}: {{{{x}}}}", settings=s)
register("conc", "the same text from everyone {{x}}", settings=s)
"""


def test_four_processes_register_at_once(tmp_path):
    env = {**os.environ, "LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(i)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    s = load_settings(tmp_path, environ=env)
    vs = prompts._versions("conc", s)
    texts = sorted(v.template for v in vs)
    assert sorted(int(v.version) for v in vs) == list(range(1, 14))  # 12 drafts + 1 shared text, numbers unique
    assert texts.count("the same text from everyone {{x}}") == 1
    assert all(f"worker {w} draft {i}: {{{{x}}}}" in texts for w in range(4) for i in range(3))


def test_lineage_of_a_real_local_model_call(tmp_path):
    env = {"LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "lineage",
           "LLMOPS_SETTINGS": "", "PATH": os.environ["PATH"]}
    s = load_settings(tmp_path, environ=env)
    prompts.register("capital", "What is the capital of {{country}}? One word.", settings=s)
    prompts.register("capital", "Name the capital city of {{country}}.", settings=s)
    out = {}
    run = tracking.track(lambda: out.update(c=complete(prompts.render("capital/2", s, country="France"), "local",
                                                       max_tokens=8, settings=s)), experiment="lineage",
                         run_name="uses-capital-2", autolog=False, settings=s)
    c = out["c"]
    assert c.prompt == ("capital", 2) and c.trace_id and c.text
    assert json.loads(mlflow.get_run(run.run_id).data.tags["mlflow.linkedPrompts"]) == [{"name": "capital", "version": "2"}]
    view = prompts.show("capital/2", s)
    assert list(view.runs.run_id) == [run.run_id] and view.traces == [c.trace_id]
    trace = mlflow.get_trace(c.trace_id)
    assert trace.info.tags["llmops.prompt"] == "capital/2"
    assert "France" in json.dumps(trace.data.spans[0].inputs)
    assert prompts.show("capital/1", s).traces == []


def test_eval_through_the_magic_promotes_the_winner(kernel, tmp_path):
    data = tmp_path / "cases.jsonl"
    data.write_text("\n".join(json.dumps(c) for c in [{"country": "France", "expected": "Paris"},
                                                      {"country": "Germany", "expected": "Berlin"}]))
    ok(kernel.run("%%llmops prompt cap-k\nName a famous food from {{country}}."))  # v2 answers the question; v1 does not
    ok(kernel.run("%%llmops prompt cap-k\nWhat is the capital of {{country}}?"))  # (two that gave the same answers tied, and latency noise picked)
    r = ok(kernel.run(f"res = %llmops prompt eval cap-k --versions 1,2 --data {data} --scorers contains,token_f1,latency "
                      "--promote production --max-tokens 16\nprint(res.winner, res.promoted, sorted(res.summary.index))\nres"))
    winner, promoted, *_ = r.stdout.split()
    assert (winner, promoted) == ("2", "production") and "[1, 2]" in r.stdout
    assert any("data:image/png" in d.get("text/html", "") for d in r.data)
    s = load_settings()
    assert prompts.show("cap-k@production", s, with_usage=False).version == int(winner)
    r = ok(kernel.run("p = %llmops panel prompts\np.model.prompt = 'cap-k'\nprint('contains' in p.model.evaluation[0])\np"))
    assert r.stdout.strip() == "True"


def test_eval_with_rag_context_and_groundedness(tmp_path):
    "prompt eval --rag fills {{context}} from an index and scores groundedness, on the real local model."
    from jupyter_llmops import rag
    from jupyter_llmops.prompt_eval import evaluate
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "ground"})
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "refunds.md").write_text("# Refunds\n\nRefunds are accepted within 30 days of purchase. Send the receipt to support.\n")
    (tmp_path / "kb" / "hours.md").write_text("# Hours\n\nThe help desk is open from 9 to 17 on weekdays.\n")
    rag.build("kb", [str(tmp_path / "kb")], settings=s, progress=False)
    prompts.register("grounded", "Answer from the context only.\nContext:\n{{context}}\nQuestion: {{question}}", settings=s)
    prompts.register("grounded", "Question: {{question}}\nAnswer in one sentence.", settings=s)
    data = tmp_path / "q.jsonl"
    data.write_text("\n".join(json.dumps({"question": q}) for q in ["How long do I have to ask for a refund?", "When is the help desk open?"]))
    res = evaluate("grounded", [1, 2], data, ["groundedness", "latency"], max_tokens=40, settings=s, progress=False, rag="kb", k=2)
    assert set(res.summary.columns) == {"groundedness", "latency"}
    assert all(0.0 <= g <= 1.0 for g in res.summary["groundedness"])
    assert mlflow.get_run(res.run_id).data.params["rag"] == "kb"
    cases = res.cases[res.cases.version == 1]
    assert len(cases) == 2 and all(cases.answer.str.len() > 0)


def test_a_foreign_active_experiment_neither_fails_nor_takes_the_prompt(tmp_path, monkeypatch):
    # MLflow links a new prompt version to its active experiment: an `MLFLOW_EXPERIMENT_ID` exported for another server
    # (or a `set_experiment` on another store) made `register` raise after the version was created
    from mlflow.tracking import fluent
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path / "h"), "LLMOPS_EXPERIMENT": "notes"})
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "42")
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    r = prompts.register("greet", "Hello {{name}}", settings=s)
    monkeypatch.setattr(fluent, "_active_experiment_id", "77")
    r2 = prompts.register("greet", "Hi {{name}}", settings=s)
    assert (r.version, r2.version) == (1, 2) and fluent._active_experiment_id == "77"
    for t in threading.enumerate():  # MLflow tags the prompt with its experiments in a thread
        if t.name.startswith("link_prompt_to_experiment"): t.join(30)
    client = mlflow.MlflowClient(s.tracking_uri)
    kit = client.get_experiment_by_name("notes").experiment_id
    assert client.get_prompt("greet").tags["_mlflow_experiment_ids"] == f",{kit},"
