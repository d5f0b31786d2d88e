"""Fault injection on the scheduler, with real processes and real databases: scheduler daemons racing on SQLite and on
PostgreSQL, killed (SIGKILL) and frozen (SIGSTOP) mid-run, cut off by a locked jobs database, run with a faked clock, stopped
through missed ticks, started twice at once, and manual runs mixed with cron ticks. Each promise is checked by counting
what really ran: the attempts in the jobs database and the events each notebook's kernel wrote."""
import json, os, signal, sqlite3, subprocess, sys, time
from collections import Counter
from pathlib import Path
import pytest
from conftest import run_cli
from faults import alive, daemon, daemon_log, event_notebook, events, proc_state, stop_daemon, wait
from jupyter_llmops.config import load_settings
from jupyter_llmops.errors import BusyError, UsageError
from jupyter_llmops.pipelines import daemon as D, scheduler as S
from jupyter_llmops.pipelines.lease import owner_pid
from jupyter_llmops.pipelines.runner import KERNEL_START_TIMEOUT
from jupyter_llmops.pipelines.cron import next_tick, prev_tick
from jupyter_llmops.pipelines.store import JobStore

TICKS = 24  # claimed ticks per database in the exactly-once test (8 schedules, two daemons: ~12 claims each; 50 took 70 s a database)


@pytest.fixture(scope="module", autouse=True)
def mlflow_store():
    "The session's MLflow store, created before daemons race to create it (they all log there)."
    from jupyter_llmops.mlstore import ensure_experiment
    from jupyter_llmops.pipelines.runner import EXPERIMENT
    ensure_experiment(EXPERIMENT, load_settings())


@pytest.fixture
def proj(tmp_path, monkeypatch):
    "A project (settings.ini, cwd) with an events notebook and its own SQLite jobs database."
    (tmp_path / "settings.ini").write_text("[llmops]\nexperiment = faults\npipeline_retry_backoff = 0.2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMOPS_JOBS_DB", f"sqlite:///{tmp_path}/jobs.db")
    event_notebook(tmp_path / "ev.ipynb")
    return tmp_path


def _add(store, proj, name, cron="* * * * * *", retries=0, **params):
    params = {"log": str(proj / f"{name}.log"), "tag": name, **params}
    return store.add(name, str(proj / "ev.ipynb"), str(proj), cron, params=params, retries=retries)


# The longest an attempt of the events notebook can take: two kernel starts that each time out (the runner starts a
# silent kernel once more), then the run itself. In one CI run an attempt was still running 120 s after the pause.
IDLE = 2 * KERNEL_START_TIMEOUT + 60


def _idle(store, names, proj, procs=()):
    """Pause the schedules and wait until none of them has an attempt running or queued; if one stays busy, say which,
    with what its kernel logged, and show the daemons' logs, after asking each daemon (SIGUSR1) for its threads' and tasks' stacks."""
    for n in names: store.set_paused(n, True)
    try:
        wait(lambda: not store.activity()[0] & set(names), IDLE, what="the schedules to be idle")
    except AssertionError as e:
        rows = [dict(store.row(r.id)._mapping) for n in names for r in store.history(n, limit=1000) if r.status in ("running", "queued")]
        for p in procs: os.kill(p.pid, signal.SIGUSR1)
        time.sleep(2)
        ran = {r["schedule"]: events(proj / f"{r['schedule']}.log")[-3:] for r in rows}
        kernels = {r["pid"]: (r["pid"] and proc_state(r["pid"])) or "gone" for r in rows}
        mine = lambda l: any(f"run {r['id']}" in l or f"llmops-job-{r['id']}" in l for r in rows)
        def told(h):  # the busy attempts' lines, then the stacks the daemon wrote last
            text = daemon_log(h)
            return [l for l in text.splitlines() if mine(l)] + (text.rsplit(" stacks of PID ", 1)[1].splitlines()[:400] if " stacks of PID " in text else [])
        logs = "\n".join(f"--- {h}\n" + "\n".join(told(h)) for h in sorted(proj.glob("home*")))
        raise AssertionError(f"{e}; now {store.now():.1f}; busy: {rows}; their kernels' state {kernels}, last events {ran}\n{logs}") from None


