"`prompt eval` around the model call: like-for-like comparisons, failures said and kept, against fake OpenAI-compatible servers on loopback."
import json, warnings
import pytest
from conftest import chat_server
from jupyter_llmops import prompts
from jupyter_llmops.prompt_eval import evaluate

CAP = {"France": "Paris", "Peru": "Lima", "Chile": "Santiago", "Spain": "Madrid"}


@pytest.fixture
def serve():
    "serve(answer) -> base URL of a server whose reply to a prompt is answer(prompt, body) -> (status, text or bytes)."
    servers = []
    def start(answer):
        url, _, srv = chat_server(answer)
        servers.append(srv)
        return url
    yield start
    for s in servers: s.shutdown()


@pytest.fixture
def st(tmp_path, monkeypatch):
    from jupyter_llmops.config import load_settings
    (tmp_path / "settings.ini").write_text("[llmops]\nexperiment = prompt-eval\neval_on_record = off\n")
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    return load_settings(tmp_path)


def capitals(tmp_path, names=CAP):
    p = tmp_path / "cases.jsonl"
    p.write_text("\n".join(json.dumps({"question": f"Capital of {c}?", "expected": CAP[c]}) for c in names) + "\n")
    return p


def country(prompt): return next(c for c in CAP if c in prompt)


def test_a_judge_that_fails_on_some_rows_makes_no_winner_of_the_worse_version(st, tmp_path, serve):
    "Found by the prompt probe (H1): the judge's server refused v2's long wrong answers (HTTP 400); v2's judge mean was over its one right answer, and v2 was promoted."
    def model(p, body):
        if p.startswith("Kindly") and country(p) != "France": return 200, "Well, that is a very interesting question. " * 40
        return 200, "Barcelona" if country(p) == "Spain" else CAP[country(p)]
    def judge(p, body):
        if len(p) > 1500: return 400, b'{"error": {"message": "maximum context length is 512 tokens"}}'
        a = p.split("Answer:\n")[1].split("\n")[0]
        return 200, "yes" if a in CAP.values() and a != "Barcelona" else "no"
    m, j = serve(model), serve(judge)
    prompts.register("qa", "Answer: {{question}}", settings=st); prompts.register("qa", "Kindly answer: {{question}}", settings=st)
    s = st.updated(judge_llm=f"openai:judge@{j}")
    with pytest.warns(UserWarning) as w:
        r = evaluate("qa", [1, 2], capitals(tmp_path), ["judge", "token_f1"], llm=f"openai:m@{m}", promote="production", settings=s, progress=False)
    said = " ".join(str(x.message) for x in w)
    assert r.promoted is None and prompts._aliases("qa", s) == {}
    assert "@production was not moved" in said and "judge scored 4 of 4 cases of v1, 1 of 4 cases of v2" in said
    assert r.compared == {"judge": 1, "token_f1": 4}  # the judge's means are over the one case both versions have
    assert r.summary.loc[1, "judge"] == r.summary.loc[2, "judge"] == 1.0
    bad = r.cases[(r.cases.version == 2) & (r.cases.case > 0)]
    assert bad.judge.isna().all() and bad.error.str.contains("judge: the server answered HTTP 400: maximum context length").all()


def test_a_judge_that_does_not_apply_is_no_failure():
    "A judge reply that reads as neither yes nor no is 'cannot score' (None); a judge whose server failed is a failure, said."
    from jupyter_llmops.evaluators import Unscorable, evaluate_call
    from jupyter_llmops.judge import Verdict
    import jupyter_llmops.judge as J
    from unittest import mock
    with mock.patch.object(J, "judge_verdict", return_value=Verdict(None, "word", "not a yes/no answer: 'maybe'")):
        assert evaluate_call("q", "a", [], ["judge"], strict=True)["judge"] is None
    with mock.patch.object(J, "judge_verdict", return_value=Verdict(None, "none", "the server answered HTTP 500", failed=True)):
        assert evaluate_call("q", "a", [], ["judge"])["judge"] is None  # the monitor's way: unscored, asked again later
        with pytest.raises(Unscorable, match="judge: the server answered HTTP 500"): evaluate_call("q", "a", [], ["judge"], strict=True)


