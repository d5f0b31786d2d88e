"The %llmops magics on a real IPython kernel (ipykernel over ZeroMQ), as a user's notebook runs them."
import html
import pytest
from conftest import HEAVY
from kernel import project_kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k, proj = project_kernel(tmp_path_factory, "proj", "[llmops]\n# keep this comment\nllm = local\n")
    yield k, proj
    k.close()


def test_load_ext_imports_nothing_heavy(kernel):
    k, _ = kernel
    r = k.run(f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert r.stdout.strip() == "[]", r.stdout


def test_help_lists_the_tree(kernel):
    k, _ = kernel
    r = k.run("%llmops help")
    assert r.status == "ok"
    for word in ["help [COMMAND...]", "config set KEY VALUE", "status", "%llmops COMMAND", "%%llmops track [--experiment E]"]:
        assert word in r.text
    r = k.run("%llmops help config")
    assert "usage: %llmops config" in r.text and "set" in r.text


def test_empty_command_lists_the_valid_ones(kernel):
    k, _ = kernel
    assert "config set KEY VALUE" in k.run("%llmops").text


def test_status_returns_a_typed_result(kernel):
    k, proj = kernel
    r = k.run("r = %llmops status\nprint(r.ok, r.settings.file)")
    assert r.status == "ok" and r.stdout.split() == ["True", str(proj / "settings.ini")]
    r = k.run("%llmops status")
    assert any("text/html" in d for d in r.data)


def test_config_and_config_set(kernel):
    k, proj = kernel
    r = k.run("%llmops config")
    assert "llm" in r.text and str(proj / "settings.ini") in r.text
    r = k.run("v = %llmops config set experiment churn\nprint(v.settings.experiment, v.settings.sources['experiment'])")
    assert r.stdout.split() == ["churn", str(proj / "settings.ini")]
    text = (proj / "settings.ini").read_text()
    assert "experiment = churn" in text and "# keep this comment" in text


@pytest.mark.parametrize("line, expect", [
    ("%llmops statsu", "did you mean 'status'"),
    ("%llmops config set", "the following arguments are required: KEY, VALUE"),
    ("%llmops config set nokey 1", "unknown settings key 'nokey'"),
    ("%llmops status --verbose", "unrecognized arguments: --verbose"),
    ("%llmops help nosuch", "unknown command 'nosuch'"),
    ('%llmops config set llm "unclosed', "close the quote"),
    ("%%llmops status\nx = 1", "takes no cell body"),
])
def test_bad_input_is_a_usage_error_without_traceback(kernel, line, expect):
    k, _ = kernel
    r = k.run(line)
    assert r.status == "error" and r.ename == "UsageError", r
    shown = "\n".join(r.traceback)
    assert expect in shown and "Hint:" in shown
    assert "Traceback" not in shown and "File " not in shown and "site-packages" not in shown


def test_usage_error_can_be_caught_in_user_code(kernel):
    k, _ = kernel
    r = k.run("from jupyter_llmops.errors import UsageError\n"
              "try:\n    get_ipython().run_line_magic('llmops', 'nosuch')\nexcept UsageError as e:\n    print('caught', e.hint)")
    assert r.stdout.startswith("caught valid commands:")


def test_ipythons_own_usage_error_catches_the_kits(kernel):
    "Code written for IPython's magics (JupySQL's, IPython's own) catches `IPython.core.error.UsageError`."
    k, _ = kernel
    r = k.run("import IPython.core.error\n"
              "try:\n    %llmops stauts\nexcept IPython.core.error.UsageError as e:\n    print('caught', type(e).__module__, str(e).splitlines()[0])")
    assert r.status == "ok" and r.stdout.strip() == "caught jupyter_llmops.errors unknown command 'stauts' (did you mean 'status'?)", r


def test_llm_use_switches_the_backend(kernel):
    k, proj = kernel
    r = k.run("%llmops llm")
    assert r.status == "ok" and "llm = local" in r.text
    r = k.run("%llmops llm use openai:gpt-4o-mini@http://127.0.0.1:8000/v1")
    assert r.status == "ok" and "openai:gpt-4o-mini@http://127.0.0.1:8000/v1" in r.text
    assert "llm = openai:gpt-4o-mini@http://127.0.0.1:8000/v1" in (proj / "settings.ini").read_text()
    r = k.run("%llmops llm use hf:./missing-model")
    assert r.ename == "UsageError" and "no model at" in r.evalue
    assert k.run("%llmops llm use local").status == "ok"


@pytest.mark.slow
def test_a_streamed_answer_shown_again_later_is_whole(kernel):
    """`%%llmops ask` prints the answer as it comes, so that cell's view leaves the text out; before, the flag stayed
    set and the same answer shown in a later cell (`a`, `Out[n]`) had no text at all."""
    k, _ = kernel
    r = k.run("%%llmops ask --max-tokens 12\nName a colour.")
    assert r.status == "ok" and r.stdout.strip()
    streamed = r.stdout.strip()
    assert all(streamed not in d.get("text/plain", "") and html.escape(streamed) not in d.get("text/html", "") for d in r.data)  # not printed twice
    r = k.run("_")
    assert r.status == "ok" and streamed in r.data[-1]["text/plain"] and html.escape(streamed) in r.data[-1]["text/html"]
