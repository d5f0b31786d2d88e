"The `llmops` command line: the same tree as the magics, clear errors, exit codes, light start-up."
import subprocess, sys
from pathlib import Path
from conftest import HEAVY, run_cli
from jupyter_llmops.commands import synopses


def test_help_lists_the_same_tree_as_the_magic():
    r = run_cli("--help")
    assert r.returncode == 0
    for family, synopsis, summary in synopses():
        assert synopsis.split(" [")[0] in r.stdout and summary.split()[0] in r.stdout
    assert run_cli().stdout == r.stdout
    assert "usage: llmops config" in run_cli("help", "config").stdout


def test_status_and_config(project):
    r = run_cli("status", cwd=project)
    assert r.returncode == 0 and str(project / "settings.ini") in r.stdout and "[ok] local LLM" in r.stdout
    r = run_cli("config", "set", "llm", "hf:./student", cwd=project)
    assert r.returncode == 0 and "hf:./student" in r.stdout
    assert "llm = hf:./student" in (project / "settings.ini").read_text()
    r = run_cli("config", cwd=project, env={"LLMOPS_LLM": "local"})
    assert "env LLMOPS_LLM" in r.stdout


def test_errors_exit_non_zero_without_traceback(project):
    for args, code, expect in [(["nope"], 2, "unknown command 'nope'"),
                               (["config", "set", "costs", "cheap"], 2, "model=price"),
                               (["status", "--x"], 2, "unrecognized arguments")]:
        r = run_cli(*args, cwd=project)
        assert r.returncode == code and expect in r.stderr and "Traceback" not in r.stderr, r
    (project / "settings.ini").write_text("[llmops\nllm = local\n")
    r = run_cli("status", cwd=project)
    assert r.returncode == 2 and "cannot parse" in r.stderr and "Traceback" not in r.stderr