def _attempts(store, name):
    return [(r.status, r.attempt, r.trigger) for r in store.history(name, limit=1000)]


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_two_scheduler_processes_run_every_tick_once(db, proj, postgres):
    "Two daemons on one database, 8 schedules ticking every second: each claimed tick has one attempt and ran once."
    url = f"sqlite:///{proj}/jobs.db" if db == "sqlite" else postgres.url("ticks")
    store = JobStore(url)
    names = [f"t{i}" for i in range(8)]
    for n in names: _add(store, proj, n)
    procs = [daemon(proj, proj / f"home{i}", url, lease=10, poll=0.05) for i in range(2)]
    try:
        count = lambda: sum(len(store.history(n, limit=1000)) for n in names)
        wait(lambda: count() >= TICKS, 900, 1.0, f"{TICKS} claimed ticks")
        _idle(store, names, proj, procs)
    finally:
        for p in procs: stop_daemon(p)
    rows = [r for n in names for r in store.history(n, limit=1000)]
    assert len(rows) >= TICKS
    assert Counter((r.schedule, r.tick) for r in rows).most_common(1)[0][1] == 1  # no tick claimed twice
    assert {(r.status, r.attempt) for r in rows} == {("succeeded", 1)}, Counter((r.status, r.error) for r in rows)
    for n in names:  # every claimed tick ran exactly once: one start and one end per attempt, in the kernels' own log
        ran = events(proj / f"{n}.log")
        assert (len([e for e in ran if e["ev"] == "start"]), len([e for e in ran if e["ev"] == "end"])) == (len(store.history(n, limit=1000)),) * 2
    owners = Counter(store.row(r.id).owner.split(":")[1] for r in rows)
    assert len(owners) == 2 and min(owners.values()) > TICKS // 10, owners  # both daemons won claims: a real race


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_remove_never_deletes_an_attempt_claimed_as_it_removes(db, proj, postgres):
    """A scheduler claims a tick just before `schedule remove` writes: before, the remove had checked for a running
    attempt, then deleted the history with the attempt claimed since (its notebook ran on, recorded nowhere), and SQLite
    gave its id to the next attempt of a schedule added again under the name (two attempts under one id, one's result
    written as the other's). The remove is refused, the attempt kept; ids are never given out twice."""
    from sqlalchemy import event
    from jupyter_llmops.errors import ConflictError
    url = f"sqlite:///{proj}/jobs.db" if db == "sqlite" else postgres.url("remove_race")
    store, claimed = JobStore(url), []
    _add(store, proj, "race")
    def claim_first(conn, cursor, statement, *_):  # another connection's claim commits just before the remove's first statement that locks or writes
        if (statement.lstrip().upper().startswith("DELETE") or "FOR UPDATE" in statement) and not claimed:  # PostgreSQL: the remove locks the schedule first
            claimed.append(store.claim_tick("race", None, "other:1", 60))
    event.listen(store.engine, "before_cursor_execute", claim_first)
    try:
        with pytest.raises(ConflictError, match="'race' is running"): store.remove("race")
    finally: event.remove(store.engine, "before_cursor_execute", claim_first)
    assert claimed[0] and store.row(claimed[0]).status == "running" and store.get("race").name == "race"
    assert store.finish(claimed[0], "succeeded", owner="other:1", only_if_running=True)
    store.remove("race"); _add(store, proj, "race")
    assert store.claim_tick("race", None, "other:1", 60) > claimed[0]  # not the removed attempt's id again


