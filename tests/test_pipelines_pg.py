"The jobs store and the exactly-once claims on PostgreSQL (team mode): a throwaway server on loopback."
import os, shutil, socket, subprocess, tempfile, threading, time
from pathlib import Path
import pytest
from jupyter_llmops.config import load_settings
from jupyter_llmops.pipelines.runner import RunResult
from jupyter_llmops.pipelines.scheduler import Scheduler
from jupyter_llmops.pipelines.store import JobStore, prev_tick

PGBIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1] if list(Path("/usr/lib/postgresql").glob("*/bin")) else None


@pytest.fixture(scope="module")
def pg_url():
    if PGBIN is None: pytest.skip("PostgreSQL is not installed")
    pytest.importorskip("psycopg")
    d = Path(tempfile.mkdtemp(prefix="llmops-jobs-pg-"))
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0)); port = so.getsockname()[1]
    root = os.getuid() == 0
    as_pg = (lambda *a: ["runuser", "-u", "postgres", "--", *a]) if root else (lambda *a: list(a))
    if root: shutil.chown(d, "postgres"); d.chmod(0o755)
    subprocess.run(as_pg(str(PGBIN / "initdb"), "-D", str(d / "pg"), "-U", "jobs", "--auth=trust", "-E", "UTF8"), check=True, capture_output=True, timeout=120)
    subprocess.run(as_pg(str(PGBIN / "pg_ctl"), "-D", str(d / "pg"), "-l", str(d / "pg" / "server.log"), "-w", "-t", "60",
                         "-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1", "start"), check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://jobs@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_pg(str(PGBIN / "pg_ctl"), "-D", str(d / "pg"), "-m", "immediate", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.slow
def test_store_and_two_schedulers_on_postgresql(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMOPS_JOBS_DB", pg_url)
    s = load_settings(tmp_path)
    a, b = JobStore(settings=s), JobStore(settings=s)
    a.add("nightly", "/p/nb.ipynb", "/p", "0 2 * * *", "Europe/Paris", {"k": 5}, retries=1)
    t = prev_tick("0 2 * * *", "Europe/Paris", time.time())
    first = a.claim_tick("nightly", t, "A", lease=0.01)
    assert first and b.claim_tick("nightly", t, "B", lease=30) is None
    time.sleep(0.05)
    assert b.mark_expired(b.expired()[0], "lease expired")
    retry = b.queue_retry(first, due=time.time())
    assert (a.claim_queued("A", 30), b.claim_queued("B", 30)) == ([retry], [])
    a.finish(retry, "succeeded", "/out.ipynb")
    assert [(r.attempt, r.status) for r in b.history("nightly")] == [(2, "succeeded"), (1, "failed")]
    a.remove("nightly")
    ran, lock = [], threading.Lock()
    def runner(sch, row, settings):
        with lock: ran.append((row.tick, row.attempt))
        return RunResult(sch.notebook, "succeeded", "")
    a.add("busy", "/p/nb.ipynb", "/p", "* * * * * *")
    scheds = [Scheduler(s, poll=0.01, runner=runner, store=JobStore(settings=s)) for _ in range(2)]
    stop = threading.Event()
    for x in scheds: threading.Thread(target=x.serve, args=(stop,), daemon=True).start()
    time.sleep(3.5); stop.set(); time.sleep(0.3)
    assert len(ran) >= 2 and len(ran) == len(set(ran)), ran