class RecordingCache:
    "A semantic cache that holds an answer for every question, and counts what it was asked."
    def __init__(self): self.lookups, self.stores = 0, 0
    def lookup(self, *a):
        from types import SimpleNamespace
        self.lookups += 1
        return SimpleNamespace(text="Paris", logprob=None, cost=0.01, similarity=1.0)
    def store(self, *a): self.stores += 1


def test_an_evaluation_measures_the_model_not_the_cache(st, tmp_path, serve, monkeypatch):
    "Found by the prompt probe (H2): with cache = on, a version evaluated before was answered from the cache (1 ms, $0), won on latency and cost, and was promoted."
    import jupyter_llmops.llm as L
    cache, asked = RecordingCache(), []
    monkeypatch.setattr(L, "cache_for", lambda settings, temperature=0.0: cache)
    url = serve(lambda p, body: (asked.append(p), (200, CAP[country(p)]))[1])
    s = st.updated(cache="on")
    prompts.register("qa", "Answer: {{question}}", settings=s); prompts.register("qa", "Answer briefly: {{question}}", settings=s)
    r = evaluate("qa", [1, 2], capitals(tmp_path, ["Peru", "Chile"]), llm=f"openai:m@{url}", settings=s, progress=False)
    assert (cache.lookups, cache.stores, len(asked)) == (0, 0, 4)  # every answer is the model's, and none is kept for later
    assert list(r.cases.answer) == ["Lima", "Santiago"] * 2
    assert L.complete("Capital of Peru?", f"openai:m@{url}", settings=s, record=False).text == "Paris"  # elsewhere the cache answers
    assert L.complete("Capital of Peru?", f"openai:m@{url}", settings=s, record=False, cache=False).text == "Lima"
    assert (cache.lookups, cache.stores) == (1, 0)


def test_a_failed_call_is_a_row_that_says_why_and_the_rest_are_kept(st, tmp_path, serve):
    "Found by the prompt probe (M3): one HTTP 500 aborted the eval, the answers paid for were lost, and the error named no case or version."
    def model(p, body):
        if p.startswith("Kindly") and country(p) == "Peru": return 500, b'{"error": {"message": "overloaded"}}'
        return 200, CAP[country(p)]
    url = serve(model)
    s = st.updated(llm_retries=0)
    prompts.register("qa", "Answer: {{question}}", settings=s); prompts.register("qa", "Kindly answer: {{question}}", settings=s)
    with pytest.warns(UserWarning) as w:
        r = evaluate("qa", [1, 2], capitals(tmp_path, ["France", "Peru", "Chile"]), ["contains"], llm=f"openai:m@{url}",
                     promote="production", settings=s, progress=False)
    said = " ".join(str(x.message) for x in w)
    assert "failed calls: 1 of 3 of v2" in said and "HTTP 500" in said and "@production was not moved" in said
    assert r.failed == {1: 0, 2: 1} and r.compared == {"contains": 2} and r.promoted is None
    row = r.cases[(r.cases.version == 2) & (r.cases.case == 1)].iloc[0]
    assert r.cases.answer.isna().tolist() == [False] * 4 + [True, False] and "HTTP 500: overloaded" in row.error and row.contains != row.contains  # NaN
    assert list(r.cases[r.cases.answer.notna()].answer) == ["Paris", "Lima", "Santiago", "Paris", "Santiago"]