@pytest.mark.solo
def test_sigkill_of_the_scheduler_mid_run(proj):
    "The daemon is SIGKILLed while a notebook runs: its kernel dies too; a new daemon retries once; one result."
    store = JobStore(f"sqlite:///{proj}/jobs.db")
    _add(store, proj, "k", retries=1, first=True)
    r = run_cli("scheduler", "start", "--poll", "0.2", "--lease", "2", cwd=proj)  # started by a CLI process that exits
    assert r.returncode == 0 and "scheduler running, PID" in r.stdout, r.stderr
    s = load_settings()
    pid = D.status(s).pid
    assert pid and f"PID {pid}" in run_cli("scheduler", "status", cwd=proj).stdout  # the starting CLI process has exited
    try:
        hang = wait(lambda: events(proj / "k.log", "hang"), 90, what="the first attempt to run")[0]
        store.set_paused("k", True)
        os.kill(pid, signal.SIGKILL)
        wait(lambda: not alive(hang["pid"]), 15, what="the orphaned kernel to die")
        assert not D.status(s).running and _attempts(store, "k") == [("running", 1, "cron")]
        assert "not running" in run_cli("scheduler", "status", cwd=proj).stdout
        assert D.start(s, poll=0.2, lease=2) != pid  # the lock of the killed daemon was released with it
        wait(lambda: _attempts(store, "k")[0][0] == "succeeded", 90, what="the retry")
    finally:
        st = D.stop(s)
    assert not st.running and "stopped" in Path(st.log).read_text()
    assert _attempts(store, "k") == [("succeeded", 2, "cron"), ("lost_lease", 1, "cron")]
    assert "lease" in store.history("k")[1].error
    assert len(events(proj / "k.log", "end")) == 1  # one result
    lost = store.history("k")[1]  # its output notebook is kept and named (before: the lost attempt's row named none)
    assert json.loads(Path(lost.output_path).read_text())["metadata"]["papermill"]["parameters"]["tag"] == "k", lost


def test_sigusr1_makes_the_daemon_write_where_each_run_waits(proj):
    "`kill -USR1 PID` writes the daemon's threads' stacks and its event loops' awaits into its log: a stuck run shows what it waits for."
    store = JobStore(f"sqlite:///{proj}/jobs.db")
    _add(store, proj, "u", first=True)  # its first attempt hangs in a cell
    p = daemon(proj, proj / "home", f"sqlite:///{proj}/jobs.db")
    try:
        wait(lambda: events(proj / "u.log", "hang"), 90, what="the run to hang")
        rid = store.running(schedule="u")[0].id
        os.kill(p.pid, signal.SIGUSR1)
        text = wait(lambda: "--- task" in daemon_log(proj / "home") and daemon_log(proj / "home"), 20, what="the stacks in the log")
        assert p.poll() is None  # the daemon goes on
    finally:
        stop_daemon(p)
    stacks = text.rsplit(" stacks of PID ", 1)[1]
    job = stacks.split(f"--- thread llmops-job-{rid}\n")[1].split("\n---")[0]
    assert "in execute\n" in job and "in execute_notebook\n" in job, job  # the attempt's thread, in the runner, in papermill
    task = next(t for t in stacks.split("--- task ")[1:] if "in _async_poll_for_reply\n" in t)  # its kernel client: the cell's reply
    assert "channels.py" in task and "in get_msg\n  awaiting " in task, task  # down to the shell channel's get_msg


