"""Hostile and broken input (issue 19): secrets stay bound to their destination and out of every sink; every damaged
file or bad argument is a clear error that names the file, line or field; the REST API is a Jupyter citizen."""
import json, os, shutil, sqlite3, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
import nbformat
import pytest
from conftest import run_cli

KEY, LOCAL_KEY, PW = "sk-hostile0123456789abcdefXYZ", "sk-localkey0123456789abcdefQ", "Pa55/w@rd-hostile"


def _serve(handler_cls):
    srv = HTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def llm_server():
    "An OpenAI-compatible server on loopback that records each request; `.redirect_to` makes it answer 302 instead."
    seen = []
    box = SimpleNamespace(seen=seen, redirect_to=None)

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({"port": self.server.server_port, "path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            if box.redirect_to and self.server is srv:
                self.send_response(302); self.send_header("Location", box.redirect_to + self.path); self.end_headers(); return
            out = json.dumps({"choices": [{"message": {"content": "Paris"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(out)))
            self.end_headers(); self.wfile.write(out)

        def log_message(self, *a): pass

    srv, other = _serve(H), _serve(H)
    box.url, box.other = f"http://127.0.0.1:{srv.server_port}/v1", f"http://127.0.0.1:{other.server_port}"
    yield box
    srv.shutdown(); other.shutdown()


@pytest.fixture
def st(tmp_path, monkeypatch):
    "Settings of a throwaway project."
    from jupyter_llmops.config import load_settings
    (tmp_path / "settings.ini").write_text("[llmops]\nexperiment = hostile\n")
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    return load_settings(tmp_path)


# -- secrets bound to their destination

def test_a_key_never_travels_in_clear_text_to_another_machine(st, monkeypatch):
    from jupyter_llmops.llm import complete
    from jupyter_llmops.net import InsecureDestination
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(InsecureDestination, match="plain http to another machine"):
        complete("hi", "openai:gpt-4o-mini@http://198.51.100.7/v1", settings=st, record=False)  # TEST-NET: refused before any packet


def test_a_redirect_never_carries_the_key_elsewhere(st, llm_server, monkeypatch):
    from jupyter_llmops.errors import LLMOpsError
    from jupyter_llmops.llm import complete
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    llm_server.redirect_to = llm_server.other
    with pytest.warns(UserWarning, match="plain http"), pytest.raises(LLMOpsError, match="redirect"):
        complete("hi", f"openai:m@{llm_server.url}", settings=st, record=False)
    assert [s["port"] for s in llm_server.seen] == [int(llm_server.url.split(":")[2].split("/")[0])]  # nothing reached the other port


def test_keys_are_bound_to_their_servers(st, llm_server, monkeypatch):
    from jupyter_llmops.llm import complete
    monkeypatch.setenv("OPENAI_API_KEY", KEY); monkeypatch.setenv("LOCAL_KEY", LOCAL_KEY)
    bound_elsewhere = st.updated(openai_keys="https://api.openai.com/v1=OPENAI_API_KEY")
    assert complete("hi", f"openai:m@{llm_server.url}", settings=bound_elsewhere, record=False).text == "Paris"
    assert llm_server.seen[-1]["auth"] is None  # OPENAI_API_KEY is bound to OpenAI: the local server does not get it
    bound_here = st.updated(openai_keys=f"{llm_server.url}=LOCAL_KEY, https://api.openai.com/v1=OPENAI_API_KEY")
    complete("hi", f"openai:m@{llm_server.url}", settings=bound_here, record=False)
    assert llm_server.seen[-1]["auth"] == f"Bearer {LOCAL_KEY}"


def test_the_mlflow_token_is_refused_over_plain_http_to_another_machine(st, monkeypatch):
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.net import InsecureDestination
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", KEY)
    with pytest.raises(InsecureDestination, match="MLFLOW_TRACKING_TOKEN"):
        connect(st.updated(tracking_uri="http://198.51.100.7:5000"))


def test_settings_above_the_project_or_writable_by_others_are_ignored(tmp_path):
    (tmp_path / "settings.ini").write_text(f"[llmops]\nllm = openai:m@http://attacker.invalid/v1\nalert_webhook = https://attacker.invalid/{PW}\n")
    proj = tmp_path / "proj"; (proj / ".git").mkdir(parents=True); (proj / "nbs").mkdir()
    r = run_cli("config", cwd=proj / "nbs", env={"HOME": str(tmp_path / "nohome")})
    assert r.returncode == 0 and "llm " in r.stdout and "local" in r.stdout.split("llm ", 1)[1].splitlines()[0]
    assert f"the search stopped at {proj} (it holds .git)" in r.stdout and "attacker" not in r.stdout
    (proj / "settings.ini").write_text("[llmops]\nexperiment = mine\n"); (proj / "settings.ini").chmod(0o666)
    r = run_cli("config", cwd=proj / "nbs", env={"HOME": str(tmp_path / "nohome")})
    assert "others may write to it" in r.stdout and "mine" not in r.stdout


# -- redaction at every sink

KERNEL = {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}}
SECRET_NB = nbformat.v4.new_notebook(metadata=KERNEL, cells=[
    nbformat.v4.new_code_cell("api_key = ''\npassword = ''\nrows = 2", metadata={"tags": ["parameters"]}),
    nbformat.v4.new_code_cell("import hashlib, jupyter_llmops as k, pathlib\n"
                              "k.glue('key_sha', hashlib.sha256(api_key.encode()).hexdigest()[:12])\n"
                              "k.glue('pw_len', len(password))\n"
                              "k.glue('data', pathlib.Path('data.csv').read_text().strip())\n"
                              "print('using', rows, 'rows')")])


def test_secret_parameters_never_reach_the_output_notebook(st, tmp_path):
    import hashlib
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.pipelines.runner import run_notebook
    elsewhere = tmp_path / "elsewhere"; elsewhere.mkdir()  # outside the project: the CLI and magic run it anyway
    nbformat.write(SECRET_NB, elsewhere / "job.ipynb"); (elsewhere / "data.csv").write_text("a,b\n")
    r = run_notebook(str(elsewhere / "job.ipynb"), {"api_key": KEY, "password": PW, "rows": 7}, settings=st)
    assert r.status == "succeeded", r.error
    assert r.glue == {"key_sha": hashlib.sha256(KEY.encode()).hexdigest()[:12], "pw_len": len(PW), "data": "a,b"}  # the kernel got them; cwd = its folder
    assert r.params == {"api_key": "***", "password": "***", "rows": 7}
    for f in (r.output_path, r.html_path):
        text = Path(f).read_text()
        assert KEY not in text and PW not in text and "using 7 rows" in text
    params = connect(st).MlflowClient().get_run(r.run_id).data.params
    assert params["api_key"] == "***" and params["rows"] == "7"
    # its output notebook run again (a probe: KeyError from the first run's secrets cell, with or without the secret),
    # and two parameters whose names differ in case only (both read one environment variable)
    shutil.copy(r.output_path, elsewhere / "again.ipynb")
    again = run_notebook(str(elsewhere / "again.ipynb"), {"api_key": "other-" + KEY, "password": PW}, settings=st)
    assert again.status == "succeeded" and again.glue["key_sha"] == hashlib.sha256(("other-" + KEY).encode()).hexdigest()[:12], again.error
    bare = run_notebook(str(elsewhere / "again.ipynb"), {"password": PW}, settings=st)
    assert bare.status == "succeeded" and bare.glue["pw_len"] == len(PW), bare.error  # the secret given this time, read from its own cell
    nbformat.write(nbformat.v4.new_notebook(metadata=KERNEL, cells=[
        nbformat.v4.new_code_cell("api_key = ''\nAPI_KEY = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import hashlib, jupyter_llmops as k; k.glue('both', [hashlib.sha256(x.encode()).hexdigest()[:12] for x in (api_key, API_KEY)])")]),
        elsewhere / "two.ipynb")
    two = run_notebook(str(elsewhere / "two.ipynb"), {"api_key": KEY, "API_KEY": PW}, settings=st)
    assert two.status == "succeeded" and two.glue["both"] == [hashlib.sha256(x.encode()).hexdigest()[:12] for x in (KEY, PW)], two.error


FAILING_NB = nbformat.v4.new_notebook(metadata=KERNEL, cells=[nbformat.v4.new_code_cell(
    f"raise ValueError('cannot connect to postgresql://app:{PW}@db.internal/prod with token={KEY}')")])


def test_failure_text_is_redacted_in_every_sink(st, tmp_path, webhook):
    import logging
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.pipelines import daemon as D, scheduler as S
    s = st.updated(pipeline_webhook=f"{webhook.url}/hook/{'A1b2C3d4' * 4}")
    nbformat.write(FAILING_NB, tmp_path / "fail.ipynb")
    S.add_schedule("leaky", str(tmp_path / "fail.ipynb"), "0 3 * * *", settings=s)
    res = S.run_now("leaky", settings=s)
    assert res.status == "failed" and PW not in res.error and KEY not in res.error and "ValueError" in res.error
    row = S.history("leaky", settings=s)[0]
    assert row.status == "failed" and PW not in row.error and KEY not in row.error and "postgresql://app:***@db.internal" in row.error
    tags = connect(s).MlflowClient().get_run(res.run_id).data.tags
    assert "ValueError" in tags["llmops.error"] and PW not in tags["llmops.error"] and KEY not in tags["llmops.error"]
    sent = json.dumps(webhook.got)
    assert webhook.got and "ValueError" in sent and PW not in sent and KEY not in sent
    line = D.RedactingFormatter("%(message)s").format(logging.LogRecord("x", logging.INFO, "f", 1, "run 3 failed: %s", (row.error + " " + KEY,), None))
    assert KEY not in line and "***" in line


def test_prompt_eval_logs_the_llm_spec_redacted(st, tmp_path, llm_server):
    from jupyter_llmops import prompts
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.prompt_eval import evaluate
    prompts.register("cap", "Capital of {{country}}?", "v1", settings=st)
    (tmp_path / "cases.jsonl").write_text('{"country": "France", "expected": "Paris"}\n')
    spec = f"openai:m@{llm_server.url}?token=tok3n-hostile-value"  # a server that takes its credential in the URL
    r = evaluate("cap", [1], tmp_path / "cases.jsonl", ["contains"], llm=spec, settings=st)
    run = connect(st).MlflowClient().get_run(r.run_id)
    assert run.data.params["llm"].endswith("?token=***") and "tok3n-hostile-value" not in json.dumps(run.data.params)
    assert r.summary.loc[1, "contains"] == 1.0  # the call itself went through


# -- bad input: a clear error naming the file, line or field, no traceback

@pytest.fixture
def project(project, monkeypatch):
    "The shared project fixture with a kit home of its own: the damaged files written here must not reach other tests."
    monkeypatch.setenv("LLMOPS_HOME", str(project / ".home"))
    return project


def _cli_error(args, cwd, env=None):
    r = run_cli(*args, cwd=cwd, env=env)
    assert "Traceback" not in r.stderr and "Hint:" in r.stderr, r.stderr
    return r


def test_broken_files_and_arguments_are_explained(tmp_path, project):
    from jupyter_llmops.config import load_settings
    s = load_settings(project)
    home = s.home
    (home / "routes").mkdir(parents=True)
    (home / "routes" / "r1.json").write_text(json.dumps({"name": "r1", "models": ["local", "local"], "policy": "rules", "colour": "red"}))
    r = _cli_error(["route", "show", "r1"], project)
    assert r.returncode == 2 and "r1.json: unknown field(s) colour" in r.stderr
    (project / "p.yaml").write_text("steps: {a: {notebook: a.ipynb, needs: 5}}\n")
    nbformat.write(nbformat.v4.new_notebook(), project / "a.ipynb")
    r = _cli_error(["run", "p.yaml"], project)
    assert r.returncode == 2 and "p.yaml: step a: needs must be a step name or a list" in r.stderr
    (project / "p.yaml").write_text("parallel: x\nsteps: {a: {notebook: a.ipynb, params: [1]}}\n")
    assert "parallel must be a whole number" in _cli_error(["run", "p.yaml"], project).stderr
    (home / "feedback" / "fb").mkdir(parents=True); (home / "feedback" / "fb" / "session.json").write_text('{"mode": "models", "sou')
    r = _cli_error(["feedback", "fb"], project)
    assert r.returncode == 2 and "session.json: damaged" in r.stderr
    r = _cli_error(["runs", "--metric", "a` DESC"], project)
    assert r.returncode == 2 and "bad metric name" in r.stderr
    r = _cli_error(["status"], project, env={"LLMOPS_COSTS": "local=nan"})
    assert r.returncode == 2 and "env LLMOPS_COSTS: costs: bad costs entry" in r.stderr
    (project / "bad.db").write_bytes(b"this is not a database " * 200)
    r = _cli_error(["schedule", "list"], project, env={"LLMOPS_JOBS_DB": f"sqlite:///{project / 'bad.db'}"})
    assert r.returncode == 2 and "cannot be used" in r.stderr and "bad.db" in r.stderr and "damaged or not a jobs database" in r.stderr
    r = _cli_error(["runs"], project, env={"LLMOPS_TRACKING_URI": f"sqlite:///{project / 'bad.db'}"})  # was "unexpected DatabaseError"
    assert r.returncode == 2 and f"the MLflow store {project / 'bad.db'} is damaged, or not an SQLite file" in r.stderr, r.stderr
    r = _cli_error(["schedule", "add", "a b'c", "a.ipynb", "--cron", "0 2 * * *"], project)
    assert r.returncode == 2 and "bad schedule name" in r.stderr
    (project / "empty.csv").write_text(""); (project / "ok.csv").write_text("x\n1\n2\n")
    (project / "fake.parquet").write_text("x\n1\n")
    for bad in ("empty.csv", "fake.parquet"):  # pandas' and pyarrow's errors: the file named, not an unexpected error
        r = _cli_error(["drift", bad, "ok.csv"], project)
        assert r.returncode == 2 and f"{bad}: cannot be read as" in r.stderr, r.stderr
    (project / "dup.csv").write_text("x,x,y\n1,2,3\n4,5,6\n")  # a probe: pandas read the second x as x.1, "only in the current data"
    r = _cli_error(["drift", "ok.csv", "dup.csv"], project)
    assert r.returncode == 2 and "dup.csv: the column name(s) 'x' appear more than once in its header" in r.stderr, r.stderr
    os.mkfifo(project / "ff.csv")  # a probe: "ff.csv: no such file" for a FIFO that is there
    r = _cli_error(["drift", "ff.csv", "ok.csv"], project)
    assert r.returncode == 2 and "ff.csv: not a regular file (a FIFO" in r.stderr, r.stderr
    for argv in (["run", "x" * 5000], ["cache", "eval", "--data", "q" * 300 + ".jsonl"], ["rag", "build", "kb", "d" * 300]):
        r = _cli_error(argv, project)  # a name no file system takes: the fix, not OSError's traceback
        assert r.returncode == 2 and "path is too long for the file system" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_one_damaged_index_does_not_hide_the_others(project):
    from jupyter_llmops import rag
    from jupyter_llmops.config import load_settings
    s = load_settings(project)
    (project / "docs").mkdir(); (project / "docs" / "a.md").write_text("# A\n\nMLOps runs models in production.\n")
    rag.build("good", [str(project / "docs")], settings=s, progress=False)
    for name, manifest in [("listy", "[1, 2]"), ("countless", json.dumps({"format": 1, "version": 1, "files": {}}))]:
        (s.path("indexes", name)).mkdir(parents=True)
        (s.path("indexes", name, "manifest.json")).write_text(manifest)
    df = rag.list_indexes(s).set_index("name")
    assert df.loc["good", "index"] == "flat" and df.loc["good", "chunks"] == 1
    assert "<td>1</td>" in df._repr_html_() and "1.0" not in df._repr_html_() + df.to_string()  # a notebook's table, the CLI's: beside the damaged rows' NaN, every count read 1.0
    assert df.loc["listy", "index"] == "damaged" and "unknown format" in df.loc["listy", "problem"]
    assert df.loc["countless", "index"] == "damaged" and "field 'counts'" in df.loc["countless", "problem"]
    r = run_cli("rag", "list", cwd=project)
    assert r.returncode == 0 and "good" in r.stdout and "damaged" in r.stdout



# -- text from data never becomes markup: JupyterLab does not sanitise HTML that the user's own kernel printed

BAD = ['<img src=x onerror=alert(1)>', '"><script>alert(1)</script>', "x' onerror='alert(1)", "javascript:alert(1)"]


def _inert(html: str) -> bool:
    "No tag, attribute or link of the hostile strings survives in `html` as markup."
    return not any(t in html for t in ("<img src=x", "<script>alert", "' onerror=", "href='javascript:", 'href="javascript:'))


def test_text_from_data_is_escaped_in_every_html_view(st, tmp_path, monkeypatch):
    "Each view that once let one of these through, fed them from where they come: CSV headers, run names and params, a"
    " registry's prompt names, model specs in alerts, an index's manifest and chunks, output paths."
    import pandas as pd
    from jupyter_llmops import prompts, tracking
    from jupyter_llmops.ask import Answer
    from jupyter_llmops.display import img_html
    from jupyter_llmops.drift import drift
    from jupyter_llmops.mlstore import connect, ensure_experiment
    from jupyter_llmops.panels import monitor, pipelines, rag as rag_panels
    from jupyter_llmops.panels.prompts import PromptsModel
    from jupyter_llmops.rag import Hit, QueryResult
    from jupyter_llmops.usage import Usage
    bad = BAD[0]
    views = {}
    ref, cur = pd.DataFrame({b: [1.0, 2, 3, 4] for b in BAD}), pd.DataFrame({b: [9.0, 9, 9, 8] for b in BAD})
    views["drift (CSV headers)"] = drift(ref, cur, log=False)._repr_html_()
    mlflow, eid = connect(st), ensure_experiment("hostile", st)  # not mlflow.set_experiment: it leaves MLFLOW_EXPERIMENT_ID set for later tests
    ids = []
    for b in BAD[:3]:
        with mlflow.start_run(experiment_id=eid, run_name=b) as r: mlflow.log_param("lr", b); mlflow.log_metric("m", 1.0); ids.append(r.info.run_id)
    views["compare (run names, params)"] = tracking.compare(ids, "hostile", st)._repr_html_()
    views["run view"] = tracking.get_run(ids[0], "hostile", st)._repr_html_()
    pm = PromptsModel(st); pm.prompt, pm.version_a, pm.version_b, pm.templates = bad, 1, 2, {1: "hello {{x}}", 2: "hi {{x}}"}
    views["prompt panel diff (a registry's name)"] = pm.diff_html()
    views["prompt diff"] = prompts.PromptDiff(bad, 1, 2, "a", "b")._repr_html_()
    alerts = [{"group": f"openai:{bad}", "metric": "error_rate", "value": 1.0, "threshold": 0.1}]
    views["monitor alerts (a model spec)"] = monitor.alerts_html(alerts)
    mm = monitor.MonitorModel(st); mm.since, mm.calls, mm.summary = bad, 1, [{"group": bad, "calls": 1}]
    views["monitor dashboard"] = monitor.dashboard_html(mm)
    hit = Hit(bad, 0.5, bad, bad, bad, bad, 1)
    views["rag query (chunks.jsonl)"] = QueryResult(bad, "what img src", "hybrid", [hit])._repr_html_()
    views["rag panel hits"] = rag_panels.hits_html([{"rank": 1, "score": 0.5, "source": bad, "start": bad, "heading": bad, "text": bad}], "img src")
    rm = rag_panels.RagModel(st); rm.indexes = [dict(name="docs", version=1, files=1, chunks=1, index=bad, model="m", built=BAD[1])]
    views["rag panel index table (manifest)"] = rag_panels.rag_panel(model=rm).children[1].value
    views["ask sources"] = Answer(bad, Usage(), 0.1, 0.0, [{"n": bad, "source": bad, "start": bad}], model=bad, prompt=(bad, bad))._repr_html_()
    views["image given as text"] = img_html(BAD[2])
    monkeypatch.chdir(tmp_path); (tmp_path / "javascript:alert(1)").write_text("{}")
    views["pipelines panel link (an output path)"] = pipelines._link(str(tmp_path / "javascript:alert(1)"), "notebook")
    live = [name for name, html in views.items() if not _inert(html)]
    assert live == [], {name: views[name][:300] for name in live}
    assert "&lt;img src=x" in views["drift (CSV headers)"] and "&lt;img src=x" in views["compare (run names, params)"]  # shown, as text

# -- the REST API as a Jupyter citizen

pytest_plugins = ["pytest_jupyter.jupyter_server"]
DENY: set = set()  # actions the test authorizer refuses


def _authorizer():
    from jupyter_server.auth.authorizer import Authorizer

    class Partial(Authorizer):
        "Allows everything but the actions in DENY (a read-only identity: DENY = {'write', 'execute'})."
        def is_authorized(self, handler, user, action, resource): return action not in DENY
    return Partial


@pytest.fixture
def rest_root(tmp_path_factory, webhook):
    root, home = tmp_path_factory.mktemp("hostile-root"), tmp_path_factory.mktemp("hostile-home")
    (root / "settings.ini").write_text(f"[llmops]\nexperiment = rest\nalert_error_rate = 0\nalert_webhook = {webhook.url}/alerts/{'Zz9' * 9}\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, root / "ok.ipynb")
    (root / ".hidden").mkdir(); nbformat.write(nb, root / ".hidden" / "h.ipynb")
    mp = pytest.MonkeyPatch(); mp.setenv("LLMOPS_HOME", str(home))
    yield SimpleNamespace(root=root, home=home, webhook=webhook)
    mp.undo(); DENY.clear()


@pytest.fixture
def jp_root_dir(rest_root): return rest_root.root


@pytest.fixture
def jp_server_config():
    from traitlets.config import Config
    return Config({"ServerApp": {"jpserver_extensions": {"jupyter_llmops": True}, "authorizer_class": _authorizer()}})


async def _call(jp_fetch, method, *parts, body=None):
    r = await jp_fetch("llmops", "api", *parts, method=method, raise_error=False, allow_nonstandard_methods=True,
                       body=json.dumps(body) if body is not None else ("{}" if method == "POST" else None))
    return r.code, json.loads(r.body.decode())


async def test_a_read_only_identity_reads_but_cannot_schedule_or_run(jp_fetch, rest_root):
    DENY.update({"write", "execute"})
    code, st = await _call(jp_fetch, "GET", "status")
    assert code == 200 and st["settings"]["alert_webhook"].endswith("/***")  # the webhook's secret path is masked
    code, err = await _call(jp_fetch, "POST", "schedules", body={"name": "n1", "notebook": "ok.ipynb", "cron": "0 2 * * *"})
    assert code == 403 and err["error"] == "LLMOpsError" and "resource 'llmops'" in err["hint"]
    code, err = await _call(jp_fetch, "POST", "scheduler", body={"action": "start"})
    assert code == 403


async def test_hidden_notebooks_are_refused_as_jupyter_refuses_them(jp_fetch, rest_root):
    code, err = await _call(jp_fetch, "POST", "schedules", body={"name": "h1", "notebook": ".hidden/h.ipynb", "cron": "0 2 * * *"})
    assert code == 403 and "hidden" in err["message"]
    code, _ = await _call(jp_fetch, "POST", "schedules", body={"name": "ok1", "notebook": "ok.ipynb", "cron": "0 2 * * *"})
    assert code == 201


async def test_a_slow_call_does_not_stall_the_api(jp_fetch, rest_root, monkeypatch):
    import asyncio
    from jupyter_llmops import status
    real = status.get_status
    monkeypatch.setattr(status, "get_status", lambda s=None: (time.sleep(3), real(s))[1])
    done = []
    async def get(path):
        await _call(jp_fetch, "GET", path); done.append(path)
    await asyncio.gather(get("status"), get("scheduler"))
    assert done == ["scheduler", "status"]  # the quick call answered while the slow one ran


async def test_one_engine_per_jobs_database(jp_fetch, rest_root):
    for _ in range(60): assert (await _call(jp_fetch, "GET", "schedules"))[0] == 200
    fds = [os.readlink(f"/proc/self/fd/{f}") for f in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{f}")]
    mine = str(rest_root.home / "jobs.db")
    assert sum(p == mine for p in fds) <= 2, [p for p in fds if "jobs.db" in p]  # was one more handle per request


async def test_monitor_reads_without_sending_and_alerts_once(jp_fetch, rest_root):
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.recorder import RECORDER, flush
    s = load_settings(rest_root.root)
    now = time.time_ns()
    RECORDER.submit(s, dict(model="local", messages=[{"role": "user", "content": "hi"}], text=None, start_ns=now, end_ns=now + 10**6, error="Boom"))
    flush()
    code, m = await _call(jp_fetch, "GET", "monitor")
    assert code == 200 and m["alerts"] and rest_root.webhook.got == []
    runs = connect(s).search_runs(search_all_experiments=True, filter_string="tags.`llmops.kind` = 'monitor-alert'")
    assert len(runs) == 0
    code, a = await _call(jp_fetch, "POST", "monitor", "alerts", body={"since": "1h"})
    assert code == 200 and a["sent"] is True and len(rest_root.webhook.got) == 1
    code, a = await _call(jp_fetch, "POST", "monitor", "alerts", body={"since": "1h"})
    assert code == 200 and a["sent"] is False and len(rest_root.webhook.got) == 1  # the same alert, once an hour


async def test_an_unexpected_failure_is_json_with_a_hint(jp_fetch, rest_root, monkeypatch):
    from jupyter_llmops import status
    monkeypatch.setattr(status, "get_status", lambda s=None: {}["boom"])
    code, err = await _call(jp_fetch, "GET", "status")
    assert code == 500 and err["error"] == "LLMOpsError" and "KeyError" in err["message"] and "log" in err["hint"]
    assert "Unhandled error" not in json.dumps(err)


SHAPELESS = {"private_key": "-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "access_key": "qZ7mW3kP9vT2xR8nL4bY6cF1hJ5dGa",
             "key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "passphrase": "correct-horse-battery-9"}
LEAKY_NB = nbformat.v4.new_notebook(metadata=KERNEL, cells=[
    nbformat.v4.new_code_cell("private_key = access_key = key = passphrase = endpoint = ''", metadata={"tags": ["parameters"]}),
    nbformat.v4.new_code_cell("import jupyter_llmops as k, urllib.request\nk.glue('used', access_key)\nprint('key', key, passphrase)\n"
                              "urllib.request.urlopen(endpoint, timeout=1)")])


def test_secrets_of_no_known_shape_stay_out_of_a_failed_run(st, tmp_path, webhook):
    "Found by a probe of every sink: parameters named private_key, access_key, key, passphrase, and a password quoted by an error without its scheme (`nonnumeric port: 'pw@host'`), were written in clear to the output notebook, its HTML, MLflow, the jobs history, the log and the webhook."
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.pipelines import scheduler as S
    s = st.updated(pipeline_webhook=f"{webhook.url}/hook")
    nbformat.write(LEAKY_NB, tmp_path / "leaky.ipynb")
    params = {**SHAPELESS, "endpoint": "http://user:Zq9secretPw@db.internal.example/x"}  # quoted by the error as 'Zq9secretPw@db...' 
    S.add_schedule("shapeless", str(tmp_path / "leaky.ipynb"), "0 3 * * *", params=params, settings=s)
    res = S.run_now("shapeless", settings=s)
    assert res.status == "failed" and "InvalidURL" in res.error and "nonnumeric port: '***'" in res.error, res.error
    values = [*SHAPELESS.values(), "Zq9secretPw"]
    run = connect(s).MlflowClient().get_run(res.run_id).data
    sinks = {"notebook": Path(res.output_path).read_text(), "html": Path(res.html_path).read_text(), "error": res.error,
             "history": S.history("shapeless", settings=s)[0].error, "mlflow": json.dumps([run.params, run.tags]),
             "webhook": json.dumps(webhook.got), "schedules": repr(S.list_schedules(settings=s)) + repr(S.list_schedules(settings=s).to_frame())}
    assert {k: [v[:6] for v in values if v in text] for k, text in sinks.items()} == {k: [] for k in sinks}
    assert "key *** ***" in sinks["notebook"] and json.loads(sinks["mlflow"])[0]["private_key"] == "***"  # shown as hidden, not dropped
    assert webhook.got and "InvalidURL" in sinks["webhook"]


def test_a_database_error_as_a_schedule_is_added_quotes_none_of_its_parameters(st, tmp_path):
    "Found by the team-mode probe: PostgreSQL refused a row (a cron longer than its column) and SQLAlchemy's error quoted the INSERT's parameters, a schedule's API key among them, into --debug's traceback and the Jupyter server's log."
    import sqlite3, traceback
    from jupyter_llmops.pipelines import scheduler as S
    from jupyter_llmops.redaction import redact
    nbformat.write(LEAKY_NB, tmp_path / "leaky.ipynb")
    S.add_schedule("first", str(tmp_path / "leaky.ipynb"), "0 3 * * *", settings=st)  # the database and its tables
    with sqlite3.connect(S._store(st).engine.url.database) as db:  # a database that refuses the next row with an error of its own
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON llmops_schedules BEGIN SELECT abs(-9223372036854775808); END")
    params = {"openai_key": "Zq9RandomVal", "n": 3}  # (not on the line the traceback quotes)
    with pytest.raises(Exception) as e:
        S.add_schedule("second", str(tmp_path / "leaky.ipynb"), "0 3 * * *", params=params, settings=st)
    text = "".join(traceback.format_exception(e.value))
    assert "integer overflow" in text and "Zq9RandomVal" not in text, text
    assert redact("the server said Zq9RandomVal") == "the server said ***"  # what this process says next hides it too


def test_status_and_llm_show_settings_as_config_does(tmp_path):
    "`llmops status` and `llmops llm` printed the llm spec with its password or token (into notebooks when run as magics); a password in an https tracking URI without a port crashed every command with it in the message."
    proj = tmp_path / "p"; proj.mkdir()
    tok = "UsrTok9x8y7zQ4w5e6r7"
    (proj / "settings.ini").write_text(f"[llmops]\nllm = openai:m@http://user:{PW.replace('@', '%40')}@127.0.0.1:9/v1\n"
                                       f"judge_llm = openai:m@https://{tok}@llm.example.com/v1\n")
    env = {"LLMOPS_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    outs = [run_cli(*a, cwd=proj, env=env) for a in (["status"], ["llm"], ["config"])]
    assert [r.returncode for r in outs] == [0, 0, 0], [r.stderr for r in outs]
    text = "".join(r.stdout + r.stderr for r in outs)
    assert "user:***@127.0.0.1:9" in outs[0].stdout and "user:***@127.0.0.1:9" in outs[1].stdout
    assert [v for v in (PW, PW.replace("@", "%40"), PW.split("@")[0], tok) if v in text] == []
    r = run_cli("status", cwd=proj, env={**env, "LLMOPS_TRACKING_URI": f"https://mlu:{PW.split('@')[0]}Z9@mlflow.invalid"})
    assert "Traceback" not in r.stderr and "unexpected InvalidURL" not in r.stderr and PW.split("@")[0] not in r.stdout + r.stderr, r.stderr


# -- the whole showcase with fake secrets everywhere, then a search of everything it wrote

FAKES = {"OPENAI_API_KEY": "sk-fakeopenai0123456789ABCDEFabc", "HF_TOKEN": "hf_fakehuggingface0123456789ABCD",
         "AWS_SECRET_ACCESS_KEY": "fakeAwsSecret0123456789abcdefGHIJ", "MLFLOW_TRACKING_TOKEN": "fakeMlflowToken0123456789XYZ",
         "GITHUB_TOKEN": "ghp_fakegithub0123456789ABCDEFGHIJ", "CORP_KEY": "sk-fakecorp0123456789ABCDEFGHIJ"}
HOOK_SECRET = "HookSecret0123456789abcdefXYZ"


def test_the_showcase_leaks_no_secret(tmp_path, webhook):
    """The demo (`llmops demo`, the showcase pipeline) with fake secrets in every setting and environment variable that can hold one;
    the same run's report then shows what it promises (issue 23: figures, no stderr block, the hallucinations it caught)."""
    proj = tmp_path / "proj"; proj.mkdir()
    (proj / "settings.ini").write_text(
        "[llmops]\nexperiment = scan\n"
        f"alert_webhook = {webhook.url}/alerts/{HOOK_SECRET}\npipeline_webhook = {webhook.url}/jobs?token={HOOK_SECRET}\n"
        f"openai_keys = https://llm.corp.invalid/v1=CORP_KEY\ndask_scheduler = tcp://u:{HOOK_SECRET}@127.0.0.1:1\n"
        "alert_cost = 0\nalert_latency_p95 = 0\n")  # a latency above 0 s: the monitor step always alerts, through the webhook
    home = tmp_path / "home"
    r = run_cli("demo", "--distill-steps", "2", "--max-tokens", "24", cwd=proj,
                env={**FAKES, "LLMOPS_HOME": str(home), "HOME": str(tmp_path)}, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    secrets = [*FAKES.values(), HOOK_SECRET]
    leaks = []
    for f in [*home.rglob("*"), *proj.rglob("*")]:
        if f.is_file() and f != proj / "settings.ini":  # the one place the secrets were written on purpose
            data = f.read_bytes()
            leaks += [(str(f), s[:8]) for s in secrets if s.encode() in data]
    out = r.stdout + r.stderr
    leaks += [("output", s[:8]) for s in secrets if s in out]
    assert leaks == []
    assert list(home.glob("runs/showcase-*/showcase.ipynb")) and (home / "mlflow.db").is_file()  # the search looked at real output
    from showcase_report import check_report  # one demo run, two checks: CI runs the demo once
    out = home.glob("runs/showcase-*/showcase.ipynb").__next__()
    check_report(out)
    assert list(out.parent.glob("logs/step-*.log"))  # the libraries' chatter went to the steps' logs
    assert "ALERT payload (POSTed to alert_webhook)" in out.read_text()  # the alert the report shows as sent reached the webhook
    assert any(g.get("alerts") for g in webhook.got)


def test_keys_that_name_data_are_not_hidden_and_secret_keys_are():
    from jupyter_llmops.redaction import redact
    # a log line's `cache_key=abc123def` was hidden as if a secret: the one thing that said what the cache looked up
    for line in ("cache hit: cache_key=abc123def", "sort_key=col2", "primary_key: user_id42", "partition_key='tenant7'"):
        assert redact(line) == line
    assert redact("api_key=abc123def secret_key=abc123def access_key: abc123def private_key='abc123def'") == \
        "api_key=*** secret_key=*** access_key: *** private_key='***'"
