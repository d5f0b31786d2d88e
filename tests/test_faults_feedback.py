"""Feedback sessions under concurrency: two annotators (two processes) judging one ranking session at once, each changing
its mind as it goes. A re-judged prompt rewrites `pairs.jsonl` without its old pair; the other annotator's pair, appended
meanwhile, must survive that rewrite. The answers are written beforehand, so no model is called: the test is about the
files, not the LLM."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
from jupyter_llmops.config import load_settings
from jupyter_llmops.feedback import FeedbackSession
from jupyter_llmops.files import read_appended

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