@pytest.mark.solo
def test_sigstop_past_the_lease(proj):
    "A daemon frozen (SIGSTOP) past its lease: another daemon kills its kernel and retries; woken, it drops its result."
    url = f"sqlite:///{proj}/jobs.db"
    store = JobStore(url)
    _add(store, proj, "z", retries=1, first=True)
    procs = {p.pid: p for p in [daemon(proj, proj / f"home{i}", url, lease=2) for i in range(2)]}
    try:
        hang = wait(lambda: events(proj / "z.log", "hang"), 90, what="the first attempt to run")[0]
        store.set_paused("z", True)
        owner = owner_pid(store.running(schedule="z")[0].owner)
        os.kill(owner, signal.SIGSTOP)
        wait(lambda: _attempts(store, "z")[0][0] == "succeeded", 90, what="the other daemon's retry")
        assert not alive(hang["pid"]) and procs[owner].poll() is None  # the kernel was killed while its daemon is frozen
        os.kill(owner, signal.SIGCONT)
        wait(lambda: "result dropped" in daemon_log(proj / f"home{list(procs).index(owner)}"), 30, what="the woken daemon to drop its result")
    finally:
        for p in procs.values(): stop_daemon(p)
    assert _attempts(store, "z") == [("succeeded", 2, "cron"), ("lost_lease", 1, "cron")]
    assert len(events(proj / "z.log", "end")) == 1


@pytest.mark.solo
def test_lease_renewal_blocked_by_a_held_database_lock(proj):
    "The jobs database is locked longer than the lease: the runner kills its kernel before anyone may retry; one result."
    db = proj / "jobs.db"
    store = JobStore(f"sqlite:///{db}")
    _add(store, proj, "b", retries=1, first=True)
    p = daemon(proj, proj / "home", f"sqlite:///{db}", lease=3)
    try:
        hang = wait(lambda: events(proj / "b.log", "hang"), 90, what="the first attempt to run")[0]
        store.set_paused("b", True)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # no renewal can be written now
        t = time.time()
        wait(lambda: not alive(hang["pid"]), 20, what="the runner to kill its kernel")
        assert time.time() - t < 3 + 2  # within a lease (and one check) of the last renewal
        assert _attempts(store, "b") == [("running", 1, "cron")]  # nobody could take it over meanwhile
        time.sleep(1)
        lock.execute("ROLLBACK"); lock.close()
        wait(lambda: _attempts(store, "b")[0][0] == "succeeded", 90, what="the retry")
    finally:
        stop_daemon(p)
    assert _attempts(store, "b") == [("succeeded", 2, "cron"), ("lost_lease", 1, "cron")]
    err = store.history("b")[1].error  # recorded by the runner that gave up, or by the recovery pass when it came first
    assert len(events(proj / "b.log", "end")) == 1 and ("could not be renewed" in err or "stopped renewing the lease" in err), err


@pytest.mark.solo
def test_clock_offset_between_two_schedulers(proj):
    "One daemon's clock is an hour ahead: leases and ticks come from the database's clock, so nothing changes."
    url = f"sqlite:///{proj}/jobs.db"
    store = JobStore(url)
    _add(store, proj, "c", cron="* * * * * */2", sleep=4.0)  # each run outlives a lease: renewals must be honoured
    procs = [daemon(proj, proj / "home-a", url, lease=2), daemon(proj, proj / "home-b", url, lease=2, clock_offset=3600.0)]
    try:
        wait(lambda: len(events(proj / "c.log", "end")) >= 4, 180, what="four runs")
        _idle(store, ["c"], proj, procs)
    finally:
        for p in procs: stop_daemon(p)
    rows = store.history("c", limit=1000)
    assert {(r.status, r.attempt) for r in rows} == {("succeeded", 1)}, [(r.status, r.error) for r in rows]
    assert max(r.tick for r in rows).timestamp() <= time.time()  # no tick from the future
    assert len(events(proj / "c.log", "start")) == len(events(proj / "c.log", "end")) == len(rows)
    starts = sorted((e["t"], e["ev"]) for e in events(proj / "c.log") if e["ev"] in ("start", "end"))
    assert all(a[1] != b[1] for a, b in zip(starts, starts[1:]))  # start, end, start, end: never two at once


