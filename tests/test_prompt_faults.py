"""Prompts, `prompt eval` and `ask` against a fake OpenAI-compatible server on loopback (no model loaded): what the prompt
probe found (/tmp/probe-prompt), each a test."""
import json, warnings
import pytest
from conftest import chat_server
from jupyter_llmops import prompts
from jupyter_llmops.config import load_settings


@pytest.fixture(scope="module")
def server():
    "A server that answers `Paris` to a question about France, else `Lima`; `.seen` holds (path, prompt) of every request."
    from types import SimpleNamespace
    url, seen, srv = chat_server(lambda prompt, body: (200, "Paris" if "France" in prompt else "Lima"))
    yield SimpleNamespace(url=url, seen=seen)
    srv.shutdown()


@pytest.fixture
def st(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return load_settings().updated(eval_on_record="off")


def _cases(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_a_key_in_a_specs_query_is_in_no_file_and_no_mlflow_param(st, server, tmp_path):
    "`?subscription-key=KEY` (Azure API Management) was kept in clear in the MLflow `llm` param and calls.db (probe M1, e5)."
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.prompt_eval import evaluate
    from jupyter_llmops.recorder import flush
    key = "QwErTy0987zxcv55"
    prompts.register("qa", "Answer: {{question}}", settings=st)
    data = _cases(tmp_path / "c.jsonl", [{"question": "Capital of France?", "expected": "Paris"}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluate("qa", [1], data, llm=f"openai:m@{server.url}?subscription-key={key}", settings=st, progress=False)
    assert flush()
    assert server.seen[-1] == (f"/v1/chat/completions?subscription-key={key}", "Answer: Capital of France?")  # the key did reach the server
    params = [r.data.params.get("llm") for r in connect(st).search_runs(search_all_experiments=True, output_format="list")]
    assert params == [f"openai:m@{server.url}?subscription-key=***"]
    holding = [str(f) for f in st.home.rglob("*") if f.is_file() and key.encode() in f.read_bytes()]
    assert holding == []


def test_a_chat_prompt_registered_with_mlflow_is_shown_diffed_rendered_asked_and_evaluated(st, server, tmp_path):
    "A list of messages registered with MLflow's own API crashed show, render, diff and eval (probe M6, e9), then was refused; now it is used."
    from jupyter_llmops.ask import ask
    from jupyter_llmops.prompt_eval import evaluate
    ml = prompts._mlflow(st)
    for system in ("Be brief.", "Be very brief."):
        ml.genai.register_prompt("chatqa", [{"role": "system", "content": system}, {"role": "user", "content": "{{question}}"}])
    v = prompts.show("chatqa/1", st)
    assert "[system] Be brief.\n[user] {{question}}" in repr(v) and v.variables == ["question"] and "[system] Be brief." in v._repr_html_()
    assert prompts.diff("chatqa", 1, 2, st).lines(0)[2:] == ["@@ -1 +1 @@", "-[system] Be brief.", "+[system] Be very brief."]
    assert prompts.render("chatqa/1", st, question="hi").messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    data, llm = _cases(tmp_path / "c.jsonl", [{"question": "Capital of France?", "expected": "Paris"}]), f"openai:m@{server.url}"
    a = ask("Capital of France?", prompt="chatqa", llm=llm, settings=st)
    assert (a.text, a.prompt, server.seen[-1][1]) == ("Paris", ("chatqa", 2), "Capital of France?")
    res = evaluate("chatqa", [1, 2], data, llm=llm, settings=st, progress=False)
    assert list(res.cases.answer) == ["Paris", "Paris"] and sorted(res.summary.index) == [1, 2]


def test_a_single_brace_template_is_warned_about_at_registration_and_at_eval(st, server, tmp_path):
    "`Answer the question: {question}` was evaluated with the literal `{question}` in every case, and no warning (probe M5, e7)."
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.prompt_eval import evaluate
    data = _cases(tmp_path / "c.jsonl", [{"question": "Capital of France?", "expected": "Paris"}])
    with pytest.warns(UserWarning, match=r"the template has no \{\{variables\}\}: \{question\} is sent as written; write \{\{question\}\}"):
        prompts.register("fmt", "Answer the question: {question}", settings=st)
    with pytest.warns(UserWarning, match=r"fmt/1 has no \{\{variables\}\}: \{question\} is sent as written"):
        evaluate("fmt", [1], data, llm=f"openai:m@{server.url}", settings=st, progress=False)
    with pytest.raises(UsageError, match=r"unknown variable\(s\) question(.|\n)*its \{question\} as \{\{question\}\} in a new version"):
        prompts.render("fmt/1", st, question="Capital of France?")


def test_ask_reads_a_value_that_goes_on_over_lines(st, server):
    "`ask --prompt` with a value over several lines said `missing variable(s) audience` though `audience:` was given, and a `context:` over lines asked for --rag (probe L4, e8)."
    from jupyter_llmops.ask import ask, parse_cell
    prompts.register("summ", "Summarise for {{audience}}:\n{{question}}", settings=st)
    prompts.register("rq", "Context: {{context}}\nQ: {{question}}", settings=st)
    llm = f"openai:m@{server.url}"
    q, values = parse_cell("audience: managers\nquestion: the text below\nLine one of the report.\nLine two.", "summ")
    ask(q, prompt="summ", values=values, llm=llm, settings=st)
    assert server.seen[-1][1] == "Summarise for managers:\nthe text below\nLine one of the report.\nLine two."
    q, values = parse_cell("question: What changed?\ncontext: Release notes:\n- faster builds", "rq")
    ask(q, prompt="rq", values=values, llm=llm, settings=st)
    assert server.seen[-1][1] == "Context: Release notes:\n- faster builds\nQ: What changed?"


KILLED_FIRST = """
import os
from mlflow.store.model_registry import sqlalchemy_store
sqlalchemy_store.SqlAlchemyStore.create_model_version = lambda *a, **k: os.kill(os.getpid(), 9)  # killed between the two writes
from jupyter_llmops.prompts import register
register("fresh", "Q: {{question}}")
"""


def test_a_first_registration_killed_before_its_version_leaves_no_prompt_to_contradict(st, tmp_path):
    "A fault probe: `prompt list` showed `fresh` (latest NaN, 0 versions) while `prompt show fresh` said there is no such prompt, naming it in its hint."
    import os, subprocess, sys
    from jupyter_llmops.errors import NotFoundError
    prompts.register("kept", "K: {{x}}", settings=st)
    r = subprocess.run([sys.executable, "-c", KILLED_FIRST], cwd=tmp_path, env={**os.environ, "LLMOPS_HOME": str(st.home)}, timeout=300)
    assert r.returncode == -9
    df = prompts.list_prompts(st)
    assert df.name.tolist() == ["kept"] and df.latest.tolist() == [1]  # whole numbers, not 1.0 beside a NaN
    with pytest.raises(NotFoundError, match="no prompt 'fresh'") as e: prompts.show("fresh", st)
    assert "fresh" not in e.value.hint and "kept" in e.value.hint
    assert prompts.register("fresh", "Q: {{question}}", settings=st).version == 1  # the next registration makes it whole
    assert prompts.list_prompts(st).name.tolist() == ["fresh", "kept"]
