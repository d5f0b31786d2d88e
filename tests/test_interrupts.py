"""The user presses "interrupt kernel": a KeyboardInterrupt lands in the middle of a kit operation, where an
`except Exception` cleanup does not see it. Each test stops an operation at its worst point and checks that nothing is
left half done: no transaction open, no budget held, no pair lost, no half-grown index, no thread never started, and an
interrupted run recorded as failed (its output notebook, its MLflow run, its schedule's history), not left running."""
import json, os, signal, sqlite3, threading, time
from pathlib import Path
import nbformat, numpy as np, pytest
from jupyter_llmops.config import load_settings


@pytest.fixture
def st(tmp_path, monkeypatch):
    "Settings of a project of its own (home under tmp_path), with a hard daily budget and a priced model."
    (tmp_path / "settings.ini").write_text(f"[llmops]\nhome = {tmp_path / 'h'}\nbudget_daily = 0.1\nbudget_hard = on\n"
                                           "costs = openai:gpt-test=1\nexperiment = interrupts\npipeline_lease = 20\n")
    monkeypatch.chdir(tmp_path)
    return load_settings(tmp_path)


class _Interrupted:
    "A connection that answers as `db` does, and raises KeyboardInterrupt right after `BEGIN IMMEDIATE` returns."
    def __init__(self, db): self.db = db
    def execute(self, sql, *a):
        out = self.db.execute(sql, *a)
        if sql.startswith("BEGIN"): raise KeyboardInterrupt  # pending while SQLite waited for the lock, raised as it returns
        return out
    def __getattr__(self, name): return getattr(self.db, name)


def test_an_interrupt_as_a_transaction_begins_never_leaves_it_open(tmp_path):
    from jupyter_llmops.files import immediate
    db = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    db.execute("CREATE TABLE t (x)")
    with pytest.raises(KeyboardInterrupt), immediate(_Interrupted(db)): db.execute("INSERT INTO t VALUES (1)")
    assert not db.in_transaction  # the next transaction of this process can begin, and another process can write
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None, timeout=0.5)
    with immediate(other): other.execute("INSERT INTO t VALUES (2)")
    with immediate(db): db.execute("INSERT INTO t VALUES (3)")
    assert [r[0] for r in db.execute("SELECT x FROM t ORDER BY x")] == [2, 3]


def test_an_interrupt_as_a_lock_is_taken_never_keeps_it(tmp_path, monkeypatch):
    from jupyter_llmops import config, files, rag_store
    monkeypatch.chdir(tmp_path)
    (tmp_path / "settings.ini").write_text("[llmops]\ncache = off\n")
    for mod in (files, rag_store):  # interrupted as the lock is checked, once taken: `config set`, then an index build
        real = mod.same_file
        def interrupted(*a, mod=mod, real=real): monkeypatch.setattr(mod, "same_file", real); raise KeyboardInterrupt
        monkeypatch.setattr(mod, "same_file", interrupted)
    with pytest.raises(KeyboardInterrupt): config.set_setting("cache", "on", tmp_path)
    t = threading.Thread(target=config.set_setting, args=("cache", "on", tmp_path), daemon=True); t.start(); t.join(20)
    assert not t.is_alive() and load_settings(tmp_path).cache  # the next `config set` of this kernel does not wait for ever
    with pytest.raises(KeyboardInterrupt), rag_store.new_version(tmp_path / "kb", timeout=2): pass
    with rag_store.new_version(tmp_path / "kb", timeout=2) as (n, staging): pass  # not "being built by another process"
    assert n == 1


