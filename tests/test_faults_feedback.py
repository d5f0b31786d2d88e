"""Feedback sessions under concurrency: two annotators (two processes) judging one ranking session at once, each changing
its mind as it goes. A re-judged prompt rewrites `pairs.jsonl` without its old pair; the other annotator's pair, appended
meanwhile, must survive that rewrite. The answers are written beforehand, so no model is called: the test is about the
files, not the LLM."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
from jupyter_llmops.config import load_settings
from jupyter_llmops.feedback import FeedbackSession
from jupyter_llmops.files import append_jsonl, read_appended

PROMPTS, ROUNDS = 24, 6

ANNOTATOR = textwrap.dedent("""
    import sys
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.feedback import FeedbackSession
    who, prompts, rounds = (int(x) for x in sys.argv[1:])
    s = FeedbackSession("duo", settings=load_settings())
    for r in range(rounds):  # every prompt is judged again each round: each judgement after the first rewrites pairs.jsonl
        for i in range(who, prompts, 2):  # this annotator's own prompts: the other one's pairs must never be touched
            s.judge(i, "AB"[(r + i) % 2])
""")


def test_two_annotators_never_lose_each_others_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"question {i}?"}) + "\n" for i in range(PROMPTS)))
    s = FeedbackSession("duo", prompts=data, models=["openai:a@http://127.0.0.1:9", "openai:b@http://127.0.0.1:9"], settings=load_settings())
    with open(s.folder / "answers.jsonl", "w") as f:  # both answers to every prompt, as if generated already
        for i in range(PROMPTS):
            for side in (0, 1): f.write(json.dumps({"index": i, "side": side, "source": s.sources[side], "text": f"answer {side} to {i}"}) + "\n")
    env = {**os.environ, "LLMOPS_HOME": str(tmp_path / "home")}
    procs = [subprocess.Popen([sys.executable, "-c", ANNOTATOR, str(who), str(PROMPTS), str(ROUNDS)], env=env, stderr=subprocess.PIPE, text=True)
             for who in (0, 1)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    pairs = read_appended(s.pairs_path)
    assert sorted(p["index"] for p in pairs) == list(range(PROMPTS))  # one pair per prompt: none lost, none doubled
    last = (ROUNDS - 1)
    for p in pairs:  # and each is the latest judgement's pair
        want = s.sources[0] if "AB"[(last + p["index"]) % 2] == ("A" if not s.swapped(p["index"]) else "B") else s.sources[1]
        assert p["chosen_by"] == want, p
    assert s.summary()[s.sources[0]] + s.summary()[s.sources[1]] == PROMPTS


OPENER = textwrap.dedent("""
    import sys, time
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.feedback import FeedbackSession
    who, prompts = (int(x) for x in sys.argv[1:])
    s = FeedbackSession("pair", settings=load_settings())
    texts = [(s.item(i).answer_a, s.item(i).answer_b) for i in range(prompts)]  # both open every item, at the same time
    for i in range(who, prompts, 2): s.judge(i, "A")
    while s.progress[0] < prompts: time.sleep(0.05)  # both finish, then both ask to log, as the panel does
    print(repr((texts, s.log_if_needed())))
""")


def test_two_annotators_opening_one_item_pay_for_one_answer_and_log_once(tmp_path, monkeypatch):
    "Answers come from a loopback server that numbers them: a second generation of an item would show as another text."
    import ast, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    served, lock = [], threading.Lock()

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock: served.append(1); n = len(served)
            out = json.dumps({"choices": [{"message": {"content": f"answer number {n}"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(out)))
            self.end_headers(); self.wfile.write(out)

        def log_message(self, *a): pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    monkeypatch.setenv("LLMOPS_HOME", str(home))
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"question {i}?"}) + "\n" for i in range(6)))
    url = f"http://127.0.0.1:{srv.server_port}/v1"
    FeedbackSession("pair", prompts=data, models=[f"openai:a@{url}", f"openai:b@{url}"], settings=load_settings())
    env = {**os.environ, "LLMOPS_HOME": str(home), "LLMOPS_TRACKING_URI": f"sqlite:///{home}/mlflow.db"}
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(who), "6"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in (0, 1)]
    outs = [p.communicate(timeout=300) for p in procs]
    srv.shutdown()
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    (texts0, run0), (texts1, run1) = (ast.literal_eval(o.strip().splitlines()[-1]) for o, _ in outs)
    assert len(served) == 12 and texts0 == texts1  # one answer per item and side, and both annotators judged the same texts
    assert len(read_appended(Path(home) / "feedback" / "pair" / "answers.jsonl")) == 12
    assert [r for r in (run0, run1) if r] and len([r for r in (run0, run1) if r]) == 1  # the finished session logged once


CREATOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.feedback import FeedbackSession
    other, prompts, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    while not go.exists(): time.sleep(0.001)  # both start together
    for i in range(20):
        try: FeedbackSession(f"born-{i}", prompts=prompts, models=["openai:a@http://127.0.0.1:9", other], settings=load_settings()); print("made", i)
        except UsageError as e: print("refused", i, "already compares" in str(e))
""")