def test_a_version_whose_every_call_failed_is_an_error_naming_it(st, tmp_path, serve):
    from jupyter_llmops.errors import LLMOpsError
    from jupyter_llmops.mlstore import connect
    url = serve(lambda p, body: (500, b'{"error": {"message": "overloaded"}}') if p.startswith("Kindly") else (200, CAP[country(p)]))
    s = st.updated(llm_retries=0)
    prompts.register("qa", "Answer: {{question}}", settings=s); prompts.register("qa", "Kindly answer: {{question}}", settings=s)
    with pytest.raises(LLMOpsError, match=r"every call of qa/2 failed \(2 case\(s\)\), the first: .*HTTP 500: overloaded"):
        evaluate("qa", [1, 2], capitals(tmp_path, ["France", "Peru"]), ["contains"], llm=f"openai:m@{url}", settings=s, progress=False)
    ml = connect(s)
    run = ml.search_runs(search_all_experiments=True, filter_string="tags.`llmops.prompt_eval` = 'qa'", output_format="list")[0]
    assert "Paris" in ml.artifacts.load_text(f"runs:/{run.info.run_id}/prompt_eval/cases.json")  # v1's answers, paid for, are kept


def test_answers_alike_tie_whatever_the_latency_noise(st, tmp_path, serve, monkeypatch):
    "Found by the prompt probe (M2): answers alike, 0.058 s against 0.008 s a call; latency picked v2, moved the alias, and `winner per scorer` named v1 on scorers both shared."
    import jupyter_llmops.prompt_eval as P
    took = {1: 0.058, 2: 0.008}  # what each version's calls took, set here: the server's own timing would be noise
    monkeypatch.setitem(P.SCORERS, "latency", lambda answer, case, completion, **_: took[completion.prompt[1]])
    url = serve(lambda p, body: (200, "Paris" if "France" in p else "I do not know"))
    prompts.register("qa", "Answer: {{question}}", settings=st); prompts.register("qa", "Kindly answer: {{question}}", settings=st)
    data = capitals(tmp_path, ["France", "Peru"])
    with pytest.warns(UserWarning, match="tie on every scorer"):
        r = evaluate("qa", [1, 2], data, llm=f"openai:m@{url}", promote="production", settings=st, progress=False)
    assert r.tied and r.promoted is None and prompts._aliases("qa", st) == {}
    assert "no winner" in repr(r) and "winner per scorer: token_f1: tie, contains: tie, latency: tie, cost: tie" in repr(r)
    took[1] = 1.5  # 1.5 s against 0.008 s a call: past noise, so latency breaks the tie on quality
    r = evaluate("qa", [1, 2], data, llm=f"openai:m@{url}", promote="production", settings=st, progress=False)
    assert (r.tied, r.winner, r.promoted, r.winners["latency"], r.winners["token_f1"]) == (False, 2, "production", 2, None)


def test_answers_cut_at_max_tokens_are_said_per_version(st, tmp_path, serve):
    "Found by the prompt probe (M4): v2 reasoned first and was cut at --max-tokens on every case, scored 0, and nothing said so."
    def model(p, body):
        if "step by step" not in p: return 200, CAP[country(p)]
        mt = body["max_tokens"]
        return 200, json.dumps({"choices": [{"index": 0, "message": {"content": " ".join(["Let"] * mt)}, "finish_reason": "length"}],
                                "usage": {"prompt_tokens": 10, "completion_tokens": mt}}).encode()
    url = serve(model)
    prompts.register("qa", "Answer: {{question}}", settings=st); prompts.register("qa", "Think step by step, then answer: {{question}}", settings=st)
    with pytest.warns(UserWarning, match=r"2 answer\(s\) of v2 used all 16 max tokens, most likely cut short: raise --max-tokens"):
        r = evaluate("qa", [1, 2], capitals(tmp_path, ["France", "Peru"]), ["contains"], llm=f"openai:m@{url}", max_tokens=16, settings=st, progress=False)
    assert r.cases.truncated.tolist() == [False, False, True, True]


def test_a_scorer_named_twice_is_scored_once(st, tmp_path, serve):
    "Found by the prompt probe (L1): --scorers token_f1,token_f1 raised 'The truth value of a Series is ambiguous' after every call."
    url = serve(lambda p, body: (200, CAP[country(p)]))
    prompts.register("qa", "Answer: {{question}}", settings=st)
    with pytest.warns(UserWarning, match="names a scorer twice: each is scored once"):
        r = evaluate("qa", [1], capitals(tmp_path, ["Peru"]), ["token_f1", "token_f1"], llm=f"openai:m@{url}", settings=st, progress=False)
    assert r.scorers == ["token_f1"] and list(r.summary.columns) == ["token_f1"] and r.summary.loc[1, "token_f1"] == 1.0


