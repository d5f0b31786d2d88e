"The REST API (`/llmops/api/...`) on a real Jupyter server: every endpoint, errors mapped to HTTP codes, and security."
import asyncio, json, shutil
from pathlib import Path
import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets.config import Config
from jupyter_llmops import prompts, rag, tracking
from jupyter_llmops.config import load_settings
from jupyter_llmops.errors import LLMOpsError
from jupyter_llmops.llm import complete

pytest_plugins = ["pytest_jupyter.jupyter_server"]
PW, KEY = "hunter2-secret-pw", "sk-testkey0123456789abcdef"
NB = json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {"tags": ["parameters"]},
                            "outputs": [], "source": "x = 1"}],
                 "metadata": {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}},
                 "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    "A server root with settings.ini (a secret in it), a run, two prompt versions, an index, a damaged one and a recorded call."
    root, home = tmp_path_factory.mktemp("srvroot"), tmp_path_factory.mktemp("srvhome")
    (root / "settings.ini").write_text(f"[llmops]\nexperiment = srv\nalert_webhook = https://bob:{PW}@hooks.invalid/x?token={PW}\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("LLMOPS_HOME", str(home)); mp.setenv("OPENAI_API_KEY", KEY)
    s = load_settings(root)
    tracking.track(lambda: None, "x = 1", None, "srv-run", False, s)
    prompts.register("greet", "Hello {{name}}", "first", settings=s)
    prompts.register("greet", "Hello {{name}}!\nBye.", "second", alias="prod", settings=s)
    (root / "docs").mkdir(); (root / "docs" / "a.md").write_text("# MLOps\n\nMLOps runs machine learning in production.\n")
    rag.build("kb", [str(root / "docs")], settings=s, progress=False)
    shutil.copytree(s.path("indexes", "kb"), s.path("indexes", "torn"))  # a copy whose manifest was cut short
    m = next(s.path("indexes", "torn").rglob("manifest.json")); m.write_text(m.read_text()[:40])
    with pytest.raises(LLMOpsError):  # a failing call, recorded with a password in its model spec
        complete("ping", f"openai:m@http://bob:{PW}@127.0.0.1:9/v1", settings=s)
    (root / "nb.ipynb").write_text(NB); (root / "sub").mkdir(); (root / "sub" / "inner.ipynb").write_text(NB)
    yield root
    mp.undo()


@pytest.fixture
def jp_root_dir(srv): return srv


@pytest.fixture
def jp_server_config(): return Config({"ServerApp": {"jpserver_extensions": {"jupyter_llmops": True}}})


class Api:
    "Calls the API with the server's token; remembers every answer for the secret check."
    seen: list = []

    def __init__(self, fetch): self.fetch = fetch

    async def __call__(self, method, *parts, body=None, params=None, raw=None):
        if body is not None: raw = json.dumps(body)
        r = await self.fetch("llmops", "api", *parts, method=method, params=params, raise_error=False,
                             body=raw if raw is not None else ("{}" if method == "POST" else None), allow_nonstandard_methods=True)
        text = r.body.decode()
        Api.seen.append(text)
        try: return r.code, json.loads(text)
        except ValueError: return r.code, text  # the server's own 404 page for unknown routes


@pytest.fixture
def api(jp_fetch): return Api(jp_fetch)


async def test_reads(api):
    code, st = await api("GET", "status")
    assert code == 200 and st["version"] and st["settings"]["experiment"] == "srv" and st["components"]["jupyterlab"]
    code, runs = await api("GET", "runs")
    assert code == 200 and "srv-run" in [r["run_name"] for r in runs] and runs[0]["status"] == "FINISHED"
    assert (await api("GET", "runs", params={"experiment": "nope"}))[0] == 404
    code, err = await api("GET", "runs", params={"top": "0"})
    assert code == 400 and "top" in err["message"]
    code, err = await api("GET", "runs", params={"top": "5000"})  # 7 s and 4 MB at 5,000 runs: a cap, and where to see them all
    assert (code, err["message"], "MLflow UI" in err["hint"]) == (400, "top is at most 1,000 here, not 5,000", True)
    assert (await api("GET", "runs", params={"top": "1000"}))[0] == 200
    code, ps = await api("GET", "prompts")
    assert code == 200 and ps[0]["name"] == "greet" and ps[0]["latest"] == 2 and ps[0]["aliases"] == "prod=2"
    code, p = await api("GET", "prompts", "greet")
    assert code == 200 and p["version"] == 2 and [v[0] for v in p["versions"]] == [2, 1] and p["aliases"] == ["prod"]
    code, p1 = await api("GET", "prompts", "greet", params={"version": "1"})
    assert code == 200 and p1["template"] == "Hello {{name}}"
    code, err = await api("GET", "prompts", "nope")
    assert code == 404 and err["error"] == "NotFoundError" and "greet" in err["hint"]
    code, d = await api("GET", "prompts", "greet", "diff", params={"v1": "1", "v2": "2"})
    assert code == 200 and d["lines"][2:] == ["@@ -1 +1,2 @@", "-Hello {{name}}", "+Hello {{name}}!", "+Bye."] and d["text_a"] == "Hello {{name}}"
    assert (await api("GET", "prompts", "greet", "diff", params={"v1": "x", "v2": "2"}))[0] == 400
    assert (await api("GET", "prompts", "greet", "diff"))[0] == 400
    assert (await api("GET", "prompts", "greet", "diff", params={"v1": "1", "v2": "9"}))[0] == 404
    assert (await api("GET", "prompts", "..%2Fx"))[0] in (400, 404)
    code, ix = await api("GET", "indexes")  # a REST probe: beside the damaged index's NaN, every count read 1.0
    assert code == 200 and [(r["name"], r["index"], r["version"], r["files"], r["chunks"]) for r in ix] == [("kb", "flat", 1, 1, 1), ("torn", "damaged", None, None, None)]
    assert [type(ix[0][k]) for k in ("version", "files", "chunks")] == [int, int, int] and "is damaged" in ix[1]["problem"], ix
    code, m = await api("GET", "monitor", params={"since": "1h", "by": "model"})
    assert code == 200 and m["calls"] == 1 and m["summary"][0]["error_rate"] == 1.0 and m["recent"][0]["error"] is True
    assert "bob:***@" in m["summary"][0]["model"]
    assert (await api("GET", "monitor", params={"since": "yesterday"}))[0] == 400
    assert (await api("GET", "monitor", params={"by": "colour"}))[0] == 400
    assert (await api("GET", "nothing-here"))[0] == 404


async def test_writes_are_validated(api):
    ok = {"name": "n1", "notebook": "nb.ipynb", "cron": "0 3 * * *"}
    for body, code in [({**ok, "notebook": "../nb.ipynb"}, 403), ({**ok, "notebook": "sub/../../x/nb.ipynb"}, 403),
                       ({**ok, "notebook": "/etc/passwd"}, 400), ({**ok, "notebook": str(api_root_abs := "/tmp/x.ipynb")}, 400),
                       ({**ok, "notebook": "missing.ipynb"}, 404), ({**ok, "notebook": "settings.ini"}, 400),
                       ({k: v for k, v in ok.items() if k != "cron"}, 400), ({**ok, "extra": 1}, 400), ({**ok, "retries": "2"}, 400),
                       ({**ok, "retries": True}, 400), ({**ok, "retries": -1}, 400), ({**ok, "timeout": 0}, 400),
                       ({**ok, "name": "../evil"}, 400), ({**ok, "name": "-x"}, 400), ({**ok, "params": {"a b": 1}}, 400),
                       ({**ok, "params": {"a": [1]}}, 400), ({**ok, "params": "a=1"}, 400),
                       # found by a probe: each was a 500 (NUL, surrogate, a name too long), or a 201 stored to fail later
                       ({**ok, "notebook": "nb\0.ipynb"}, 400), ({**ok, "notebook": "\ud800.ipynb"}, 400),
                       ({**ok, "notebook": "a/" * 2100 + "nb.ipynb"}, 400), ({**ok, "notebook": "x" * 300 + ".ipynb"}, 400),
                       ({**ok, "notebook": ".x/../nb.ipynb"}, 403), ({**ok, "params": {"class": 1}}, 400),
                       ({**ok, "cron": "0 0 31 2 *"}, 400), ({**ok, "params": {"x": "a" * 1_100_000}}, 400),
                       # a server probe: a 500 (OverflowError), a NaN kept as the text "NaN", minutes in a server thread
                       ({**ok, "timeout": 10 ** 400}, 400), ({**ok, "params": {"a": float("nan")}}, 400),
                       ({**ok, "params": {f"p{i}": i for i in range(501)}}, 400),
                       # a REST probe: a schedule whose every run timed out at once (`schedule add`'s check, as the CLI's)
                       ({**ok, "timeout": 0.9999999}, 400), ({**ok, "timeout": float("nan")}, 400)]:
        got, err = await api("POST", "schedules", body=body)
        assert got == code, (body, got, err)
        assert err["message"] and "Traceback" not in json.dumps(err)
    got, err = await api("POST", "schedules", body={**ok, "timeout": 1e-300})  # the fix named, as the CLI names it
    assert (got, err["message"], err["hint"]) == (400, "--timeout 1e-300 is under a second: every run would time out at once", "--timeout 600 (seconds, at least 1)")
    for raw in ["not json", "[1, 2]", '"x"', '{"a":' * 10000 + '1' + '}' * 10000]:
        got, err = await api("POST", "schedules", raw=raw)
        assert got == 400, (raw, err)
    assert (await api("POST", "scheduler", body={"action": "explode"}))[0] == 400
    assert (await api("POST", "scheduler", body={"what": 1}))[0] == 400
    for verb, parts in [("POST", ("schedules", "n1", "explode")), ("GET", ("nothing-here",)), ("DELETE", ("schedules", "n1", "run", "x"))]:
        got, err = await api(verb, *parts)  # no such route: JSON, as every answer of the API (not the server's HTML page)
        assert got == 404 and err["error"] == "LLMOpsError" and "no endpoint" in err["message"], (verb, parts, err)
    assert (await api("GET", "schedules"))[0] == 200  # nothing refused above was stored
    assert (await api("DELETE", "schedules", "..%2Fx"))[0] in (400, 404)


async def test_schedules_lifecycle(api, srv):
    "Create, list, conflict, pause, resume, run now (202, then its history; 409 while it runs), scheduler start/stop, delete."
    body = {"name": "n1", "notebook": "sub/inner.ipynb", "cron": "0 3 * * *", "tz": "Europe/Paris", "params": {"x": 5, "who": "api"},
            "retries": 1, "timeout": 120}
    code, sch = await api("POST", "schedules", body=body)
    assert code == 201, sch
    assert sch["name"] == "n1" and sch["notebook"] == str(srv / "sub" / "inner.ipynb") and sch["tz"] == "Europe/Paris"
    assert sch["params"] == {"x": 5, "who": "api"} and sch["retries"] == 1 and sch["next_run"]
    code, err = await api("POST", "schedules", body=body)
    assert code == 409 and "exists" in err["message"]
    assert (await api("POST", "schedules", body={**body, "name": "n2", "cron": "every day"}))[0] == 400
    assert (await api("POST", "schedules", body={**body, "name": "n2", "tz": "Mars/Olympus"}))[0] == 400
    code, lst = await api("GET", "schedules")
    assert code == 200 and [s["name"] for s in lst] == ["n1"] and lst[0]["last"] is None
    assert (await api("POST", "schedules", "n1", "pause"))[1]["paused"] is True
    assert (await api("GET", "schedules"))[1][0]["next_run"] == ""
    assert (await api("POST", "schedules", "n1", "resume"))[1]["paused"] is False
    code, r = await api("POST", "schedules", "n1", "run")
    assert code == 202 and r == {"schedule": "n1", "id": r["id"], "started": True} and r["id"] > 0  # its row's id in the history
    code, err = await api("POST", "schedules", "n1", "run")  # while it runs: refused, naming the running attempt
    assert code == 409 and err["running_attempt"] == r["id"] and "already running" in err["message"], err
    for _ in range(240):
        code, hist = await api("GET", "schedules", "n1", "history")
        if hist and hist[0]["status"] not in ("running", "queued"): break
        await asyncio.sleep(0.5)
    assert code == 200 and hist[0]["status"] == "succeeded", hist
    assert (hist[0]["id"], hist[0]["attempt"]) == (r["id"], 1) and hist[0]["trigger"] == "manual" and hist[0]["started"] and hist[0]["finished"]
    assert Path(hist[0]["output_path"]).is_file()
    assert (await api("GET", "schedules"))[1][0]["last"]["status"] == "succeeded"
    for method, parts in [("POST", ("nope", "run")), ("POST", ("nope", "pause")), ("GET", ("nope", "history")), ("DELETE", ("nope",))]:
        assert (await api(method, "schedules", *parts))[0] == 404, parts
    code, st = await api("GET", "scheduler")
    assert code == 200 and st["running"] is False
    try:
        code, st = await api("POST", "scheduler")
        assert code == 200 and st["running"] is True and st["pid"]
        assert (await api("POST", "scheduler"))[1]["pid"] == st["pid"]  # already running: the same daemon
    finally:
        code, st = await api("POST", "scheduler", body={"action": "stop"})
    assert code == 200 and st["running"] is False
    assert (await api("DELETE", "schedules", "n1"))[0] == 200
    assert (await api("GET", "schedules"))[1] == []


ENDPOINTS = [("GET", "status"), ("GET", "runs"), ("GET", "prompts"), ("GET", "prompts/greet"), ("GET", "prompts/greet/diff?v1=1&v2=2"),
             ("GET", "indexes"), ("GET", "monitor"), ("GET", "schedules"), ("POST", "schedules"), ("DELETE", "schedules/n1"),
             ("POST", "schedules/n1/pause"), ("POST", "schedules/n1/resume"), ("POST", "schedules/n1/run"),
             ("GET", "schedules/n1/history"), ("GET", "scheduler"), ("POST", "scheduler")]


async def test_no_token_or_wrong_token_is_403(http_server_client, jp_serverapp, jp_base_url, jp_http_port):
    client = AsyncHTTPClient()
    for headers in [{}, {"Authorization": "token wrong"}]:
        for method, path in ENDPOINTS:
            url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}llmops/api/{path}"
            r = await client.fetch(HTTPRequest(url, method, headers=headers, body="{}" if method == "POST" else None,
                                               allow_nonstandard_methods=True, follow_redirects=False), raise_error=False)
            assert r.code == 403 and "send the server's token" in json.loads(r.body)["hint"], (method, path, headers, r.code, r.body)
            Api.seen.append(r.body.decode())