@pytest.mark.solo
def test_missed_ticks_after_downtime_run_once(proj):
    "The daemon is down over several ticks: on restart only the latest missed tick runs, once."
    store = JobStore(f"sqlite:///{proj}/jobs.db")
    _add(store, proj, "m", cron="* * * * * */10")
    home = proj / "home"
    p = daemon(proj, home, f"sqlite:///{proj}/jobs.db")
    wait(lambda: events(proj / "m.log", "end"), 60, what="a first run")
    stop_daemon(p)
    down = store.now()
    last = store.activity()[1]["m"]
    wait(lambda: (now := store.now()) - down > 21 and 0.2 < now % 10 < 1.0, 40, 0.05, "two missed ticks")  # just after a tick
    restart = store.now()
    missed = [next_tick("* * * * * */10", "UTC", last)]
    while (t := next_tick("* * * * * */10", "UTC", missed[-1])) <= restart: missed.append(t)
    p = daemon(proj, home, f"sqlite:///{proj}/jobs.db")
    try:
        wait(lambda: store.activity()[1]["m"] > last, 30, what="the catch-up tick")
        _idle(store, ["m"], proj, [p])
    finally:
        stop_daemon(p)
    after = sorted(r.tick.timestamp() for r in store.history("m") if r.tick.timestamp() > last)
    assert len(missed) >= 2 and after[0] == prev_tick("* * * * * */10", "UTC", restart) == missed[-1]
    assert [t for t in after if t <= restart] == [missed[-1]]  # the older missed ticks never ran


