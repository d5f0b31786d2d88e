"Settings files and variables that cannot be used give a clear error; writes are atomic."
import os
import pytest
from jupyter_llmops.config import atomic_write, load_settings, set_setting
from jupyter_llmops.errors import ConfigError


def test_bad_costs_in_env_names_the_variable(project):
    with pytest.raises(ConfigError, match="env LLMOPS_COSTS: costs: bad costs entry"):
        load_settings(environ={**os.environ, "LLMOPS_COSTS": "local=free"})


def test_missing_settings_file_named_by_env(project):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"LLMOPS_SETTINGS": str(project / "nope.ini")})


def test_unknown_key_warns(project):
    (project / "settings.ini").write_text("[llmops]\nlmm = local\n")
    with pytest.warns(UserWarning, match="unknown key 'lmm'"):
        load_settings(environ={})


def test_env_override_warns_on_set(project):
    with pytest.warns(UserWarning, match="overrides it"):
        set_setting("llm", "hf:./x", environ={"LLMOPS_LLM": "local", "HOME": str(project)})


def test_atomic_write_keeps_old_content_on_failure(tmp_path):
    f = tmp_path / "settings.ini"
    f.write_text("[llmops]\nllm = local\n")
    with pytest.raises(TypeError):
        atomic_write(f, 12345)  # not text nor bytes: fails while writing
    assert f.read_text() == "[llmops]\nllm = local\n"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.ini"]
