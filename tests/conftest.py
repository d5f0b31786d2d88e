"Shared test setup: offline, and one throwaway kit home for the whole session (the model copy is made once)."
import os, shutil, sys, tempfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOME = Path(tempfile.mkdtemp(prefix="llmops-test-home-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["MLFLOW_MODEL_CATALOG_URI"] = ""  # offline, as the kit sets it (mlstore.connect): tests call MLflow directly too
os.environ["LLMOPS_HOME"] = str(HOME)
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers side by side: each, with every kernel, daemon and server it starts, keeps to
    # one core and one thread, so that two torch processes never fight over both cores (oversubscribed, a training
    # test ran 5x slower than alone).
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[int(os.environ["PYTEST_XDIST_WORKER"].lstrip("gw") or 0) % len(cores)]})
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
            os.environ[k] = "false" if k == "TOKENIZERS_PARALLELISM" else "1"
HEAVY = ["torch", "transformers", "trl", "llama_index", "faiss", "mlflow", "papermill", "dask"]


# The files whose tests take minutes (the showcase, two daemons racing for ticks, trainings, Dask, the team's servers),
# longest first, ahead of the rest: with `--no-loadscope-reorder` (Makefile) the two workers take files in this order,
# so the last file either starts is a short one. xdist's own order (by test count) started the scheduler's four
# minutes of races, the fourth-longest file, among the last, and one worker waited for the other.
LONGEST_FIRST = ["test_hostile.py", "test_faults_scheduler.py", "test_train.py", "test_pipelines.py", "test_tracking_team.py",
                 "test_routing.py", "test_faults_rag.py", "test_rag.py", "test_shipped_pipelines.py", "test_hallucination.py", "test_prompts.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests, and the other files, as collected


def pytest_unconfigure(config):
    shutil.rmtree(HOME, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    "Under CI=true a skipped test fails the run, with the reasons: a promise whose test did not run is not proven."
    if os.environ.get("CI", "").lower() != "true": return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = (tr.stats.get("skipped", []) if tr else [])
    if not skipped: return
    if tr:
        tr.write_sep("=", f"CI=true: {len(skipped)} skipped test(s) fail the run", red=True)
        for rep in skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            tr.write_line(f"SKIPPED {rep.nodeid}: {reason}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def apt_install(package: str, found) -> None:
    "Install Debian's `package` now (as root) when `found()` says `make install` has not: looked for when a test needs it."
    import subprocess
    if found(): return
    if os.getuid() != 0: pytest.fail(f"{package} is not installed: run `make install` (it installs Debian's {package})")
    subprocess.run(f"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}", shell=True,
                   check=True, capture_output=True, timeout=900)


def pg_bin() -> Path:
    "The bin folder of Debian's PostgreSQL, installed now when it is missing."
    initdb = lambda: sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    apt_install("postgresql", initdb)
    return initdb()[-1].parent


@pytest.fixture(scope="session")
def postgres():
    "A throwaway PostgreSQL server on loopback (user `jobs`, trust): `.url(db)` gives a SQLAlchemy URL of a new database."
    import socket, subprocess, tempfile
    from types import SimpleNamespace
    import psycopg
    pgbin = pg_bin()
    d = Path(tempfile.mkdtemp(prefix="llmops-pg-"))
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0)); port = so.getsockname()[1]
    root = os.getuid() == 0
    as_pg = (lambda *a: ["runuser", "-u", "postgres", "--", *a]) if root else (lambda *a: list(a))
    if root: shutil.chown(d, "postgres"); d.chmod(0o755)
    subprocess.run(as_pg(str(pgbin / "initdb"), "-D", str(d / "pg"), "-U", "jobs", "--auth=trust", "-E", "UTF8"), check=True, capture_output=True, timeout=120)
    made = []
    ctl = lambda *a: subprocess.run(as_pg(str(pgbin / "pg_ctl"), "-D", str(d / "pg"), "-l", str(d / "pg" / "server.log"), "-w", "-t", "60", *a),
                                    check=True, capture_output=True, timeout=120)
    start = lambda: ctl("-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")
    start()
    def url(db: str) -> str:
        if db not in made:
            with psycopg.connect(f"host=127.0.0.1 port={port} user=jobs dbname=postgres", autocommit=True) as c: c.execute(f'CREATE DATABASE "{db}"')
            made.append(db)
        return f"postgresql+psycopg://jobs@127.0.0.1:{port}/{db}"
    try:
        yield SimpleNamespace(url=url, port=port, start=start, stop=lambda: ctl("-m", "fast", "stop"))  # a test that stops it starts it again
    finally:
        subprocess.run(as_pg(str(pgbin / "pg_ctl"), "-D", str(d / "pg"), "-m", "immediate", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def home() -> Path:
    return HOME


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    "A project folder with its own settings.ini, as the working directory."
    (tmp_path / "settings.ini").write_text("[llmops]\n# my project\nllm = local\nexperiment = proj\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(*args, cwd=None, env=None, timeout=600):
    "Run the installed `llmops` command."
    import subprocess
    exe = Path(sys.executable).parent / "llmops"
    return subprocess.run([str(exe), *args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def webhook():
    "A webhook served on loopback: `.url`, and `.got`, the JSON bodies POSTed to it."
    import json, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from types import SimpleNamespace
    got = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204); self.end_headers()

        def log_message(self, *a): pass

    srv = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{srv.server_port}", got=got)
    srv.shutdown()


def chat_server(answer):
    """A fake OpenAI-compatible chat server on loopback, for tests of the plumbing around a model call: `answer(prompt,
    body)` gives (status, text, or bytes sent as they are) for the last message. Returns (base URL .../v1, the list of
    (path, prompt) of every request, the server to shut down)."""
    import json, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen = []
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body["messages"][-1]["content"]))
            status, text = answer(body["messages"][-1]["content"], body)
            out = text if isinstance(text, bytes) else json.dumps(
                {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(text.split()))}}).encode()
            self.send_response(status); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}/v1", seen, srv
