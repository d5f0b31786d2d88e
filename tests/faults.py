"Helpers of the fault-injection tests: notebooks that log what really ran, scheduler daemons as real processes, waits."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import nbformat

EVENTS = '''import json, os, time
def _ev(kind, **kw):
    with open(log, "a") as f: f.write(json.dumps({"ev": kind, "tag": tag, "pid": os.getpid(), "t": time.time(), **kw}) + "\\n")
_ev("start")
if first and not os.path.exists(log + ".first"):
    open(log + ".first", "w").close(); _ev("hang"); time.sleep(600)  # the first attempt hangs until it is killed
time.sleep(sleep)
_ev("end")'''


def event_notebook(path: Path) -> Path:
    "A notebook that appends start / hang / end events (with its kernel's pid and the time) to the file `log`."
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("log = ''\ntag = ''\nsleep = 0.0\nfirst = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(EVENTS)]
    nbformat.write(nb, path)
    return path


def events(log: Path, kind: str | None = None) -> list[dict]:
    "The events a notebook logged (complete lines only)."
    if not Path(log).exists(): return []
    out = [json.loads(l) for l in Path(log).read_text().splitlines() if l.endswith("}")]
    return [e for e in out if kind is None or e["ev"] == kind]


def wait(cond, timeout: float, step: float = 0.2, what: str = ""):
    "Poll `cond` until it returns something true (returned); AssertionError after `timeout` seconds."
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v: return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what or cond}")


def proc_state(pid: int) -> str | None:
    "Process `pid`'s state letter in /proc (R running, S sleeping, D in I/O, T stopped, Z zombie), or None when it is gone."
    try: return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError: return None


def alive(pid: int) -> bool:
    "Whether process `pid` exists and is not a zombie."
    return proc_state(pid) not in (None, "Z")


def daemon(project: Path, home: Path, jobs_db: str, lease: float = 3.0, poll: float = 0.2, clock_offset: float = 0.0,
           parallel: int = 2) -> subprocess.Popen:
    "A scheduler daemon as its own process (its own home, a shared jobs database); `clock_offset` fakes its process clock."
    fake = f"import time; _t = time.time; time.time = lambda: _t() + {clock_offset!r}\n" if clock_offset else ""
    from jupyter_llmops.pipelines.daemon import MAIN
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LLMOPS_HOME": str(home), "LLMOPS_JOBS_DB": jobs_db, "LLMOPS_PIPELINE_PARALLEL": str(parallel),
           "LLMOPS_TRACKING_URI": os.environ.get("LLMOPS_TRACKING_URI") or f"sqlite:///{os.environ['LLMOPS_HOME']}/mlflow.db"}  # one MLflow store
    out = open(home / "daemon.log", "ab")
    return subprocess.Popen([sys.executable, "-c", fake + MAIN, "--poll", str(poll), "--lease", str(lease)], cwd=project, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_daemon(p: subprocess.Popen, timeout: float = 30):
    "SIGTERM (then SIGKILL) a daemon started by `daemon`, SIGCONT first in case it was stopped."
    if p.poll() is None:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try: os.kill(p.pid, sig)
            except ProcessLookupError: pass
        try: p.wait(timeout)
        except subprocess.TimeoutExpired: p.kill(); p.wait(10)


def daemon_log(home: Path) -> str:
    return (home / "daemon.log").read_text(errors="replace") if (home / "daemon.log").exists() else ""