def test_a_scorer_no_case_of_every_version_has_logs_no_nan(st, tmp_path, serve):
    "Found by the prompt probe (L2): a version a scorer scored no case of logged metric NaN, shown as NaN and read back by last_evaluation."
    from jupyter_llmops.evaluators import EVALUATORS
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.prompt_eval import last_evaluation
    url = serve(lambda p, body: (200, "Je ne sais pas" if p.startswith("Kindly") else CAP[country(p)]))
    prompts.register("qa", "Answer: {{question}}", settings=st); prompts.register("qa", "Kindly answer: {{question}}", settings=st)
    EVALUATORS["english_only"] = lambda q, a, c, settings=None: None if "sais" in a else 1.0
    try:
        with pytest.warns(UserWarning, match="english_only scored 2 of 2 cases of v1, 0 of 2 cases of v2"):
            r = evaluate("qa", [1, 2], capitals(tmp_path, ["France", "Peru"]), ["english_only", "token_f1"], llm=f"openai:m@{url}", settings=st, progress=False)
    finally: del EVALUATORS["english_only"]
    metrics = connect(st).get_run(r.run_id).data.metrics
    assert "english_only.v1" not in metrics and "english_only.v2" not in metrics and metrics["token_f1.v1"] == 1.0
    assert "n/a" in repr(r) and "nan" not in repr(r).lower() and "n/a" in r._repr_html_() and "nan" not in r._repr_html_().lower()
    summary, run_id = last_evaluation("qa", st)
    assert run_id == r.run_id and list(summary.columns) == ["token_f1"]


def test_an_eval_that_failed_does_not_hide_the_last_one(st, tmp_path, serve):
    "Found by the prompt probe (L3): after an interrupted eval, last_evaluation (the panel's) read the FAILED run: an empty table."
    from jupyter_llmops.errors import LLMOpsError
    from jupyter_llmops.prompt_eval import last_evaluation
    down = []
    url = serve(lambda p, body: (500, b'{"error": {"message": "down"}}') if down else (200, CAP[country(p)]))
    s = st.updated(llm_retries=0)
    prompts.register("qa", "Answer: {{question}}", settings=s)
    data = capitals(tmp_path, ["Peru"])
    r = evaluate("qa", [1], data, ["contains"], llm=f"openai:m@{url}", settings=s, progress=False)
    down.append(True)
    with pytest.raises(LLMOpsError): evaluate("qa", [1], data, ["contains"], llm=f"openai:m@{url}", settings=s, progress=False)
    summary, run_id = last_evaluation("qa", s)
    assert run_id == r.run_id and summary.loc[1, "contains"] == 1.0


@pytest.mark.parametrize("value", [["Capital of France?", "x"], {"q": "Peru"}, True])
def test_a_case_value_that_is_not_text_is_refused_before_any_call(st, tmp_path, serve, value):
    "Found by the prompt probe (L5): a list, an object or true was sent as Python writes it (['a', 'x'], True), with no error."
    from jupyter_llmops.errors import UsageError
    asked = []
    url = serve(lambda p, body: (asked.append(p), (200, "Paris"))[1])
    prompts.register("qa", "Answer: {{question}}", settings=st)
    (tmp_path / "c.jsonl").write_text(json.dumps({"question": "Capital of Peru?", "expected": "Lima"}) + "\n"
                                      + json.dumps({"question": value, "expected": "Paris"}) + "\n")
    with pytest.raises(UsageError, match=r"c.jsonl:2: missing field\(s\) question \(a text or a number"):
        evaluate("qa", [1], tmp_path / "c.jsonl", ["contains"], llm=f"openai:m@{url}", settings=st, progress=False)
    assert asked == []
