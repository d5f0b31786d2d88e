"""The LLM judge cannot break: an OpenAI-compatible server on loopback answers in every broken way, and the judge
returns a probability or None with the reason, never NaN, never an exception; the local model answers through its
next-token distribution."""
import json, math, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
import pytest
from jupyter_llmops.config import load_settings
from jupyter_llmops.evaluators import evaluate_call
from jupyter_llmops.judge import judge, judge_verdict

def choice(content=None, top=None):
    c = {"index": 0, "message": {"role": "assistant", "content": content}}
    if top is not None: c["logprobs"] = {"content": [{"token": "x", "logprob": -1.0, "top_logprobs": top}]}
    return {"choices": [c]}

# what the server says -> what the judge must make of it (a score, or None)
REPLIES = {
    "logprobs": (choice("Yes", [{"token": "Yes", "logprob": math.log(0.6)}, {"token": " no", "logprob": math.log(0.2)}]), 0.75),
    "word-yes": (choice(" YES. "), 1.0),
    "word-no": (choice("no!"), 0.0),
    "prose": (choice("Well, it depends on the context."), None),
    "json-in-text": (choice('{"score": 0.9, "grounded": true}'), None),
    "nan-text": (choice("NaN"), None),
    "empty": (choice(""), None),
    "null-content": (choice(None), None),
    "nan-logprobs": (choice("maybe", [{"token": "yes", "logprob": float("nan")}, {"token": "no", "logprob": float("-inf")}]), None),
    "huge-logprobs": (choice("yes", [{"token": "yes", "logprob": 1e308}, {"token": "no", "logprob": "high"}]), 1.0),
    "no-yes-no-in-top": (choice("Perhaps", [{"token": "Perhaps", "logprob": -0.1}]), None),
    "no-choices": ({"choices": []}, None),
    "not-a-dict": ([1, 2, 3], None),
    "not-json": ("<html>oops</html>", None),
    "http-500": (500, None),
}


@pytest.fixture(scope="module")
def server():
    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = REPLIES[body["model"]][0]
            if reply == 500:
                self.send_response(500); self.end_headers(); return
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply, allow_nan=True).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers(); self.wfile.write(data)
        def log_message(self, *a): pass
    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/v1"
    srv.shutdown()


@pytest.mark.parametrize("case", list(REPLIES))
def test_a_broken_answer_is_none_with_a_reason_never_nan(server, case):
    s = load_settings().updated(judge_llm=f"openai:{case}@{server}")
    v = judge_verdict("When do refunds close?", "After 30 days.", ["Refunds are accepted within 30 days."], settings=s)
    want = REPLIES[case][1]
    if want is None: assert v.score is None and v.reason, v
    else: assert v.score == pytest.approx(want), v
    assert v.score is None or math.isfinite(v.score)


def test_unreachable_server_and_the_evaluator_record_why(server):
    s = load_settings().updated(judge_llm="openai:m@http://127.0.0.1:9/v1")
    v = judge_verdict("q", "a", ["c"], settings=s)
    assert v.score is None and "cannot reach" in v.reason
    why = {}
    sp = load_settings().updated(judge_llm=f"openai:prose@{server}")
    assert evaluate_call("q", "It depends.", ["ctx"], ["judge"], sp, why) == {"judge": None}
    assert why["judge"].startswith("judge: not a yes/no answer")


@pytest.mark.slow
def test_the_local_model_answers_through_its_next_token():
    s = load_settings().updated(judge_llm="local")
    v = judge_verdict("Capital of France?", "Paris is the capital of France.", ["Paris is the capital and largest city of France."], settings=s)
    assert v.method == "next-token" and 0.0 <= v.score <= 1.0
    assert judge("Capital of France?", "Lyon.", reference="Paris", criterion="correct", settings=s) is not None


def test_the_judge_is_an_evaluator_in_a_process_that_never_imported_it(server, tmp_path):
    """`hallucination_evaluator = judge` in a script or pipeline notebook that uses the kit's Python API: before, the
    name was unknown ("the judge needs `import jupyter_llmops.judge`") and the background scorer skipped it in silence;
    the judge is now an installed evaluator (entry point), found by name in any process."""
    import subprocess, sys
    code = ("import sys\n"
            "from jupyter_llmops.config import load_settings\n"
            "from jupyter_llmops.evaluators import evaluate_call, monitor_evaluators\n"
            f"s = load_settings().updated(hallucination_evaluator='judge', judge_llm='openai:word-no@{server}')\n"
            "before = 'jupyter_llmops.judge' in sys.modules\n"
            "print(before, evaluate_call('When?', 'Never.', ['Refunds close after 30 days.'], monitor_evaluators(s), s)['judge'])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "LLMOPS_HOME": str(tmp_path / "home")})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["False", "0.0"]