@pytest.mark.solo
def test_a_schedule_never_overlaps_itself_with_cron_and_manual_runs(proj, monkeypatch):
    "Manual runs (CLI) and cron ticks of one schedule: one attempt at a time; a refused run names the running attempt."
    monkeypatch.setenv("LLMOPS_PIPELINE_LEASE", "3")
    store = JobStore(f"sqlite:///{proj}/jobs.db")
    _add(store, proj, "o", sleep=3.0)
    store.set_paused("o", True)
    log = proj / "o.log"
    manual = subprocess.Popen([str(Path(sys.executable).parent / "llmops"), "schedule", "run", "o"], cwd=proj,
                              stdout=open(proj / "manual.log", "wb"), stderr=subprocess.STDOUT)
    p = daemon(proj, proj / "home", f"sqlite:///{proj}/jobs.db", lease=3)
    try:
        try: wait(lambda: events(log, "start"), 60, what="the manual run to start")
        except AssertionError as e:
            raise AssertionError(f"{e}; the manual run (exit {manual.poll()}) said: {(proj / 'manual.log').read_text()[-3000:]}; "
                                 f"rows {_attempts(store, 'o')}; daemon log: {daemon_log(proj / 'home')[-3000:]}") from None
        store.set_paused("o", False)  # cron ticks are due now, while the manual run runs
        first = store.running(schedule="o")[0]
        r = run_cli("schedule", "run", "o", cwd=proj)
        assert r.returncode != 0 and f"already running: id {first.id} in its history (manual" in r.stderr, r.stderr
        assert manual.wait(60) == 0
        cron = wait(lambda: [x for x in store.running(schedule="o") if x.trigger == "cron"], 30, 0.1, "a cron attempt")[0]
        r = run_cli("schedule", "run", "o", cwd=proj)
        assert r.returncode != 0 and f"already running: id {cron.id} in its history (cron" in r.stderr, r.stderr
        _idle(store, ["o"], proj, [p])
    finally:
        stop_daemon(p)
    spans = []
    for e in events(log):
        if e["ev"] == "start": spans.append([e["t"], None])
        elif e["ev"] == "end": spans[-1][1] = e["t"]
    assert len(spans) >= 2 and all(a[1] is not None and a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans
    assert {t for _, _, t in _attempts(store, "o")} == {"manual", "cron"} and {s for s, _, _ in _attempts(store, "o")} == {"succeeded"}


@pytest.mark.solo
def test_a_crashed_manual_run_blocks_its_schedule_for_one_lease_only(proj, monkeypatch):
    "The process of a manual run is SIGKILLed: its kernel dies, and the schedule runs again after one lease."
    monkeypatch.setenv("LLMOPS_PIPELINE_LEASE", "2")
    store = JobStore(f"sqlite:///{proj}/jobs.db")
    _add(store, proj, "x", first=True)
    store.set_paused("x", True)
    cli = subprocess.Popen([str(Path(sys.executable).parent / "llmops"), "schedule", "run", "x"], cwd=proj,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hang = wait(lambda: events(proj / "x.log", "hang"), 60, what="the manual run to start")[0]
    cli.kill(); cli.wait()
    wait(lambda: not alive(hang["pid"]), 15, what="its kernel to die")
    store.set_paused("x", False)
    p = daemon(proj, proj / "home", f"sqlite:///{proj}/jobs.db", lease=2)
    try:
        wait(lambda: any(s == "succeeded" for s, _, _ in _attempts(store, "x")), 30, what="a cron run after the lease")
        _idle(store, ["x"], proj, [p])
    finally:
        stop_daemon(p)
    assert _attempts(store, "x")[-1] == ("lost_lease", 1, "manual")


@pytest.mark.solo
def test_one_daemon_per_home(proj):
    "Two `scheduler start` at once start one daemon; another daemon refuses without the lock; `stop` leaves none."
    s = load_settings()
    exe = str(Path(sys.executable).parent / "llmops")
    starts = [subprocess.Popen([exe, "scheduler", "start", "--poll", "0.5"], cwd=proj, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in starts]
    try:
        assert [p.returncode for p in starts] == [0, 0]
        pid = D.status(s).pid
        assert all(f"PID {pid}" in o for o in outs), outs
        third = subprocess.run([sys.executable, "-c", D.MAIN], cwd=proj, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "LLMOPS_HOME": str(s.home)})
        assert third.returncode == 1 and "another scheduler holds" in third.stdout + third.stderr
        assert _daemons(s.home) == [pid]
    finally:
        st = D.stop(s)
    assert not st.running and _daemons(s.home) == []


def test_a_scheduler_an_older_kit_started_is_seen_stopped_and_never_doubled(proj):
    "An older kit's daemon wrote its PID file and held no lock: it read as not running, `stop` left it serving old code, `start` ran a second."
    import json
    from jupyter_llmops.errors import LLMOpsError
    s = load_settings()
    old = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)  # from jupyter_llmops.pipelines.scheduler import main; main()"])
    try:
        pidfile = D._paths(s)[0]; pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(json.dumps({"pid": old.pid, "owner": "vm:1:old", "started": time.time()}))
        wait(lambda: D.status(s).running, 30, 0.1, f"the older daemon to be seen: {Path(f'/proc/{old.pid}/cmdline').read_bytes()!r}")
        st = D.status(s)
        assert (st.running, st.pid, st.owner) == (True, old.pid, "vm:1:old (an older version of the kit)")
        with pytest.raises(LLMOpsError, match=f"a scheduler started by an older version of the kit runs as PID {old.pid}"): D.start(s)
        assert not D.stop(s).running and old.wait(30) == -signal.SIGTERM and _daemons(s.home) == []
    finally: old.kill()


def _daemons(home) -> list[int]:
    "The scheduler daemons of `home` that run on this machine."
    out = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and alive(int(p.name)) and D.MAIN.encode() in (p / "cmdline").read_bytes() \
                    and f"LLMOPS_HOME={home}".encode() in (p / "environ").read_bytes().split(b"\0"):
                out.append(int(p.name))
        except OSError: pass
    return out


@pytest.mark.solo
def test_manual_runs_in_the_background_are_bounded(proj, monkeypatch):
    "`schedule run --background` (the REST API, the panel): at most pipeline_parallel at once, as many waiting, then BusyError."
    monkeypatch.setenv("LLMOPS_PIPELINE_PARALLEL", "1")
    s = load_settings()
    store = JobStore(f"sqlite:///{proj}/jobs.db")
    for n in ("q1", "q2", "q3"): _add(store, proj, n)
    runs = [S.start_run("q1", s), S.start_run("q2", s)]
    with pytest.raises(BusyError, match="2 manual runs are running or waiting"): S.start_run("q3", s)
    assert [r.result(120).status for r in runs] == ["succeeded", "succeeded"]
    assert S.start_run("q3", s).result(120).ok
    spans = {n: (events(proj / f"{n}.log", "start")[0]["t"], events(proj / f"{n}.log", "end")[0]["t"]) for n in ("q1", "q2")}
    assert spans["q1"][1] <= spans["q2"][0] or spans["q2"][1] <= spans["q1"][0]  # one kernel at a time (pipeline_parallel 1)


@pytest.mark.solo
def test_timeouts_are_finite_and_capped(proj):
    from jupyter_llmops.commands import dispatch
    for t, says in [("1e400", "finite"), ("inf", "finite"), ("nan", "finite"), ("-5", "positive"), ("100000", "longer than pipeline_max_timeout"),
                    ("1e-300", "under a second"), ("0.5", "under a second")]:  # a REST probe: 1e-300 was stored, and every run timed out at once
        with pytest.raises(UsageError, match=says): dispatch(["schedule", "add", "t", "ev.ipynb", "--cron", "* * * * *", "--timeout", t])
        with pytest.raises(UsageError, match=says): dispatch(["run", "ev.ipynb", "--timeout", t])
    (proj / "p.yaml").write_text("steps: {a: {notebook: ev.ipynb}}\n")  # a pipeline's default step timeout: refused before any step, not by each
    with pytest.raises(UsageError, match="under a second") as e: dispatch(["run", "p.yaml", "--timeout", "0.5"])
    assert e.value.hint == "--timeout 600 (seconds, at least 1)"
    assert dispatch(["schedule", "list"]).schedules == []


def test_an_old_jobs_database_gets_autoincrement_and_keeps_its_history(tmp_path):
    """A jobs.db made before AUTOINCREMENT (INTEGER PRIMARY KEY alone): SQLite gave a removed newest attempt's id to the
    next attempt, and the daemon, which keys attempts by id, took the new one for the old (a lost id stays lost). Opened
    now, its runs table is copied into one with AUTOINCREMENT: the history kept, the indexes made again, no id reused."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateTable
    from jupyter_llmops.errors import ConflictError
    from jupyter_llmops.pipelines.store import _tables
    db = tmp_path / "jobs.db"
    with sqlite3.connect(db) as con:  # the runs table as an older version made it
        con.execute(str(CreateTable(_tables()[2]).compile(dialect=sqlite.dialect())).replace(" AUTOINCREMENT", ""))
        con.execute("INSERT INTO llmops_job_runs (id, schedule, tick, attempt, \"trigger\", status, due) VALUES (1, 'kept', 5.0, 1, 'cron', 'succeeded', 5.0)")
    store = JobStore(f"sqlite:///{db}")
    store.add("kept", str(tmp_path / "nb.ipynb"), str(tmp_path), "0 * * * *"); store.add("a", str(tmp_path / "nb.ipynb"), str(tmp_path), "0 * * * *")
    assert [r.status for r in store.history("kept")] == ["succeeded"]  # the old history is there
    assert store.claim_tick("kept", None, "me", 60, trigger="manual") is not None and store.claim_tick("kept", None, "me", 60, trigger="manual") is None
    old = store.claim_tick("a", None, "me", 60, trigger="manual")  # the newest attempt
    with pytest.raises(ConflictError): store.remove("a")  # the one-running-attempt rules hold on the copied table
    store.finish(old, "failed"); store.remove("a")
    store.add("b", str(tmp_path / "nb.ipynb"), str(tmp_path), "0 * * * *")
    assert store.claim_tick("b", None, "me", 60, trigger="manual") > old  # was `old` again: the removed attempt's id
