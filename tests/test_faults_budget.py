"""Budgets and the semantic cache under faults: 8 threads and 4 processes on one hard budget, against a real HTTP model
server (OpenAI's API, served on loopback, slow enough for calls to overlap); a cache that fails to read or write; an
embedding model changed under a cache that holds vectors of another dimension."""
import json, os, sqlite3, subprocess, sys, textwrap, threading, time, warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from conftest import HOME
from jupyter_llmops.budget import BudgetExceeded, estimate_cost, spent
from jupyter_llmops.config import load_settings
from jupyter_llmops.llm import complete

PROMPT, TOKENS = "Say hi.", (20, 30)  # each answer: 20 prompt + 30 completion tokens


@pytest.fixture(scope="module")
def model_server():
    "An OpenAI-compatible chat server on loopback: 0.2 s per answer, fixed usage; `.calls` counts the answers given."
    calls, lock = [], threading.Lock()

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(0.2)
            with lock: calls.append(body["messages"][-1]["content"])
            out = json.dumps({"choices": [{"message": {"content": f"hi ({len(calls)})"}}],
                              "usage": {"prompt_tokens": TOKENS[0], "completion_tokens": TOKENS[1]}}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(out)))
            self.end_headers(); self.wfile.write(out)

        def log_message(self, *a): pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    from types import SimpleNamespace
    yield SimpleNamespace(spec=f"openai:chat@http://127.0.0.1:{srv.server_port}/v1", calls=calls)
    srv.shutdown()


@pytest.fixture
def paid(tmp_path, monkeypatch, model_server):
    "A project whose model costs $1 per 1k tokens ($0.05 a call), with a hard daily budget of $1."
    (tmp_path / "settings.ini").write_text(f"[llmops]\nllm = {model_server.spec}\ncosts = {model_server.spec}=1\n"
                                           f"budget_daily = 1\nbudget_hard = on\nbudget_alert_share = 1\ntracking_uri = sqlite:///{HOME}/mlflow.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    model_server.calls.clear()
    return load_settings()


def _until_refused(s, spec):
    n = 0
    while True:
        try: complete(PROMPT, spec, max_tokens=TOKENS[1], settings=s, record=False); n += 1
        except BudgetExceeded: return n


def _check_spend(s, spec, calls):
    "Never more than one call's estimate over the limit, and every answer paid for: the ledger is the server's bill."
    one = estimate_cost(spec, [{"role": "user", "content": PROMPT}], TOKENS[1], s.costs)
    total = spent(s, "daily")
    assert total <= 1.0 + one + 1e-9, (total, one)
    assert total == pytest.approx(len(calls) * 0.05) and total >= 1.0
    assert one >= 0.05  # the estimate bounds the real cost


def test_eight_threads_on_a_hard_budget(paid, model_server):
    done = []
    threads = [threading.Thread(target=lambda: done.append(_until_refused(paid, model_server.spec))) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join(120)
    assert len(done) == 8 and sum(done) == len(model_server.calls)
    _check_spend(paid, model_server.spec, model_server.calls)


def test_four_processes_on_a_hard_budget(paid, model_server, tmp_path):
    "Two of them at UTC+14 and two at UTC-11, whose local dates always differ: by default (UTC) all four count one day."
    code = textwrap.dedent(f"""
        from jupyter_llmops.budget import BudgetExceeded
        from jupyter_llmops.config import load_settings
        from jupyter_llmops.llm import complete
        s, n = load_settings(), 0
        while True:
            try: complete({PROMPT!r}, {model_server.spec!r}, max_tokens={TOKENS[1]}, settings=s, record=False); n += 1
            except BudgetExceeded: break
        print(n)
    """)
    zones = ["Pacific/Kiritimati", "Pacific/Pago_Pago"] * 2
    ps = [subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "TZ": z}) for z in zones]
    outs = [p.communicate(timeout=300) for p in ps]
    assert [p.returncode for p in ps] == [0] * 4, [e[-1000:] for _, e in outs]
    assert sum(int(o) for o, _ in outs) == len(model_server.calls)
    _check_spend(paid, model_server.spec, model_server.calls)