def test_an_interrupt_after_the_model_answered_holds_no_budget(st, monkeypatch):
    from jupyter_llmops import budget, llm
    from jupyter_llmops.usage import Usage
    monkeypatch.setattr(llm, "_openai", lambda *a, **k: ("an answer", Usage(3, 2)))  # the backend answers at once
    real = llm.cost_of
    def interrupted(*a, **k): raise KeyboardInterrupt  # the answer is back; the interrupt lands as its cost is computed
    monkeypatch.setattr(llm, "cost_of", interrupted)
    with pytest.raises(KeyboardInterrupt): llm.complete("hi", "openai:gpt-test", settings=st, record=False)
    assert budget._db(st).execute("SELECT COUNT(*) FROM reserved").fetchone()[0] == 0
    monkeypatch.setattr(llm, "cost_of", real)
    assert llm.complete("hi", "openai:gpt-test", settings=st, record=False).text == "an answer"  # not refused as over budget
    # and an interrupt just after the hold was committed, before the caller has it
    real_r, made = budget.Reservation, []
    def handed_over(*a):
        made.append(a)
        if len(made) == 1: raise KeyboardInterrupt
        return real_r(*a)
    monkeypatch.setattr(budget, "Reservation", handed_over)
    with pytest.raises(KeyboardInterrupt): budget.reserve(st, 0.05)
    monkeypatch.setattr(budget, "Reservation", real_r)
    assert budget._db(st).execute("SELECT COUNT(*) FROM reserved").fetchone()[0] == 0


def test_an_interrupted_rejudge_never_loses_the_prompts_pair(tmp_path, monkeypatch):
    from jupyter_llmops import feedback
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "h")); monkeypatch.chdir(tmp_path)
    s = load_settings(tmp_path)
    Path("p.jsonl").write_text('{"prompt": "capital of France?"}\n{"prompt": "2+2?"}\n')
    fs = feedback.FeedbackSession("fb", prompts="p.jsonl", models=["local", "hf:./other"], settings=s)
    for i in range(2):  # the answers, as if generated
        for side in range(2):
            feedback.append_jsonl(fs.folder / "answers.jsonl", {"index": i, "side": side, "source": fs.sources[side], "text": f"answer {i}/{side}"})
    fs.judge(0, "A")
    pair_of = lambda: [p["chosen"] for p in feedback.read_appended(fs.pairs_path) if p["index"] == 0]
    first = pair_of()
    # re-judged as B, interrupted at each write: the old pair goes, the new one comes, the judgement is recorded
    for fn, target in (("atomic_write", "pairs.jsonl"), ("append_jsonl", "pairs.jsonl"), ("append_jsonl", "judgements.jsonl")):
        real = getattr(feedback, fn)
        def stop(path, *x, real=real, target=target):
            if Path(path).name == target: raise KeyboardInterrupt
            return real(path, *x)
        monkeypatch.setattr(feedback, fn, stop)
        try: fs.judge(0, "B")  # a write it does not make is not interrupted
        except KeyboardInterrupt: pass
        monkeypatch.setattr(feedback, fn, real)
        assert len(pair_of()) == 1, (fn, target)  # the judged prompt keeps one pair: never none
    assert pair_of() != first and len(feedback.read_appended(fs.pairs_path)) == 1  # B's, once its write had happened


def test_an_interrupted_index_refresh_is_read_again_whole(tmp_path, monkeypatch):
    import faiss
    from jupyter_llmops.cache import SemanticCache
    c = SemanticCache(tmp_path / "semantic.db")
    key = ("m", "fp", "", "", "", "", "ctx")
    v = np.random.default_rng(0).normal(size=(6, 8)).astype("float32"); v /= np.linalg.norm(v, axis=1, keepdims=True)
    c.add(key, [f"q{i}" for i in range(3)], v[:3], [f"a{i}" for i in range(3)])
    assert [i for i, *_ in c.candidates(key, v[0], k=5)][0] == 1  # the key's index, loaded
    c.add(key, [f"q{i}" for i in range(3, 6)], v[3:], [f"a{i}" for i in range(3, 6)])
    real = faiss.IndexIDMap2.add_with_ids
    def add_then_interrupt(self, *a):
        real(self, *a); raise KeyboardInterrupt  # pending during the (C) add, raised as it returns
    monkeypatch.setattr(faiss.IndexIDMap2, "add_with_ids", add_then_interrupt)
    with pytest.raises(KeyboardInterrupt): c.candidates(key, v[4], k=5)
    monkeypatch.setattr(faiss.IndexIDMap2, "add_with_ids", real)
    got = [i for i, *_ in c.candidates(key, v[4], k=5)]
    assert got[0] == 5 and len(set(got)) == len(got) == 5 and c._index[key][0].ntotal == 6  # each entry once


