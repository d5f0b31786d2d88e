"""The errors a newcomer meets first, each with a message that names the fix: no kernel, a missing model asset,
a tracking server that is down, a port in use, magics used outside IPython."""
import json, os, socket, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, run_cli


def _nb(path: Path) -> Path:
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_no_kernel_names_the_install_command(project):
    from jupyter_llmops.pipelines.runner import execute
    r = execute(_nb(project / "nb.ipynb"), kernel_name="no-such-kernel", log=False, html=False)
    assert r.status == "failed" and "no Jupyter kernel named 'no-such-kernel'" in r.error and "ipykernel install" in r.error
    assert Path(r.output_path).parent.is_dir()  # the run folder is kept


def test_missing_model_asset_names_the_install_command(project):
    r = run_cli("llm", "use", "hf:./no-such-model", cwd=project)
    assert r.returncode == 2 and "no model at ./no-such-model" in r.stderr and "save_pretrained" in r.stderr and "Traceback" not in r.stderr


def test_tracking_server_down_is_reported_fast_with_the_fix(project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]  # a port nobody listens on once closed
    r = run_cli("runs", cwd=project, env={"LLMOPS_TRACKING_URI": f"http://127.0.0.1:{port}"})
    assert r.returncode == 1 and "TrackingUnavailable" in r.stderr and "Hint:" in r.stderr and "Traceback" not in r.stderr


def test_port_in_use_is_refused_with_the_fix(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0)); busy.listen(1); port = busy.getsockname()[1]
        r = subprocess.run(["bash", str(ROOT / "scripts/team-up.sh"), str(tmp_path / "team"), str(port), "1"],
                           capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHON": sys.executable})
    assert r.returncode == 2 and f"port {port} is in use" in r.stderr and "fix:" in r.stderr
    assert not (tmp_path / "team").exists()  # nothing was started or written


def test_team_up_with_a_python_without_mlflow_starts_nothing(tmp_path):
    "PYTHON (or python3 outside a checkout) without mlflow: said at once, before PostgreSQL starts (before: 'mlflow server exited')."
    bare = tmp_path / "python3"  # this interpreter without its site-packages: a python the kit is not installed in
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n"); bare.chmod(0o755)
    assert subprocess.run([bare, "-c", "import mlflow"], capture_output=True).returncode != 0
    r = subprocess.run(["bash", str(ROOT / "scripts/team-up.sh"), str(tmp_path / "team")], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHON": bare})
    assert r.returncode == 2 and f"{bare} cannot import mlflow" in r.stderr and "fix: PYTHON=" in r.stderr, r.stderr
    assert not (tmp_path / "team").exists()  # nothing was started or written


def test_magic_outside_ipython_says_where_it_works():
    code = "import jupyter_llmops; jupyter_llmops.load_ipython_extension(None)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and ("IPython" in r.stderr or "Jupyter" in r.stderr), r.stderr


def test_processes_starting_together_on_a_new_home_all_work(tmp_path):
    "Two notebooks (or a notebook and the scheduler) opening a new home's MLflow store at once: no migration race."
    code = ("from jupyter_llmops.config import load_settings; from jupyter_llmops.tracking import ensure_experiment; "
            "import mlflow; s = load_settings(); ensure_experiment('race', s); "
            "mlflow.MlflowClient(s.tracking_uri).search_registered_models(); print('ok')")
    env = dict(os.environ, LLMOPS_HOME=str(tmp_path / "home"))
    ps = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in ps]
    assert all(p.returncode == 0 and o.strip() == "ok" for p, (o, _) in zip(ps, outs)), [e[-800:] for _, e in outs]
