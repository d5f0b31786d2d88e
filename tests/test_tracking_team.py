"Team mode: the same tracking flow against an MLflow server on PostgreSQL; unreachable servers fail fast."
import json, os, shutil, socket, subprocess, sys, tempfile, threading, time
from pathlib import Path
import pytest
from conftest import ROOT, run_cli
from jupyter_llmops import tracking
from jupyter_llmops.config import load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def team():
    d = tempfile.mkdtemp(prefix="llmops-team-")
    pg, port = free_port(), free_port()
    env = {**os.environ, "PYTHON": sys.executable}
    lock = os.path.join(d, "caller.lock")  # a caller holding a lock (flock LOCK scripts/team-up.sh): the servers must not keep it
    up = subprocess.run(["flock", lock, "bash", str(ROOT / "scripts/team-up.sh"), d, str(pg), str(port)], env=env,
                        capture_output=True, text=True, timeout=400)
    try:
        assert up.returncode == 0, up.stderr
        assert subprocess.run(["flock", "-n", lock, "true"]).returncode == 0  # free while the servers run
        yield up.stdout.strip(), pg, d
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/team-down.sh"), d], timeout=120)
        shutil.rmtree(d, ignore_errors=True)


def test_same_flow_against_a_tracking_server_on_postgresql(team, tmp_path):
    uri, pg, _ = team
    s = load_settings(tmp_path, environ={**os.environ, "LLMOPS_TRACKING_URI": uri, "LLMOPS_HOME": str(tmp_path)})
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = load_wine(return_X_y=True)
    views = [tracking.track(lambda c=c: make_pipeline(StandardScaler(), LogisticRegression(C=c)).fit(X, y), f"fit C={c}",
                            experiment="team", run_name=f"lr-{c}", settings=s) for c in (0.1, 1.0)]
    assert [v.status for v in views] == ["FINISHED", "FINISHED"]
    df = tracking.runs("team", "training_accuracy_score", settings=s)
    assert set(df.run_name) == {"lr-0.1", "lr-1.0"}
    assert tracking.compare(["lr-0.1", "lr-1.0"], "team", s).params.loc["logisticregression__C", "differs"]
    mv = tracking.register_model("lr-1.0", "wine-clf", "champion", "team", s)
    assert (mv.version, mv.aliases) == (1, ["champion"])
    import mlflow
    mlflow.set_tracking_uri(uri)
    assert (mlflow.pyfunc.load_model("models:/wine-clf@champion").predict(X[:5]) == y[:5]).all()
    # the runs really are in PostgreSQL
    psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))[-1]
    out = subprocess.run(["runuser", "-u", "postgres", "--", str(psql), "-h", "127.0.0.1", "-p", str(pg), "-U", "mlflow",
                          "-d", "mlflow", "-tAc", "select name from runs order by name"] if os.getuid() == 0 else
                         [str(psql), "-h", "127.0.0.1", "-p", str(pg), "-U", "mlflow", "-d", "mlflow", "-tAc",
                          "select name from runs order by name"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["lr-0.1", "lr-1.0"]


def test_closed_port_fails_fast_with_a_clear_error(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    s = load_settings(tmp_path, environ={"LLMOPS_TRACKING_URI": uri, "LLMOPS_HOME": str(tmp_path)})
    t = time.monotonic()
    with pytest.raises(tracking.TrackingUnavailable, match="does not answer"):
        tracking.runs("x", settings=s)
    assert time.monotonic() - t < 10
    r = run_cli("runs", cwd=tmp_path, env={"LLMOPS_TRACKING_URI": uri})
    assert r.returncode == 1 and "TrackingUnavailable" in r.stderr and "Hint:" in r.stderr and "Traceback" not in r.stderr


def test_silent_server_times_out_within_bounds(tmp_path):
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)  # accepts, never answers
    uri = f"http://127.0.0.1:{srv.getsockname()[1]}"
    s = load_settings(tmp_path, environ={"LLMOPS_TRACKING_URI": uri, "LLMOPS_HOME": str(tmp_path)})
    t = time.monotonic()
    try:
        with pytest.raises(tracking.TrackingUnavailable, match="timed out"):
            tracking.list_experiments(s)
    finally:
        srv.close()
    assert time.monotonic() - t < 15


@pytest.mark.parametrize("uri", ["postgresql://mlflow:hunter2@127.0.0.1:1/db", "postgresql://mlflow:hunter2@/db?host=/nonexistent"])  # host, socket
def test_password_in_tracking_uri_is_never_shown(tmp_path, uri):
    r = run_cli("config", cwd=tmp_path, env={"LLMOPS_TRACKING_URI": uri})
    assert "hunter2" not in r.stdout and "mlflow:***@" in r.stdout
    r = run_cli("status", cwd=tmp_path, env={"LLMOPS_TRACKING_URI": uri})
    assert "hunter2" not in r.stdout


def as_otlp_keeps(x):
    """Seen traces with each span attribute as MLflow's OTLP path keeps it: from 3.18 on, a string attribute that reads as
    JSON (`"[1, 2]"`) is stored as that JSON through the server, and as the string by `log_spans` on the store itself."""
    def unwrap(v):
        try: inner = json.loads(v)
        except (TypeError, ValueError): return v
        if not isinstance(inner, str): return v
        try: json.loads(inner)
        except ValueError: return v
        return inner
    if isinstance(x, list): return [as_otlp_keeps(v) for v in x]
    if not isinstance(x, dict): return x
    out = {}
    for k, v in x.items():
        if k == "content" and isinstance(v, str) and v.startswith("{"): v = json.dumps(as_otlp_keeps(json.loads(v)), sort_keys=True)  # a span row
        elif k == "attributes" and isinstance(v, dict): v = {a: unwrap(t) for a, t in v.items()}
        out[k] = as_otlp_keeps(v)
    return out


def test_recorded_calls_on_postgresql_bulk_rows_equal_log_spans(team, tmp_path):
    "The recorder's bulk path on a postgresql:// store writes what log_spans writes (directly and via the HTTP server)."
    import sqlalchemy as sa
    from mlflow import MlflowClient
    from mlflow.entities import Span
    from mlflow.tracking._tracking_service.utils import _get_store
    from jupyter_llmops.recorder import RECORDER, _bulk_write, _span_dict, flush
    from test_recorder import CALLS, TIDS
    uri, pg, _ = team
    db = f"postgresql://mlflow@127.0.0.1:{pg}/mlflow"
    store, client = _get_store(db), MlflowClient(db)
    eid = client.create_experiment("rec-pg", artifact_location=(tmp_path / "art").as_uri())
    ids = ["tr-" + t.hex() for t in TIDS]
    spans = [_span_dict(t, c) for t, c in zip(TIDS, CALLS)]

    def seen():
        "The traces' rows in every trace table, and what readers get."
        out = {}
        with store.engine.connect() as c:
            for t, col in [("trace_info", "request_id"), ("trace_tags", "request_id"), ("trace_request_metadata", "request_id"),
                           ("spans", "trace_id"), ("trace_metrics", "request_id"), ("span_metrics", "trace_id")]:
                q = sa.text(f"SELECT * FROM {t} WHERE {col} IN :ids").bindparams(sa.bindparam("ids", expanding=True))
                out[t] = sorted((dict(r._mapping) for r in c.execute(q, {"ids": ids})), key=repr)
        out["get_trace"] = [client.get_trace(i).to_dict() for i in ids]
        out["search_traces"] = [t.to_dict() for t in client.search_traces(locations=[eid])]
        client.delete_traces(eid, trace_ids=ids)
        assert client.search_traces(locations=[eid]) == []
        return out

    assert _bulk_write(store, db, eid, spans, {})
    bulk = seen()
    store.log_spans(eid, [Span.from_dict(d) for d in spans])
    assert seen() == bulk and len(bulk["trace_info"]) == 5 and bulk["get_trace"][1]["info"]["state"] == "ERROR"
    _get_store(uri).log_spans(eid, [Span.from_dict(d) for d in spans])  # the same spans through the server (OTLP)
    via_http = seen()
    assert as_otlp_keeps(via_http) == as_otlp_keeps(bulk) and via_http["trace_tags"] == bulk["trace_tags"]
    # through the team's MLflow server (HTTP: the recorder keeps log_spans there)
    s = load_settings(tmp_path, environ={**os.environ, "LLMOPS_TRACKING_URI": uri, "LLMOPS_HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "rec-pg"})
    before = RECORDER.via_log_spans
    tid = RECORDER.submit(s, CALLS[1])
    assert flush() and RECORDER.via_log_spans == before + 1
    tr = MlflowClient(uri).get_trace(tid)
    assert tr.info.state.value == "ERROR" and tr.info.tags["llmops.model"] == CALLS[1]["model"]


def test_a_tracked_cell_whose_database_stops_keeps_its_error_and_its_run_is_ended_later(team, tmp_path):
    "The team's PostgreSQL stops while a tracked cell runs: the cell's own error is raised (a cell that succeeded gets the store's), and the run is not left RUNNING for good."
    import mlflow, warnings
    from jupyter_llmops.mlstore import finish_pending
    uri, pg, d = team
    s = load_settings(tmp_path, environ={**os.environ, "LLMOPS_TRACKING_URI": uri, "LLMOPS_HOME": str(tmp_path)})
    pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    as_pg = (lambda *a: ["runuser", "-u", "postgres", "--", *a]) if os.getuid() == 0 else (lambda *a: list(a))
    ctl = lambda *a: subprocess.run(as_pg(str(pgbin / "pg_ctl"), "-D", f"{d}/pg", "-l", f"{d}/pg/server.log", "-w", "-t", "60", *a), check=True, capture_output=True)
    start = lambda: ctl("-o", f"-p {pg} -k {d} -c listen_addresses=127.0.0.1", "start")
    def stop_then(fail: bool):
        ctl("-m", "fast", "stop")
        if fail: raise ValueError("the cell's own error")
    client = mlflow.MlflowClient(uri)
    ids = []
    for fail in (True, False):
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                with pytest.raises(ValueError if fail else tracking.TrackingUnavailable) as e:
                    tracking.track(lambda: stop_then(fail), "x = 1", experiment="outage", run_name=f"fail-{fail}", settings=s)
            kept = [str(x.message) for x in w if "not closed" in str(x.message)]
            assert len(kept) == 1 and "closed with its results by the next notebook run or tracked cell" in kept[0], [str(x.message) for x in w]
            ids.append(kept[0].split("MLflow run ", 1)[1].split()[0])
            assert ("the cell's own error" in str(e.value)) if fail else ("is its database down?" in str(e.value)), e.value
            assert mlflow.active_run() is None  # later cells do not log into it
        finally: start()
        assert client.get_run(ids[-1]).info.status == "RUNNING"  # until the store answers again
        assert finish_pending(s) == 1
        assert client.get_run(ids[-1]).info.status == ("FAILED" if fail else "FINISHED")