def test_an_interrupt_as_the_writer_thread_starts_does_not_stop_recording(st, monkeypatch):
    from jupyter_llmops.recorder import Recorder
    rec = Recorder()
    real = threading.Thread.start
    def start(self):
        if self.name == "llmops-recorder": monkeypatch.setattr(threading.Thread, "start", real); raise KeyboardInterrupt
        return real(self)
    monkeypatch.setattr(threading.Thread, "start", start)
    call = dict(model="local", messages=[{"role": "user", "content": "hi"}], text="hello", start_ns=time.time_ns(),
                end_ns=time.time_ns() + 1000, prompt=None, attrs={}, error=None)
    with pytest.raises(KeyboardInterrupt): rec.submit(st, call)
    rec.submit(st, call)  # the next call starts the writer: both are written
    assert rec.flush(timeout=120) and rec.written == 2


def test_an_interrupt_inside_an_mlflow_read_leaves_the_store_writable(st):
    """Jupyter's stop button as MLflow's store reads a result, in a tracked cell: the cursor, kept alive by the traceback
    (IPython keeps the last one), held SQLite's read lock, and every later write of this kernel and of any other process
    waited 20 s, then "database is locked" (before: a rollback journal and pooled connections; now WAL, and none reused)."""
    import subprocess, sys
    from jupyter_llmops.tracking import track
    track(lambda: None, settings=st)  # the store exists, as in a kernel that tracked a cell before
    def tracer(frame, event, arg):
        if frame.f_code.co_name != "orm_setup_cursor_result": return None
        def line(frame, event, arg):
            if event == "line": sys.settrace(None); raise KeyboardInterrupt  # where a SIGINT lands between two lines
            return line
        return line
    sys.settrace(tracer)
    try:
        with pytest.raises(KeyboardInterrupt) as kept: track(lambda: None, settings=st)
    finally: sys.settrace(None)
    assert any("sqlalchemy/orm" in str(e.path) for e in kept.traceback)  # it landed inside SQLAlchemy's read; its frames are kept
    db = st.tracking_uri[len("sqlite:///"):]
    other = subprocess.run([sys.executable, "-c", f"import sqlite3; c = sqlite3.connect({db!r}, timeout=3, isolation_level=None); "
                            "c.execute('BEGIN IMMEDIATE'); c.execute('UPDATE experiments SET name = name'); c.execute('COMMIT')"],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr  # another process writes at once
    runs = [track(lambda: None, settings=st) for _ in range(3)]  # and this kernel's next cells are tracked
    assert [r.status for r in runs] == ["FINISHED"] * 3


def test_an_interrupt_as_a_tracked_cell_turns_autologging_on_leaves_it_off(st, monkeypatch):
    """Jupyter's stop button as `%%llmops track` patches scikit-learn for autologging (most of a short tracked cell's
    time): before, autologging stayed on for the kernel, and every later untracked `fit` made an MLflow run."""
    import mlflow, mlflow.sklearn
    from mlflow.utils.autologging_utils import autologging_is_disabled
    from jupyter_llmops.tracking import track
    real = mlflow.sklearn.autolog
    def enable_then_interrupted(*a, **kw):
        real(*a, **kw)
        if not kw.get("disable"): monkeypatch.setattr(mlflow.sklearn, "autolog", real); raise KeyboardInterrupt
    monkeypatch.setattr(mlflow.sklearn, "autolog", enable_then_interrupted)
    with pytest.raises(KeyboardInterrupt): track(lambda: None, settings=st)
    assert autologging_is_disabled("sklearn") and mlflow.active_run() is None
    import jupyter_llmops.tracking as T  # the stop pressed just as the cell's run started: ended, not the parent of the next cell's
    mark = T.mark_open
    monkeypatch.setattr(T, "mark_open", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt): track(lambda: None, settings=st)
    assert mlflow.active_run() is None
    monkeypatch.setattr(T, "mark_open", mark)
    assert "mlflow.parentRunId" not in mlflow.get_run(track(lambda: None, settings=st).run_id).data.tags
    real_end, ended = mlflow.MlflowClient.set_terminated, []  # pressed again as the cell's run is ended: it is ended, FAILED
    def end_interrupted(self, run_id, *a, **kw):
        if not ended: ended.append(run_id); raise KeyboardInterrupt
        return real_end(self, run_id, *a, **kw)
    monkeypatch.setattr(mlflow.MlflowClient, "set_terminated", end_interrupted)
    with pytest.raises(KeyboardInterrupt): track(lambda: None, settings=st)
    assert mlflow.active_run() is None and mlflow.get_run(ended[0]).info.status == "FAILED"  # before: RUNNING for good


def test_an_interrupted_streamed_answer_stops_its_model(st):
    """The stop button during a streamed answer (`%%llmops ask` prints it as it comes) of the local model: before, the
    cell returned and the model went on to max_tokens in its thread, about a minute of both cores, the tokens thrown away."""
    from jupyter_llmops.llm import complete
    before = set(threading.enumerate())
    def on_token(piece): raise KeyboardInterrupt  # pressed as the first words show
    with pytest.raises(KeyboardInterrupt): complete("Tell me a long story about a dragon.", max_tokens=400, on_token=on_token, settings=st)
    assert [t.name for t in threading.enumerate() if t not in before and "gen" in t.name] == []  # the model's thread has ended
    pieces = []
    assert complete("Say hello.", max_tokens=8, on_token=pieces.append, settings=st).text and pieces  # the next stream works


def test_an_alias_moved_then_interrupted_is_never_served_stale(st, monkeypatch):
    import mlflow
    from jupyter_llmops import prompts
    prompts.register("greet", "Hello {{name}}", alias="prod", settings=st)
    assert prompts.render("greet@prod", settings=st, name="Ada").text == "Hello Ada"  # cached in this process
    real = mlflow.genai.set_prompt_alias
    def moved_then_interrupted(*a, **k): real(*a, **k); raise KeyboardInterrupt
    monkeypatch.setattr(mlflow.genai, "set_prompt_alias", moved_then_interrupted)
    with pytest.raises(KeyboardInterrupt): prompts.register("greet", "Hi {{name}}", alias="prod", settings=st)
    with pytest.raises(KeyboardInterrupt): prompts.set_alias("greet", 1, "old", settings=st)
    monkeypatch.setattr(mlflow.genai, "set_prompt_alias", real)
    assert prompts.render("greet@prod", settings=st, name="Ada").text == "Hi Ada"  # the moved alias, not the cached version


def _sleeper(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import time\nfor i in range(120):\n    open('ticks', 'a').write('x'); time.sleep(0.5)")]
    nbformat.write(nb, path)
    return path


def _interrupt_when_working(tmp_path):
    "Press 'interrupt kernel' (SIGINT to this process) once the notebook has worked for a second."
    def press():
        while not (tmp_path / "ticks").exists(): time.sleep(0.1)
        time.sleep(1); os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=press, daemon=True).start()


def test_an_interrupted_run_is_recorded_failed_everywhere_and_its_schedule_can_run_again(st, tmp_path, monkeypatch, request):
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.pipelines import scheduler
    monkeypatch.setenv("LLMOPS_JOBS_DB", f"sqlite:///{tmp_path}/jobs.db")
    nb = _sleeper(tmp_path / "work.ipynb")
    scheduler.add_schedule("nightly", str(nb), "0 3 * * *", settings=st)
    was = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a kernel: SIGINT raises KeyboardInterrupt
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, was))
    _interrupt_when_working(tmp_path)
    with pytest.raises(KeyboardInterrupt) as e: scheduler.run_now("nightly", st)
    res = e.value.result
    assert res.status == "failed" and res.error.startswith("interrupted in cell 0")
    out = json.loads(Path(res.output_path).read_text())
    assert out["metadata"]["llmops"]["status"] == "failed"  # the output notebook says so
    assert connect(st).MlflowClient().get_run(res.run_id).info.status == "FAILED"  # the MLflow run is not left RUNNING
    rows = scheduler.history("nightly", settings=st).rows
    assert [(r.status, r.error[:14]) for r in rows] == [("failed", "interrupted in")]  # not running until its lease runs out
    (tmp_path / "ticks").unlink()
    _interrupt_when_working(tmp_path)  # and it can be run again at once (no ConflictError)
    with pytest.raises(KeyboardInterrupt): scheduler.run_now("nightly", st)
    assert [r.status for r in scheduler.history("nightly", settings=st).rows] == ["failed", "failed"]
