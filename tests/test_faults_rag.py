"""Fault injection on index builds, with real processes: a build is SIGKILLed while embedding, while writing FAISS and
between its last write and the pointer swap, and the previous version still answers; two builds of one index at once
run one after the other; readers never rename anything."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
from conftest import HOME
from faults import wait
from jupyter_llmops import rag, rag_store
from jupyter_llmops.config import load_settings

# A build in its own process. STOP names the point where it stops (it writes `stopped` and sleeps, to be SIGKILLed);
# every process records when it entered and left the index's lock.
BUILD = textwrap.dedent('''
    import json, os, sys, time
    from pathlib import Path
    from jupyter_llmops import rag, rag_store
    from jupyter_llmops.config import load_settings
    stop, out = sys.argv[1], Path(sys.argv[2])
    def note(**kw):
        with open(out, "a") as f: f.write(json.dumps({"pid": os.getpid(), "t": time.time(), **kw}) + "\\n")
    def halt(point):
        if stop == point: note(ev="stopped", at=point); time.sleep(600)
    enc = rag.Embedder.encode
    def encode(self, texts, batch_size=64):
        halt("embedding"); time.sleep(float(os.environ.get("SLOW_EMBED", "0"))); return enc(self, texts, batch_size)
    rag.Embedder.encode = encode
    import faiss
    write = faiss.write_index
    def write_index(index, path):
        write(index, path)
        if stop == "faiss":
            with open(path, "r+b") as f: f.truncate(os.path.getsize(path) // 2)  # half written
        halt("faiss")
    faiss.write_index = write_index
    swap = rag_store.before_swap
    rag_store.before_swap = lambda d, n: (halt("swap"), note(ev="swap", version=n), swap(d, n))
    new_version = rag_store.new_version
    from contextlib import contextmanager
    @contextmanager
    def traced(d, *a, **kw):
        with new_version(d, *a, **kw) as got:
            note(ev="locked", version=got[0]); yield got
        note(ev="unlocked")
    rag_store.new_version = traced
    sources = [x for x in os.environ.get("SOURCES", "docs").split(",") if x]  # none: the last build's
    note(ev="start")
    r = rag.build("kb", sources, settings=load_settings(), progress=False)
    note(ev="built", version=r.version)
''')


@pytest.fixture
def kb(tmp_path, monkeypatch):
    "A project with two documents and version 1 of index `kb` built over them."
    (tmp_path / "settings.ini").write_text(f"[llmops]\nexperiment = rag-faults\ntracking_uri = sqlite:///{HOME}/mlflow.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))  # its own indexes (the build processes inherit it)
    docs = tmp_path / "docs"; docs.mkdir()
    (docs / "hours.md").write_text("# Opening hours\n\nThe help desk is open from 9 to 17 on weekdays.\n")
    (docs / "reset.md").write_text("# Passwords\n\nTo reset your password, open Settings and choose Reset password.\n")
    s = load_settings()
    assert rag.build("kb", ["docs"], settings=s, progress=False).version == 1
    (docs / "hours.md").write_text("# Opening hours\n\nThe help desk now opens at 8 and closes at 20, every day.\n")  # what v2 would say
    return tmp_path, s


def _build(proj, stop, out, **env):
    err = open(Path(out).with_suffix(".err"), "w")  # a file, not a pipe: nobody reads it while the build runs
    return subprocess.Popen([sys.executable, "-c", BUILD, stop, str(out)], cwd=proj, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=err)


def _notes(out):
    return [json.loads(l) for l in Path(out).read_text().splitlines()] if Path(out).exists() else []


def test_a_build_killed_at_any_point_leaves_the_previous_version_queryable(kb):
    proj, s = kb
    d = s.path("indexes", "kb")
    for point in ("embedding", "faiss", "swap"):
        out = proj / f"{point}.jsonl"
        p = _build(proj, point, out)
        wait(lambda: any(n.get("ev") == "stopped" for n in _notes(out)) or p.poll() is not None, 120, what=f"the build to reach {point}")
        assert p.poll() is None, out.with_suffix(".err").read_text()[-2000:]
        p.send_signal(signal.SIGKILL); p.wait()
        hit = rag.query("kb", "when is the help desk open?", k=1, settings=s).hits[0]
        assert "from 9 to 17" in hit.text, (point, hit.text)  # version 1 answers
        assert rag.index_version("kb", s) == 1 and (d / "CURRENT").read_text() == "1\n"
    left = sorted(p.name for p in (d / "versions").iterdir())
    assert "1" in left and len(left) > 1  # the killed builds left debris; nobody has touched it
    r = rag.build("kb", ["docs"], settings=s, progress=False)
    assert r.version > 3 and sorted(p.name for p in (d / "versions").iterdir()) == ["1", str(r.version)]  # debris gone, v1 kept a while
    assert "opens at 8" in rag.query("kb", "when is the help desk open?", k=1, settings=s).hits[0].text
    assert rag.list_indexes(s).set_index("name").loc["kb", "version"] == r.version


def test_concurrent_builds_of_one_index_serialise(kb):
    proj, s = kb
    outs = [proj / f"b{i}.jsonl" for i in range(2)]
    ps = [_build(proj, "never", o, SLOW_EMBED="1.5") for o in outs]
    for p, o in zip(ps, outs): assert p.wait(300) == 0, o.with_suffix(".err").read_text()[-2000:]
    spans = []
    for o in outs:
        n = {x["ev"]: x for x in _notes(o)}
        spans.append((n["locked"]["t"], n["unlocked"]["t"], n["built"]["version"]))
    (a0, a1, va), (b0, b1, vb) = sorted(spans)
    assert a1 <= b0, spans  # the second build entered the lock after the first left it
    assert sorted([va, vb]) == [2, 3] and rag.index_version("kb", s) == 3
    assert (s.path("indexes", "kb") / "CURRENT").read_text() == "3\n"
    assert "opens at 8" in rag.query("kb", "when is the help desk open?", k=1, settings=s).hits[0].text


def test_a_rebuild_that_waited_takes_the_sources_of_the_build_it_waited_for(kb):
    """`rag build kb` (no sources: the last build's) started while another process builds kb from new sources: before,
    it read the sources before it took the index's lock, waited, then rebuilt the old ones, undoing the other build."""
    proj, s = kb
    (proj / "docs2").mkdir(); (proj / "docs2" / "refunds.md").write_text("# Refunds\n\nRefunds are accepted within 30 days of purchase.\n")
    out_a, out_b = proj / "a.jsonl", proj / "b.jsonl"
    a = _build(proj, "never", out_a, SLOW_EMBED="12", SOURCES="docs2")  # long enough for the second process to start and read its sources
    wait(lambda: any(n.get("ev") == "locked" for n in _notes(out_a)) or a.poll() is not None, 120, what="the first build to take the lock")
    b = _build(proj, "never", out_b, SOURCES="")
    wait(lambda: _notes(out_b) or b.poll() is not None, 120, what="the second build to start")
    assert not any(n["ev"] == "unlocked" for n in _notes(out_a)), "the first build ended before the second started: the test proves nothing"
    for p, o in ((a, out_a), (b, out_b)): assert p.wait(300) == 0, o.with_suffix(".err").read_text()[-2000:]
    assert rag.index_version("kb", s) == 3 and rag.load("kb", s).manifest["sources"] == ["docs2"]
    assert rag.query("kb", "how long can I ask for a refund?", k=1, settings=s).hits[0].source == "docs2/refunds.md"


def test_readers_only_follow_the_pointer(kb):
    "Loading and querying rename nothing, even beside a killed build's debris; an old layout is still read."
    proj, s = kb
    d = s.path("indexes", "kb")
    (d / "versions" / ".building-7-1").mkdir()
    before = sorted(str(p) for p in d.rglob("*"))
    rag.query("kb", "reset password", settings=s); rag.list_indexes(s); rag.index_version("kb", s)
    assert sorted(str(p) for p in d.rglob("*")) == before
    legacy = s.path("indexes", "old")  # an index of the layout before versions/
    (legacy).mkdir()
    for f in ("manifest.json", "index.faiss", "chunks.jsonl"): (legacy / f).write_bytes((d / "versions" / "1" / f).read_bytes())
    import shutil; shutil.copytree(d / "versions" / "1" / "bm25", legacy / "bm25")
    assert rag.query("old", "reset password", k=1, settings=s).hits[0].source.endswith("reset.md")


def test_a_refused_first_build_leaves_no_folder_and_drop_removes_a_dead_builds_leftover(kb):
    "A refused build of a new index left an empty `indexes/NAME/` that `rag drop` said did not exist (a probe found it)."
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.errors import NotFoundError, UsageError
    proj, s = kb
    (proj / "empty.md").write_text("")
    for name in ("idx2", "kb"):  # a new index, and a rebuild of one that exists
        with pytest.raises(UsageError, match="no text found"): rag.build(name, ["empty.md"], settings=s, progress=False)
    assert not s.path("indexes", "idx2").exists() and rag.index_version("kb", s) == 1
    assert sorted(p.name for p in s.path("indexes").iterdir()) == ["kb"]
    left = s.path("indexes", "idx3")  # what a build killed before its first version left
    (left / "versions" / ".building-1-4194999").mkdir(parents=True); (left / "lock").write_text("")
    assert str(dispatch(["rag", "drop", "idx3"])) == "dropped index idx3" and not left.exists()
    (proj / "home" / "indexes" / "notes").mkdir(); (proj / "home" / "indexes" / "notes" / "mine.txt").write_text("keep")
    for name in ("idx3", "notes"):  # nothing there, or a folder the kit did not make: still no index
        with pytest.raises(NotFoundError): dispatch(["rag", "drop", name])
    assert (proj / "home" / "indexes" / "notes" / "mine.txt").read_text() == "keep"