def test_help_imports_nothing_heavy():
    code = ("import sys, io, contextlib\nfrom jupyter_llmops.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['--help']); main(['config'])\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_runs_prints_its_table_and_a_reader_that_leaves_early_gets_no_traceback(project):
    "`llmops runs` returns a table with a status column (it once read as a failed run's status); `| head` closes the pipe early."
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.tracking import track
    import mlflow
    s = load_settings()
    for i in range(2):  # rows wider than a pipe's buffer, so that `head` leaves before the table is written
        track(lambda: mlflow.log_params({f"p{j}": "x" * 200 for j in range(400)}), experiment="proj", run_name=f"wide-{i}", settings=s)
    r = run_cli("runs", cwd=project)
    assert r.returncode == 0 and "wide-1" in r.stdout and r.stderr == "", r.stderr
    exe = Path(sys.executable).parent / "llmops"
    r = subprocess.run(f"'{exe}' runs | head -c 100", shell=True, cwd=project, capture_output=True, text=True, timeout=600)
    assert len(r.stdout) == 100 and r.stderr == "", r.stderr


def test_a_tracking_server_whose_database_is_down_is_said_as_such(project):
    "An MLflow server up, with its PostgreSQL stopped, answers 503 to every call: before, `llmops runs` printed "
    "'unexpected MlflowException ... too many 503 error responses', and `prompt list` went on, prompt by prompt, for 97 s."
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class Half(BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(200 if self.path == "/health" else 503); self.end_headers()
            self.wfile.write(b"OK" if self.path == "/health" else b'{"error_code": "TEMPORARILY_UNAVAILABLE"}')
        do_GET = do_POST = _answer
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Half)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        (project / "settings.ini").write_text(f"[llmops]\nllm = local\nexperiment = proj\ntracking_uri = {uri}\n")
        for args in (["runs"], ["prompt", "list"]):
            r = run_cli(*args, cwd=project)
            assert r.returncode == 1 and "Traceback" not in r.stderr, r
            assert r.stderr.startswith(f"llmops: TrackingUnavailable: the MLflow tracking server at {uri} answers 503 (unavailable): "
                                       "is its database down?\nHint: start it (and the database behind it: scripts/team-up.sh), "
                                       'or work locally: `llmops config set tracking_uri ""`'), r.stderr
    finally: srv.shutdown()


def test_ask_prints_the_answer_and_no_loading_bar(project):
    # transformers' "Loading weights: 100%|...| 272/272" bar came under every `llmops ask`
    r = run_cli("ask", "--max-tokens", "4", "--no-stream", "Say hi", cwd=project)
    assert r.returncode == 0 and r.stdout.strip(), r
    assert "Loading weights" not in r.stderr and "it/s" not in r.stderr, r.stderr


def test_a_locked_store_is_said_as_such(project):
    # a probe held a write lock on mlflow.db: `prompt list` printed "unexpected OperationalError: (sqlite3.OperationalError)
    # database is locked [SQL: ...]" and a hint to debug, for what is a wait on another process. The store is in WAL mode
    # now: a writer no longer holds readers up; a second writer waits, then is told so
    import sqlite3
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.prompts import register
    register("greet", "Hello {{name}}", settings=load_settings(project))
    path = load_settings(project).tracking_uri.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE"); holder.execute("UPDATE experiments SET name = name")  # another process, mid-write
    try: read, write = run_cli("prompt", "list", cwd=project), run_cli("prompt", "alias", "greet", "1", "champion", cwd=project)
    finally: holder.execute("ROLLBACK"); holder.close()
    assert read.returncode == 0 and "greet" in read.stdout, read.stderr  # before (a rollback journal): locked too
    assert write.returncode == 1 and "a database is locked: another process is writing to it" in write.stderr and "unexpected" not in write.stderr, write.stderr


def test_every_option_says_what_it_does():
    "`llmops help COMMAND ACTION` is the reference: every option has a line of help (and its default, added by the parser)."
    import argparse
    from jupyter_llmops.commands import dispatch  # registers every command
    from jupyter_llmops.commands.core import REGISTRY, Context, build_parser
    bare = []
    def walk(p, where):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items(): walk(sub, f"{where} {name}")
            elif a.option_strings and not a.help: bare.append(f"{where} {'/'.join(a.option_strings)}")
    for name in REGISTRY: walk(build_parser(name, Context()), name)
    assert bare == [], bare
    assert "(default: 5)" in str(dispatch(["help", "rag", "query"]))


def test_a_panel_asked_for_in_a_terminal_names_the_magic_to_run_in_jupyter(project):
    # found by a probe: the hint said "run it as llmops ... in Jupyter": the CLI's rewrite of %llmops into llmops
    # reached a hint about Jupyter, where only the magic runs
    for args, magic in [(["panel"], "%llmops panel"), (["panel", "tracking"], "%llmops panel tracking")]:
        r = run_cli(*args, cwd=project)
        assert r.returncode == 2 and r.stderr.splitlines()[-1] == f"Hint: run {magic} in Jupyter, after %load_ext jupyter_llmops", r.stderr


def test_results_and_warnings_name_commands_as_a_shell_types_them(project):
    # found by a probe: errors said `llmops route add ...`, but a result (`no routes: %llmops route add ...`) and a
    # warning (a damaged route's `add the route again: %llmops route add rr ...`) kept the magic's words
    env = {"LLMOPS_HOME": str(project / "h")}
    r = run_cli("route", "list", cwd=project, env=env)
    assert r.returncode == 0 and r.stdout == "no routes: llmops route add NAME --models CHEAP,CAPABLE\n", r
    (project / "h" / "routes").mkdir(parents=True)
    (project / "h" / "routes" / "rr.json").write_text("{not json")
    r = run_cli("route", "list", cwd=project, env=env)
    assert r.returncode == 0 and "(or add the route again: llmops route add rr --models CHEAP,CAPABLE)" in r.stderr, r
    assert "%llmops" not in r.stdout + r.stderr and r.stderr.startswith("llmops: warning: "), r
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.prompts import register
    register("tip", "Say: run %llmops rag build {{name}} first.", settings=load_settings(project, environ={"LLMOPS_HOME": str(project / "h")}))
    r = run_cli("prompt", "render", "tip/1", "name=kb", cwd=project, env=env)  # a prompt's text is data: printed as written
    assert r.returncode == 0 and "Say: run %llmops rag build kb first." in r.stdout, r