def test_a_failed_call_releases_its_reservation(paid, model_server):
    with pytest.raises(Exception, match="cannot reach"):
        complete(PROMPT, "openai:chat@http://127.0.0.1:9/v1", max_tokens=TOKENS[1], settings=paid.updated(costs="openai:chat@http://127.0.0.1:9/v1=1000"), record=False)
    assert _until_refused(paid, model_server.spec) == 20  # nothing held by the failed call: the whole $1 is there


def test_a_model_priced_without_its_server_is_paid_and_an_unpriced_one_is_said(paid, model_server):
    "Found by a probe: `costs = openai:m=1` did not price calls to `openai:m@http://host/v1`, so 20 calls passed a hard budget at $0, silently."
    s = paid.updated(costs="openai:chat=1")
    complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False)
    assert spent(s, "daily") == pytest.approx(0.05)
    with pytest.warns(UserWarning, match="has no price in `costs`: its calls count \\$0 against the budgets"):
        complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=paid.updated(costs="local=0"), record=False)


def test_a_server_counting_past_max_tokens_is_said_and_its_next_calls_hold_more(paid, model_server):
    "Found by a probe: a server reporting more tokens than max_tokens allows put six processes at $3.06 of a $1 hard budget, silently."
    from jupyter_llmops.budget import reserve
    msgs = [{"role": "user", "content": PROMPT}]
    with pytest.warns(UserWarning, match="more than the \\$0.0280 it held: its server counted more tokens than max_tokens allows"):
        complete(PROMPT, model_server.spec, max_tokens=5, settings=paid, record=False)  # the server reports 30 completion tokens
    est = estimate_cost(model_server.spec, msgs, 5, paid.costs)
    assert reserve(paid, est, model=model_server.spec).cost == pytest.approx(0.05)  # what the call really cost


def test_cache_failures_never_lose_the_answer_or_the_spend(paid, model_server, monkeypatch):
    from jupyter_llmops.cache import SemanticCache
    s = paid.updated(cache="on", budget_hard="off")
    def broken(*a, **kw): raise sqlite3.OperationalError("disk I/O error")
    store, lookup = SemanticCache.store, SemanticCache.lookup
    monkeypatch.setattr(SemanticCache, "store", broken)
    with pytest.warns(UserWarning, match="the answer was not cached .*disk I/O error"):
        c = complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False)
    assert c.text.startswith("hi") and spent(s, "daily") == pytest.approx(0.05)
    monkeypatch.setattr(SemanticCache, "lookup", broken)
    with pytest.warns(UserWarning, match="the semantic cache could not be read"):
        c = complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False)
    assert c.text.startswith("hi") and not c.cached and spent(s, "daily") == pytest.approx(0.10)
    monkeypatch.setattr(SemanticCache, "store", store); monkeypatch.setattr(SemanticCache, "lookup", lookup)
    first = complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False)  # stored, this time
    monkeypatch.setattr(SemanticCache, "_count", broken)  # a full disk: the hit cannot be counted, but it can be read
    with pytest.warns(UserWarning, match="the cache's counters were not updated"):
        c = complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False)
    assert c.cached and c.text == first.text and spent(s, "daily") == pytest.approx(0.15)  # served from the cache, not paid again


def test_changing_the_embedding_model_never_breaks_a_cached_call(paid, model_server, tmp_path):
    "Entries are keyed by the embedding model: after a switch to a 128-d model, a cached question is a miss, not an error."
    import torch
    from sentence_transformers import SentenceTransformer, models
    from jupyter_llmops.models import embed_model_path
    base = SentenceTransformer(str(embed_model_path("local")), device="cpu")
    small = SentenceTransformer(modules=[*base, models.Dense(384, 128, activation_function=torch.nn.Identity())], device="cpu")
    small.save(str(tmp_path / "mini-128"))
    s = paid.updated(cache="on", budget_hard="off")
    first = complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False)
    assert complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False).cached
    other = s.updated(embed_model=f"hf:{tmp_path / 'mini-128'}")
    again = complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=other, record=False)
    assert not again.cached and len(model_server.calls) == 2  # a miss: the model answered
    assert complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=other, record=False).cached
    assert complete(PROMPT, model_server.spec, max_tokens=TOKENS[1], settings=s, record=False).text == first.text