async def test_xsrf_enforced_for_cookie_authenticated_writes(http_server_client, jp_serverapp, jp_base_url, jp_http_port):
    "A browser session (login cookie, no token) may read, but writes need the _xsrf cookie echoed in X-XSRFToken."
    client, base = AsyncHTTPClient(), f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    token = jp_serverapp.identity_provider.token
    r = await client.fetch(f"{base}login", raise_error=False, follow_redirects=False)
    jar = {}
    def keep(resp):
        for c in resp.headers.get_list("Set-Cookie"): k, _, v = c.split(";")[0].partition("="); jar[k] = v
    keep(r)
    xsrf = jar["_xsrf"]
    r = await client.fetch(f"{base}login", method="POST", body=f"password={token}&_xsrf={xsrf}",
                           headers={"Cookie": f"_xsrf={xsrf}"}, raise_error=False, follow_redirects=False)
    keep(r)
    assert r.code == 302 and any(k.startswith("username-") for k in jar), (r.code, jar)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    r = await client.fetch(f"{base}llmops/api/indexes", headers={"Cookie": cookie}, raise_error=False)
    assert r.code == 200, r.code
    body = json.dumps({"name": "x1", "notebook": "../nb.ipynb", "cron": "0 3 * * *"})
    for headers in [{"Cookie": cookie}, {"Cookie": cookie, "X-XSRFToken": "forged"}]:
        r = await client.fetch(f"{base}llmops/api/schedules", method="POST", body=body, headers=headers, raise_error=False)
        assert r.code == 403 and "X-XSRFToken header" in json.loads(r.body)["hint"], (headers, r.code, r.body)
    r = await client.fetch(f"{base}llmops/api/schedules", method="POST", body=body, headers={"Cookie": cookie, "X-XSRFToken": xsrf},
                           raise_error=False)
    assert r.code == 403 and b"outside the server root" in r.body  # past XSRF: refused by the path check


def test_no_secret_in_any_response():
    "Runs last in this file: every answer recorded above is free of the password and the API key."
    assert len(Api.seen) > 40
    for text in Api.seen: assert PW not in text and KEY not in text, text
