"""Every pipeline notebook shipped in the package runs end to end through the kit's runner, on small inputs and the real
local models: `rag_eval`, `prompt_eval` and `distill_retrain` here; `drift_report` in tests/test_pipelines.py; the
showcase (`llmops demo`) in tests/test_hostile.py, with fake secrets everywhere, its outputs then searched for them."""
import json
from pathlib import Path
import pytest
from jupyter_llmops.commands import dispatch
from jupyter_llmops.config import load_settings


@pytest.fixture
def proj(tmp_path, monkeypatch):
    (tmp_path / "settings.ini").write_text("[llmops]\nexperiment = shipped\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMOPS_JOBS_DB", f"sqlite:///{tmp_path}/jobs.db")
    return tmp_path


def _jsonl(path: Path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path.name


def _ok(r):
    assert r.status == "succeeded", r.error
    nb = json.loads(Path(r.output_path).read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert Path(r.html_path).is_file() and Path(r.notebook).parent.name == "pipelines"
    return r


def test_rag_eval_builds_and_evaluates(proj):
    (proj / "kb").mkdir()
    (proj / "kb" / "hours.md").write_text("# Opening hours\n\nThe help desk is open from 9 to 17 on weekdays.\n")
    (proj / "kb" / "reset.md").write_text("# Passwords\n\nTo reset your password, open Settings and choose Reset password.\n")
    data = _jsonl(proj / "qa.jsonl", [{"question": "When is the help desk open?", "expected_source": "hours.md"},
                                      {"question": "How do I reset my password?", "expected_source": "reset.md"}])
    r = _ok(dispatch(["run", "pipelines/rag_eval.ipynb", "-p", "index", "shipped-kb", "-p", "data", data, "-p", "sources", "[kb]",
                      "-p", "k", "1", "-p", "min_hit", "1.0"]))
    assert r.glue["hit_at_k"] == 1.0 and r.glue["mrr"] == 1.0 and r.glue["eval_run_id"]
    bad = dispatch(["run", "pipelines/rag_eval.ipynb", "-p", "index", "shipped-kb", "-p", "data", data, "-p", "k", "1", "-p", "mode", "lexical",
                    "-p", "min_hit", "1.01"])
    assert bad.status == "failed" and "below min_hit" in bad.error  # a quality gate fails the run (and the scheduler's webhook fires)


def test_prompt_eval_compares_versions_and_promotes(proj):
    from jupyter_llmops import prompts
    s = load_settings()
    prompts.register("shipped-capital", "What is the capital of {{country}}? Answer with one word.", settings=s)
    prompts.register("shipped-capital", "Say only: banana. ({{country}})", settings=s)
    data = _jsonl(proj / "cases.jsonl", [{"country": "France", "expected": "Paris"}, {"country": "Italy", "expected": "Rome"}])
    r = _ok(dispatch(["run", "pipelines/prompt_eval.ipynb", "-p", "prompt", "shipped-capital", "-p", "data", data,
                      "-p", "scorers", "contains", "-p", "promote", "production", "-p", "max_tokens", "8"]))
    assert r.glue["winner"] == 1 and r.glue["best_contains"] > 0 and r.glue["eval_run_id"]
    assert prompts.render("shipped-capital@production", s, country="Spain").prompt_version == ("shipped-capital", 1)


def test_distill_retrain_trains_a_student(proj):
    data = _jsonl(proj / "prompts.jsonl", [{"prompt": f"Name the capital of {c}.", "completion": f"The capital of {c} is {k}."}
                                           for c, k in [("France", "Paris"), ("Italy", "Rome"), ("Japan", "Tokyo"), ("Spain", "Madrid"), ("Egypt", "Cairo")]])
    r = _ok(dispatch(["run", "pipelines/distill_retrain.ipynb", "-p", "data", data, "-p", "steps", "1", "-p", "max_new_tokens", "8",
                      "-p", "max_length", "64"]))
    assert Path(r.glue["model_path"], "config.json").is_file() and r.glue["train_run_id"] and "train_loss" in r.glue
