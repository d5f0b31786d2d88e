"Shared test setup: offline, and one throwaway kit home for the whole session (the model copy is made once)."
import os, shutil, sys, tempfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOME = Path(tempfile.mkdtemp(prefix="llmops-test-home-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["LLMOPS_HOME"] = str(HOME)
HEAVY = ["torch", "transformers", "trl", "llama_index", "faiss", "mlflow", "papermill", "dask"]


def pytest_unconfigure(config):
    shutil.rmtree(HOME, ignore_errors=True)


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
