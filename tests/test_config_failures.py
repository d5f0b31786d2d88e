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


SETTER = """
import sys
from jupyter_llmops.config import _ini_values, set_setting
from pathlib import Path
key, f = sys.argv[1], Path(sys.argv[2])
for i in range(40):
    set_setting(key, str(i + 1), start=f.parent, environ={"HOME": str(f.parent)})
    got = _ini_values(f)[key][0].strip()
    if got != str(i + 1): sys.exit(f"{key} = {i + 1} was lost: the file says {got}")  # overwritten by the other writer's copy
"""


def test_two_config_sets_at_once_lose_neither(tmp_path):
    "Two processes writing two keys of one settings.ini, 40 times each: every write is still there when its writer looks."
    import subprocess, sys
    from jupyter_llmops.config import _ini_values
    f = tmp_path / "settings.ini"
    f.write_text("[llmops]\nexperiment = shared\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOPS_")}
    procs = [subprocess.Popen([sys.executable, "-c", SETTER, key, str(f)], env=env, stderr=subprocess.PIPE, text=True)
             for key in ("route_max_words", "pipeline_parallel")]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    vals = {k: v.strip() for k, (v, _) in _ini_values(f).items()}
    assert vals == {"experiment": "shared", "route_max_words": "40", "pipeline_parallel": "40"}


def test_config_set_through_a_dangling_link_is_refused(tmp_path):
    # ~/.llmops/settings.ini a link to a file that does not exist: `config set` made the target's folders and file
    # wherever the link pointed (outside the home; run as root, under /etc), and said nothing
    home, target = tmp_path / "home", tmp_path / "elsewhere" / "deep" / "settings.ini"
    (home / ".llmops").mkdir(parents=True)
    (home / ".llmops" / "settings.ini").symlink_to(target)
    proj = tmp_path / "proj"; proj.mkdir(); (proj / "pyproject.toml").write_text("")
    with pytest.raises(ConfigError, match="is a link to .*elsewhere/deep/settings.ini, which does not exist") as e:
        set_setting("experiment", "x1", proj, {"HOME": str(home)})
    assert "create that file" in e.value.hint and not (tmp_path / "elsewhere").exists() and (home / ".llmops" / "settings.ini").is_symlink()
    target.parent.mkdir(parents=True); target.write_text("")  # as the hint says: then it is written where the link points
    assert set_setting("experiment", "x1", proj, {"HOME": str(home)}).experiment == "x1" and "experiment = x1" in target.read_text()
