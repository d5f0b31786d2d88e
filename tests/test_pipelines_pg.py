"The jobs store on PostgreSQL (team mode): claims, the one-running-attempt rule and leases on the server's clock."
import time
from pathlib import Path
from jupyter_llmops.config import load_settings
from jupyter_llmops.pipelines.cron import prev_tick
from jupyter_llmops.pipelines.store import JobStore


def test_store_claims_and_leases_on_postgresql(postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMOPS_JOBS_DB", postgres.url("store"))
    s = load_settings(tmp_path)
    a, b = JobStore(settings=s), JobStore(settings=s)
    assert abs(a.now() - time.time()) < 5  # the server's clock (the same host here)
    a.add("nightly", "/p/nb.ipynb", "/p", "0 2 * * *", "Europe/Paris", {"k": 5}, retries=1)
    t = prev_tick("0 2 * * *", "Europe/Paris", a.now())
    first = a.claim_tick("nightly", t, "A", lease=0.2)
    assert first and b.claim_tick("nightly", t, "B", lease=30) is None
    assert b.claim_tick("nightly", None, "M", lease=30, trigger="manual") is None  # one running attempt per schedule
    assert b.heartbeat([first], "B", 30) == set() and a.heartbeat([first], "A", 0.2) == {first}
    time.sleep(0.4)
    assert a.heartbeat([first], "A", 30) == set()  # an expired lease is never renewed: it may be taken over
    assert [r.id for r in b.expired()] == [first] and b.mark_lost(first, "lease expired")
    retry = b.queue_retry(first, 0.0)
    assert (a.claim_queued("A", 30), b.claim_queued("B", 30)) == ([retry], [])
    assert not a.finish(first, "succeeded", only_if_running=True, owner="A")  # the lost attempt's result is dropped
    a.finish(retry, "succeeded", "/out.ipynb", only_if_running=True, owner="A")
    assert [(r.attempt, r.status) for r in b.history("nightly")] == [(2, "succeeded"), (1, "lost_lease")]
    manual = b.claim_tick("nightly", None, "M", lease=30, trigger="manual")
    assert manual and b.row(manual).tick > t


def test_a_kernel_outlives_a_stop_and_a_restart_of_the_jobs_database(postgres, tmp_path, monkeypatch):
    "A kernel and the REST server keep one engine: a restart is invisible, a stop is said as a new process says it (not SQLAlchemy's error and SQL)."
    import pytest
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.pipelines.store import JobsUnavailable
    monkeypatch.setenv("LLMOPS_JOBS_DB", postgres.url("outage"))
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    assert len(dispatch(["schedule", "list"])) == 0
    postgres.stop()
    try:
        with pytest.raises(JobsUnavailable, match=r"the jobs database server at postgresql\+psycopg://jobs@127.0.0.1:\d+/outage does not answer"):
            dispatch(["schedule", "list"])
    finally: postgres.start()
    assert len(dispatch(["schedule", "list"])) == 0  # the first command after the restart: its dead connection replaced


def test_a_jobs_database_that_refuses_or_never_answers_is_said_after_one_try(postgres, tmp_path):
    "A login refused is said as such (not 'does not answer, start it'); a host that never answers is tried once, not 20 times (211 s)."
    import socket, threading
    import pytest
    from jupyter_llmops.errors import ConfigError
    from jupyter_llmops.pipelines.store import JobsUnavailable
    with pytest.raises(ConfigError, match='refused: .*database "nosuch" does not exist'):
        JobStore(postgres.url("store").rsplit("/", 1)[0] + "/nosuch")
    srv, accepted = socket.create_server(("127.0.0.1", 0)), []
    def serve():  # accepts and never answers, as a host behind a firewall that drops packets
        while True:
            try: accepted.append(srv.accept()[0])
            except OSError: return
    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(JobsUnavailable, match="does not answer"):
            JobStore(f"postgresql+psycopg://u@127.0.0.1:{srv.getsockname()[1]}/jobs")
    finally: srv.close()
    assert len(accepted) == 1


def test_a_scheduler_started_before_its_database_waits_for_it(postgres, tmp_path, monkeypatch):
    "A reboot that starts the daemon before PostgreSQL: it waits and serves once the server is up (before: it exited for good, with a traceback)."
    from jupyter_llmops.pipelines import daemon
    monkeypatch.setenv("LLMOPS_JOBS_DB", postgres.url("boot"))
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    s = load_settings(tmp_path)
    def until(ok, what, limit=90):
        end = time.time() + limit
        while not ok():
            assert time.time() < end, what
            time.sleep(0.2)
    postgres.stop()
    try:
        pid = daemon.start(s)
        log = lambda: Path(daemon.status(s).log).read_text() if Path(daemon.status(s).log).exists() else ""
        until(lambda: "does not answer" in log() and "trying again in" in log(), "the daemon to say it waits")
        assert daemon.status(s).pid == pid and "Traceback" not in log()
    finally: postgres.start()
    try: until(lambda: daemon.status(s).owner, "the daemon to serve once PostgreSQL is up")
    finally: daemon.stop(s)
    assert "serving postgresql+psycopg://jobs@127.0.0.1" in log()
