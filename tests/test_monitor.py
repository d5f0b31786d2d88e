"The monitor over real recorded calls: summary by model and prompt, flags, and alerts sent to a webhook on loopback."
import pytest
from conftest import run_cli
from jupyter_llmops import prompts
from jupyter_llmops.config import load_settings
from jupyter_llmops.errors import LLMOpsError, UsageError
from jupyter_llmops.llm import complete
from jupyter_llmops.monitor import monitor


def test_summary_flags_and_webhook_alert(tmp_path, webhook):
    env = {"LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "mon-t", "LLMOPS_ALERT_ERROR_RATE": "0.3",
           "LLMOPS_ALERT_WEBHOOK": f"{webhook.url}/hook?token=s3cret"}
    s = load_settings(tmp_path, environ=env)
    prompts.register("cap", "What is the capital of {{country}}?", settings=s)
    for c in ("France", "Italy"):
        complete(prompts.render("cap/1", s, country=c), "local", max_tokens=12, settings=s)
    complete("My e-mail is jane@example.org, write it back to me.", "local", max_tokens=24, settings=s)
    with pytest.raises(LLMOpsError):
        complete("ping", "openai:m@http://127.0.0.1:9/v1", settings=s)
    m = monitor("1h", "model", s)
    assert m.summary.calls.to_dict() == {"local": 3, "openai:m@http://127.0.0.1:9/v1": 1}
    assert m.summary.loc["openai:m@http://127.0.0.1:9/v1", "error_rate"] == 1.0 and m.summary.loc["local", "error_rate"] == 0.0
    assert m.summary.loc["local", "tokens"] > 0 and 0 < m.summary.loc["local", "latency_p50"] <= m.summary.loc["local", "latency_p95"]
    assert set(m.summary.columns) >= {"relevance", "no_pii", "non_toxic", "flagged", "cost"}
    assert m.alerts == [{"group": "openai:m@http://127.0.0.1:9/v1", "metric": "error_rate", "value": 1.0, "threshold": 0.3}]
    assert webhook.got and webhook.got[-1]["alerts"] == m.alerts
    assert "data:image/png" in m._repr_html_()
    by_prompt = monitor("1h", "prompt", s, evaluate=False, alert=False)
    assert by_prompt.summary.calls.to_dict() == {"(none)": 2, "cap/1": 2}
    with pytest.raises(UsageError, match="bad --since"):
        monitor("yesterday", settings=s)
    with pytest.raises(UsageError, match="unknown hallucination_evaluator 'groundednes'"):  # misspelt: it once blanked the column and its alert
        monitor("1h", settings=s.updated(hallucination_evaluator="groundednes"))
    r = run_cli("monitor", "--since", "1h", "--no-eval", "--by", "prompt", cwd=tmp_path, env={**env, "LLMOPS_ALERT_WEBHOOK": ""})
    assert r.returncode == 0 and "cap/1" in r.stdout and "ALERT (none): error_rate" in r.stdout


def _rows(*calls):
    "Call-table rows (trace id, stamp in ms, prompt and completion tokens or None: not reported, cost)."
    return [dict(trace_id=t, ts_ms=ts, experiment="e", model="m", error=0, cached=0, latency_s=0.1, cost=c, prompt_tokens=p,
                 completion_tokens=k) for t, ts, p, k, c in calls]


def test_calls_stamped_in_the_future_are_said_not_counted(tmp_path):
    import time
    from jupyter_llmops.calls import CallTable
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path)})
    now = int(time.time() * 1000)  # another host's clock a day ahead stamped "tomorrow": it was in every window, for ever
    CallTable.at(s).add(_rows(("recent", now - 60_000, 10, 5, 0.0), ("tomorrow", now + 86_400_000, 10, 5, 0.0)))
    with pytest.warns(UserWarning, match="1 recorded calls are stamped after now"):
        m = monitor("1h", settings=s, evaluate=False, alert=False)
    assert m.calls.trace_id.tolist() == ["recent"] and m.summary.calls.to_dict() == {"m": 1} and m.ahead == 1
    assert "1 calls stamped after now (a clock ahead?) are left out" in repr(m) and "stamped after now" in m._repr_html_()


def test_calls_without_token_counts_are_unknown_not_zero(tmp_path):
    import json, warnings
    from conftest import chat_server
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "mon-u", "LLMOPS_CACHE": "off"})
    def answer(prompt, body):  # a server that reports usage for some calls and none for the others
        out = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "four words of answer"}, "finish_reason": "stop"}]}
        if prompt.startswith("counted"): out["usage"] = {"prompt_tokens": 100, "completion_tokens": 4}
        return 200, json.dumps(out).encode()
    url, _, srv = chat_server(answer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "reported no usable token counts: the call is charged its estimate"
            for q in ("counted 1", "counted 2", "not counted 1", "not counted 2"):
                complete(q, f"openai:m@{url}", settings=s, cache=False)
    finally: srv.shutdown()
    m = monitor("1h", settings=s, evaluate=False, alert=False)
    assert m.calls.prompt_tokens.isna().sum() == 2 and "tokens known for 2 of 4 calls" in repr(m)  # they read as 0 tokens
    row = m.summary.iloc[0]  # 0 tokens for the calls without counts made it 208 over 4 calls (52 a call)
    assert (row.calls, row.tokens, row.tokens_per_call) == (4, 208, 104.0)