def test_two_annotators_creating_one_session_at_once_never_both_win(tmp_path, monkeypatch):
    "Two processes start the same session with different models, 20 times: each time one makes it, the other is told it exists."
    home = tmp_path / "home"
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps({"prompt": "question?"}) + "\n")
    env = {**os.environ, "LLMOPS_HOME": str(home)}
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CREATOR, f"openai:{m}@http://127.0.0.1:9", str(data), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for m in ("b", "c")]
    import time
    time.sleep(3); go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    lines = sorted(l for o, _ in outs for l in o.splitlines())
    made = [l for l in lines if l.startswith("made")]
    assert len(made) == 20 and sorted(int(l.split()[1]) for l in made) == list(range(20))  # each session made once
    assert all(l.endswith("True") for l in lines if l.startswith("refused")) and len(lines) == 40  # the other told why


def test_a_session_of_prompt_aliases_keeps_the_versions_it_started_with(tmp_path, monkeypatch):
    "An alias moved mid-session: before, the later answers came from the new version, their wins credited to the same name."
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from jupyter_llmops.prompts import register, set_alias

    class Echo(BaseHTTPRequestHandler):  # answers with the prompt it was sent: which version rendered it shows
        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            out = json.dumps({"choices": [{"message": {"content": req["messages"][-1]["content"]}}], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(out)))
            self.end_headers(); self.wfile.write(out)

        def log_message(self, *a): pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    st = load_settings().updated(llm=f"openai:echo@http://127.0.0.1:{srv.server_port}/v1", eval_on_record="off")
    register("qa", "V1 terse: {{q}}", alias="champion", settings=st)
    register("qa", "V2 chatty: {{q}}", alias="challenger", settings=st)
    data = tmp_path / "vars.jsonl"
    data.write_text("".join(json.dumps({"q": f"question {i}?"}) + "\n" for i in range(2)))
    s = FeedbackSession("aliases", data, versions=["qa@champion", "qa@challenger"], settings=st)
    first = s.next(); s.judge(first.index, "A")
    register("qa", "V3 pirate: {{q}}", alias="champion", settings=st)  # the alias moves mid-session
    second = FeedbackSession("aliases", settings=st).next()
    srv.shutdown()
    texts = sorted(t for it in (first, second) for t in (it.answer_a, it.answer_b))
    assert texts == ["V1 terse: question 0?", "V1 terse: question 1?", "V2 chatty: question 0?", "V2 chatty: question 1?"], texts
    assert json.loads((s.folder / "session.json").read_text())["pinned"] == ["qa/1", "qa/2"]
    import pytest
    meta = json.loads((s.folder / "session.json").read_text()); del meta["pinned"]  # as an older kit wrote it: it cannot know; it says so
    (s.folder / "session.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="'aliases' was started by an older kit, which kept no versions: it renders qa@champion and qa@challenger as they point now"):
        FeedbackSession("aliases", settings=st)


def test_a_judgement_corrected_after_the_log_is_logged_again(tmp_path, monkeypatch):
    """Found by the drift and feedback probe: a session judged to the end was logged to MLflow; a prompt judged again after
    that (a supported correction: it keeps one pair) never reached MLflow, whose pairs and win counts stayed the old ones,
    because the end-of-session log compared only the number of prompts judged."""
    import mlflow
    from jupyter_llmops.mlstore import connect
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"question {i}?"}) + "\n" for i in range(3)))
    st = load_settings()
    s = FeedbackSession("fix", prompts=data, models=["openai:a@http://127.0.0.1:9", "openai:b@http://127.0.0.1:9"], settings=st)
    with open(s.folder / "answers.jsonl", "w") as f:  # both answers to every prompt, as if generated already
        for i in range(3):
            for side in (0, 1): f.write(json.dumps({"index": i, "side": side, "source": s.sources[side], "text": f"answer {side} to {i}"}) + "\n")
    for i in range(3): s.judge(i, "A")
    first = s.log_if_needed()
    assert s.log_if_needed() is None  # nothing new: not logged twice
    again = FeedbackSession("fix", settings=st)  # the annotator comes back and corrects prompt 0
    again.judge(0, "B")
    second = again.log_if_needed()
    assert second not in (None, first)
    connect(st)
    chosen = lambda run: [json.loads(x)["chosen"] for x in mlflow.artifacts.load_text(mlflow.get_run(run).info.artifact_uri + "/pairs.jsonl").splitlines()
                          if json.loads(x)["index"] == 0]
    assert len(chosen(first)) == len(chosen(second)) == 1 and chosen(first) != chosen(second)  # the corrected pair, alone
    wins = lambda run: {k: v for k, v in mlflow.get_run(run).data.metrics.items() if k.startswith("wins.")}
    assert wins(second) != wins(first) and sum(wins(second).values()) == sum(wins(first).values())  # one win moved to the other model


def test_answers_to_judge_come_from_the_model_never_the_semantic_cache(tmp_path, monkeypatch):
    """A judged pair or a label is training data (DPO, a reward model, an aligned evaluator): with cache = on, an answer
    stored for a like question (another country, another product) was served and judged as this question's answer."""
    from types import SimpleNamespace
    import jupyter_llmops.llm as L
    from conftest import chat_server
    from jupyter_llmops.feedback import LabelSession
    lookups = []
    monkeypatch.setattr(L, "cache_for", lambda settings, temperature=0.0: SimpleNamespace(
        lookup=lambda *a: (lookups.append(a), SimpleNamespace(text="Lima", logprob=None, cost=0.0, similarity=0.9))[1], store=lambda *a: None))
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    url, seen, srv = chat_server(lambda prompt, body: (200, "Paris"))
    try:
        st = load_settings().updated(cache="on", eval_on_record="off")
        (tmp_path / "p.jsonl").write_text(json.dumps({"prompt": "Capital of France?"}) + "\n")
        rank = FeedbackSession("pairs", prompts=tmp_path / "p.jsonl", models=[f"openai:a@{url}", f"openai:b@{url}"], settings=st)
        label = LabelSession("labels", items=tmp_path / "p.jsonl", criterion="correct", model=f"openai:a@{url}", settings=st)
        assert (rank.answer(0, 0), rank.answer(0, 1), label.answer(0)) == ("Paris",) * 3
        assert (len(seen), lookups) == (3, [])  # every answer asked of the model; the cache never looked at
        assert L.complete("Capital of France?", f"openai:a@{url}", settings=st, record=False).text == "Lima"  # elsewhere it serves
    finally:
        srv.shutdown()


KILLED = textwrap.dedent("""
    import os, signal, sys
    import jupyter_llmops.feedback as fb
    from jupyter_llmops.config import load_settings
    kind, index, first, then = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    s = (fb.FeedbackSession if kind == "rank" else fb.LabelSession)("cut", settings=load_settings())
    s.judge(index, first)
    append = fb.append_jsonl
    def dying(path, obj):  # SIGKILL right before the second judgement's own line: its pair (or label) is written
        if path.name == "judgements.jsonl": os.kill(os.getpid(), signal.SIGKILL)
        append(path, obj)
    fb.append_jsonl = dying
    s.judge(index, then)
""")


def _killed(home, *argv) -> int:
    return subprocess.run([sys.executable, "-c", KILLED, *argv], env={**os.environ, "LLMOPS_HOME": str(home)}, capture_output=True).returncode


def test_a_judgement_killed_between_its_pair_and_itself_is_finished_at_the_next_open(tmp_path, monkeypatch):
    "Judged A, then again as a tie by a process killed between the two writes: before, the pair was gone and the summary still said A, for good."
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"question {i}?"}) + "\n" for i in range(2)))
    s = FeedbackSession("cut", prompts=data, models=["openai:a@http://127.0.0.1:9", "openai:b@http://127.0.0.1:9"], settings=load_settings())
    for i in range(2):
        for side in (0, 1): append_jsonl(s.folder / "answers.jsonl", {"index": i, "side": side, "text": f"answer {side} to {i}"})
    assert _killed(tmp_path / "home", "rank", "0", "A", "tie") == -9
    again = FeedbackSession("cut", settings=load_settings())
    assert (read_appended(again.pairs_path), again.summary()["tie"], again.progress) == ([], 1, (1, 2))  # the tie, in both files
    assert not (again.folder / ".judging.json").exists()
    again.judge(1, "B")  # and the session goes on
    assert [p["index"] for p in read_appended(again.pairs_path)] == [1] and again.progress == (2, 2)


def test_a_label_killed_between_its_line_and_its_judgement_is_finished_at_the_next_open(tmp_path, monkeypatch):
    "Labelled yes, then no by a process killed between the two writes: before, KTO read no while the summary said yes."
    from jupyter_llmops.feedback import LabelSession
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    data = tmp_path / "items.jsonl"
    data.write_text(json.dumps({"question": "When do refunds close?", "answer": "After 30 days.", "context": "Refunds: within 30 days."}) + "\n")
    LabelSession("cut", data, "grounded", settings=load_settings())
    assert _killed(tmp_path / "home", "label", "0", "yes", "no") == -9
    again = LabelSession("cut", settings=load_settings())
    assert ([r["label"] for r in again.labels()], again.summary()) == ([False], {"yes": 0, "no": 1, "skip": 0})
    assert len(read_appended(again.labels_path)) == 2  # the line written before the kill is not written twice
