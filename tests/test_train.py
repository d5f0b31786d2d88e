"""Every TRL recipe for a few steps on the real local model: finite loss, an MLflow run, a model folder that loads and
generates, and the recipe's held-out metric moved the right way (on rows it did not train on)."""
import json, math, re
from pathlib import Path
import pytest
from conftest import run_cli
from jupyter_llmops.errors import UsageError

PREFS = [{"prompt": f"Greet user number {i}.", "chosen": f"Hello, user {i}! How can I help you today?", "rejected": "no"} for i in range(6)]
HELD_PREFS = [{"prompt": f"Say hi to guest {i}.", "chosen": f"Hi, guest {i}! Welcome, what can I do for you?", "rejected": "go away"} for i in (7, 8, 9)]
CHATS = [{"prompt": f"What is {i} plus {i}?", "completion": f"{i} plus {i} is {2 * i}."} for i in range(6)]
HELD_CHATS = [{"prompt": f"What is {i} plus {i}?", "completion": f"{i} plus {i} is {2 * i}."} for i in (11, 12)]
THUMBS = [{"prompt": f"Greet visitor {i}.", "completion": f"Welcome, visitor {i}! How can I help?" if i % 2 else "Leave me alone.", "label": i % 2 == 1}
          for i in range(8)]
PROMPTS = [{"prompt": f"Name the capital of {c}.", "completion": f"The capital of {c} is {k}."}
           for c, k in [("France", "Paris"), ("Italy", "Rome"), ("Japan", "Tokyo"), ("Spain", "Madrid"), ("Egypt", "Cairo")]]
FAST = dict(batch=2, max_length=64, progress=False)
SHORT = dict(max_new_tokens=8)  # held-out answers (token F1, win rate): short, to keep the tests quick


def _jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    (d / "settings.ini").write_text("[llmops]\nexperiment = train-tests\n")
    return d


@pytest.fixture
def st(proj, monkeypatch):
    monkeypatch.chdir(proj)
    from jupyter_llmops.config import load_settings
    return load_settings()


def _generates(path: str, st):
    from jupyter_llmops.llm import complete
    out = complete("Say hello.", spec=f"hf:{path}", max_tokens=8, settings=st, record=False)
    assert out.usage.completion > 0
    return out


def test_bad_data_names_the_line_and_field(tmp_path, st):
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.train import load_data
    f = _jsonl(tmp_path / "prefs.jsonl", [PREFS[0], {"prompt": "x", "chosen": "y"}])
    with pytest.raises(UsageError, match=r"prefs.jsonl:2: missing field\(s\) rejected"): load_data("dpo", f)
    f = _jsonl(tmp_path / "chats.jsonl", [{"prompt": "only a prompt"}])
    with pytest.raises(UsageError, match=r"chats.jsonl:1: missing field\(s\) completion"): load_data("sft", f)
    f.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(UsageError, match="assistant turn"): load_data("sft", f)
    f.write_text(json.dumps({"prompt": "hi", "completion": [{"role": "user", "content": "and you?"}]}) + "\n")  # was trained as the answer
    with pytest.raises(UsageError, match=r"chats.jsonl:1: missing field\(s\) completion \(an answer: the assistant's turns"): load_data("sft", f)
    f.write_text('{"prompt": "a"}\nnot json\n')
    with pytest.raises(UsageError, match=r"chats.jsonl:2: not JSON"): load_data("distill", f)
    with pytest.raises(UsageError, match="unknown recipe"): load_data("ppo", f)
    f = _jsonl(tmp_path / "hh.jsonl", [{"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go"},
                                       {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: yo\n\nAssistant: go"}])
    with pytest.raises(UsageError, match=r"hh.jsonl:2: missing field\(s\) prompt \(chosen and rejected share no beginning"): load_data("reward", f)
    f = _jsonl(tmp_path / "thumbs.jsonl", [THUMBS[0], {"prompt": "x", "completion": "y", "label": 1}])
    with pytest.raises(UsageError, match=r"thumbs.jsonl:2: missing field\(s\) label \(true or false\)"): load_data("kto", f)
    with pytest.raises(UsageError, match="calls:SINCE .* feeds train kto"): load_data("dpo", "calls:1h")
    with pytest.raises(UsageError, match="no data file"): load_data("sft", tmp_path / "none.jsonl")


def test_hh_text_prompts_are_turns_in_every_recipe(tmp_path):
    # found by a probe: an HH-RLHF text prompt ("\n\nHuman: ...\n\nAssistant:") became chat turns in a preference pair,
    # but kto, sft and distill rows kept it as one user turn holding the "Human:" and "Assistant:" markers, which the chat
    # template then wrapped as the user's words
    from jupyter_llmops.train import load_data
    hh = "\n\nHuman: My door is stuck.\n\nAssistant: Which door?\n\nHuman: The front one.\n\nAssistant:"
    turns = [("user", "My door is stuck."), ("assistant", "Which door?"), ("user", "The front one.")]
    for recipe, row in [("dpo", {"prompt": hh, "chosen": "Call a locksmith.", "rejected": "Kick it."}), ("kto", {"prompt": hh, "completion": "Call a locksmith.", "label": True}),
                        ("sft", {"prompt": hh, "completion": "Call a locksmith."}), ("distill", {"prompt": hh})]:
        r = load_data(recipe, _jsonl(tmp_path / f"{recipe}.jsonl", [row]))[0]
        assert [(m["role"], m["content"]) for m in r.get("prompt") or r["messages"][:-1]] == turns, (recipe, r)


def test_cli_bad_data_is_a_usage_error(tmp_path):
    f = _jsonl(tmp_path / "p.jsonl", [{"prompt": "x"}])
    r = run_cli("train", "reward", "--data", str(f), cwd=tmp_path)
    assert r.returncode == 2 and "p.jsonl:1: missing field(s) chosen, rejected" in r.stderr and "Traceback" not in r.stderr, r.stderr
    f = _jsonl(tmp_path / "prefs.jsonl", PREFS)
    r = run_cli("train", "reward", "--data", str(f), "--steps", "1", cwd=tmp_path)  # the default head fit has no steps
    assert r.returncode == 2 and "--steps: train reward's default fits the score head" in r.stderr and "--method trl" in r.stderr, r.stderr
    r = run_cli("train", "dpo", "--data", str(f), "--method", "head", cwd=tmp_path)
    assert r.returncode == 2 and "--method is an option of train reward" in r.stderr, r.stderr
    r = run_cli("train", "dpo", "--data", str(f), "--sweep", "max_length=64,128", cwd=tmp_path)
    assert r.returncode == 2 and "--sweep cannot vary 'max_length'" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run_cli("train", "dpo", "--data", str(f), "--sweep", "beta=0.1,0.2", cwd=tmp_path)  # 6 rows: no automatic held-out split
    assert r.returncode == 2 and "a sweep ranks its runs on held-out rows" in r.stderr, r.stderr
    chats = str(_jsonl(tmp_path / "chats.jsonl", CHATS))  # refused before any training: a name the registry refuses, a damaged model
    r = run_cli("train", "sft", "--data", chats, "--steps", "1", "--register", "..", cwd=tmp_path)
    assert r.returncode == 2 and "--register '..': MLflow's model registry refuses that name" in r.stderr and "Traceback" not in r.stderr, r.stderr
    (tmp_path / "damaged").mkdir(); (tmp_path / "damaged" / "config.json").write_text("{}")
    r = run_cli("train", "sft", "--data", chats, "--model", f"hf:{tmp_path / 'damaged'}", cwd=tmp_path)
    assert r.returncode == 2 and "does not hold a model Transformers can read" in r.stderr, r.stderr
    prefs = str(_jsonl(tmp_path / "prefs6.jsonl", PREFS))
    r = run_cli("train", "dpo", "--data", prefs, "--steps", "1", "--judge-model", f"hf:{tmp_path / 'nojudge'}", cwd=tmp_path)
    assert r.returncode == 2 and "no model at" in r.stderr and "nojudge" in r.stderr, r.stderr  # before any training


def test_damaged_weights_a_causal_judge_an_empty_name_and_one_distill_prompt_are_refused_before_any_run(tmp_path, st):
    # found by a probe: a truncated model.safetensors (as a judge: after the whole training) was "unexpected SafetensorError",
    # naming no file, after an MLflow run had started; --register '' trained and registered nothing; a single distill
    # prompt was trained on and "held out" at once
    import shutil, mlflow
    from jupyter_llmops.train import distill, dpo, sft
    from jupyter_llmops.train.core import model_folder
    good = model_folder("local", st)
    cut = tmp_path / "cut"; cut.mkdir()
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"): shutil.copy(good / f, cut / f)
    (cut / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes()[:100_000])
    c = mlflow.MlflowClient(st.tracking_uri)
    runs = lambda: len(c.search_runs([e.experiment_id for e in c.search_experiments()]))
    n = runs()
    chats, prefs = _jsonl(tmp_path / "chats.jsonl", CHATS), _jsonl(tmp_path / "prefs.jsonl", PREFS)
    with pytest.raises(UsageError, match=f"{cut / 'model.safetensors'} is damaged"): sft(chats, model=f"hf:{cut}", settings=st, **FAST)
    with pytest.raises(UsageError, match=f"{cut / 'model.safetensors'} is damaged"): dpo(prefs, judge_model=f"hf:{cut}", settings=st, **FAST)
    with pytest.raises(UsageError, match="local is not a reward model: as a judge it would score at random"):  # a causal LM loaded as a
        dpo(prefs, judge_model="local", settings=st, **FAST)  # sequence classifier got a random head, quietly: the win rate was noise
    (cut / "model.safetensors").unlink()
    with pytest.raises(UsageError, match="holds no weights"): distill(_jsonl(tmp_path / "p.jsonl", PROMPTS), student=f"hf:{cut}", settings=st, **FAST)
    with pytest.raises(UsageError, match="--register '': MLflow's model registry refuses"): sft(chats, register_as="", settings=st, **FAST)
    one = _jsonl(tmp_path / "one.jsonl", PROMPTS[:1] * 4)
    with pytest.raises(UsageError, match="distill compares the student with its teacher on held-out prompts, and there are none"):
        distill(one, settings=st, **FAST)
    assert runs() == n  # no run was started for any of them


def test_a_data_path_under_home_is_logged_as_the_file_read(tmp_path, st, monkeypatch):
    # found by a probe: `%llmops train sft --data ~/chats.jsonl` (no shell to expand ~) read ~/chats.jsonl, and logged the
    # run's data parameter as <working folder>/~/chats.jsonl, a file that does not exist
    import mlflow
    from jupyter_llmops.train import sft
    monkeypatch.setenv("HOME", str(tmp_path))
    _jsonl(tmp_path / "chats.jsonl", CHATS)
    r = sft("~/chats.jsonl", steps=1, settings=st, **SHORT, **FAST)
    assert mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id).data.params["data"] == str(tmp_path.resolve() / "chats.jsonl")


def test_a_prompt_holding_most_rows_is_not_held_out_whole(tmp_path):
    # found by a probe: 50 preference pairs, 45 of them on one question and 5 on others; the default split (a tenth)
    # took whole prompts in shuffled order until it held 5 rows, and when the big prompt came first it held it out whole:
    # dpo trained on 2 of the 50 pairs, with no word said
    from jupyter_llmops.train.data import load_data
    from jupyter_llmops.train.evaluate import split_eval
    pair = lambda q, a: {"prompt": q, "chosen": f"Yes: {a}.", "rejected": "No."}
    rows = load_data("dpo", _jsonl(tmp_path / "p.jsonl", [pair("Is it on?", i) for i in range(45)] + [pair(f"Question {i}?", i) for i in range(5)]))
    for seed in range(3):
        train, held = split_eval(rows, seed=seed)
        assert (len(train), len(held)) == (45, 5), (seed, len(train), len(held))


def test_eval_data_that_repeats_training_prompts_is_refused(tmp_path, st):
    # found by a probe: --eval-data naming the training file itself trained, and reported a "held-out" eval_loss
    # (1.09 -> 0.81) measured on the very rows it trained on
    from jupyter_llmops.train import dpo, sft
    chats = _jsonl(tmp_path / "chats.jsonl", CHATS)
    with pytest.raises(UsageError, match="chats.jsonl: 6 of its 6 held-out prompts are in the training data too"): sft(chats, eval_data=chats, settings=st, **FAST)
    held = _jsonl(tmp_path / "held.jsonl", HELD_PREFS + PREFS[:1])  # one greeting of the training pairs slipped in
    with pytest.raises(UsageError, match="held.jsonl: 1 of its 4 held-out prompts"): dpo(_jsonl(tmp_path / "p.jsonl", PREFS), eval_data=held, settings=st, **FAST)


def test_eval_share_beside_eval_data_is_refused(tmp_path):
    # found by a probe: --eval-share 0.3 with --eval-data trained with the file's rows held out and the share unused, no word said
    r = run_cli("train", "sft", "--data", str(_jsonl(tmp_path / "chats.jsonl", CHATS)), "--eval-data", str(_jsonl(tmp_path / "held.jsonl", HELD_CHATS)),
                "--eval-share", "0.3", cwd=tmp_path)
    assert r.returncode == 2 and "--eval-share 0.3 splits --data, and --eval-data" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_an_option_the_recipe_does_not_use_is_refused(tmp_path, st):
    # found by a probe: train sft --beta 0.3 trained and logged beta=0.3 as the run's parameter, though SFT has no beta;
    # --sweep beta=0.1,0.2 on sft trained the same run twice and ranked the copies; --layers on distill did nothing
    from jupyter_llmops.train import distill, sft
    chats = _jsonl(tmp_path / "chats.jsonl", CHATS)
    with pytest.raises(UsageError, match="--beta: train sft does not use it"): sft(chats, beta=0.3, settings=st, **FAST)
    with pytest.raises(UsageError, match="--sweep beta: train sft does not use it"): sft(chats, sweep=["beta=0.1,0.2"], eval_share=0.3, settings=st, **FAST)
    with pytest.raises(UsageError, match="--layers: train distill does not use it"): distill(_jsonl(tmp_path / "p.jsonl", PROMPTS), layers=2, settings=st, **FAST)


def test_register_under_a_prompts_name_is_refused_before_training(tmp_path, st):
    # found by a probe: MLflow 3 keeps prompts and models in one registry and refuses a model named as a prompt; --register
    # with a prompt's name trained the whole run and then failed with MLflow's MlflowException, registering nothing
    import mlflow
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.train import sft
    connect(st).genai.register_prompt("support-answer", "Answer: {{question}}")
    c = mlflow.MlflowClient(st.tracking_uri)
    runs = lambda: len(c.search_runs([e.experiment_id for e in c.search_experiments()]))
    n = runs()
    with pytest.raises(UsageError, match="--register 'support-answer': a prompt of MLflow's registry has that name"):
        sft(_jsonl(tmp_path / "chats.jsonl", CHATS), steps=1, register_as="support-answer", settings=st, **FAST)
    assert runs() == n


def test_a_model_option_the_recipe_does_not_use_is_refused(tmp_path, st):
    # found by a probe: `train distill --model hf:./big` distilled the default teacher (local) without a word, its model
    # being --teacher; --judge-model on sft was checked but never used, --on-policy on dpo ignored
    from jupyter_llmops.train import dpo, run_recipe, sft
    with pytest.raises(UsageError, match="--judge-model: train sft does not use it"): sft(_jsonl(tmp_path / "c.jsonl", CHATS), judge_model="models:/rm/1", settings=st, **FAST)
    with pytest.raises(UsageError, match="--model: train distill does not use it") as e:
        run_recipe("distill", _jsonl(tmp_path / "p.jsonl", PROMPTS), model=f"hf:{tmp_path}", settings=st, **FAST)
    assert "--teacher" in e.value.hint
    with pytest.raises(UsageError, match="--on-policy: train dpo does not use it"): dpo(_jsonl(tmp_path / "d.jsonl", PREFS), on_policy=True, settings=st, **FAST)


def test_a_reward_model_is_not_trained_or_distilled_as_a_language_model(tmp_path, st):
    # found by a probe: a reward model (a sequence classifier of the base model's first layers) passed to sft as --model
    # loaded as a language model, trained in an MLflow run, and only then failed "the training diverged ... lower --lr"
    import mlflow
    from jupyter_llmops.train import distill, sft
    from jupyter_llmops.train.core import model_folder
    good, rw = model_folder("local", st), tmp_path / "reward"
    rw.mkdir()
    for f in good.iterdir():
        if f.name != "config.json": (rw / f.name).symlink_to(f)
    (rw / "config.json").write_text(json.dumps(json.loads((good / "config.json").read_text()) | {"architectures": ["LlamaForSequenceClassification"]}))
    c = mlflow.MlflowClient(st.tracking_uri)
    runs = lambda: len(c.search_runs([e.experiment_id for e in c.search_experiments()]))
    n = runs()
    with pytest.raises(UsageError, match=f"hf:{rw} is a reward model"): sft(_jsonl(tmp_path / "chats.jsonl", CHATS), model=f"hf:{rw}", settings=st, **FAST)
    with pytest.raises(UsageError, match=f"hf:{rw} is a reward model"): distill(_jsonl(tmp_path / "p.jsonl", PROMPTS), student=f"hf:{rw}", settings=st, **FAST)
    assert runs() == n  # refused before any run


def test_a_feedback_session_counting_none_of_its_pairs_trains_on_none(st):
    # found by a probe: a session restarted under its name with other models (nothing judged yet) kept the old session's
    # pairs.jsonl; the kit warned that those rows "were left out", then read the raw file instead and trained on all of them
    from jupyter_llmops.train.data import feedback_pairs_path, load_data
    p = feedback_pairs_path("restarted", st)
    p.parent.mkdir(parents=True)
    (p.parent / "session.json").write_text(json.dumps({"mode": "models", "sources": ["hf:./new-a", "hf:./new-b"], "prompts": ["p0", "p1"]}))
    p.write_text("".join(json.dumps({"prompt": f"p{i}", "chosen": "old good", "rejected": "old bad", "chosen_by": "hf:./old-a",
                                     "rejected_by": "hf:./old-b", "index": i}) + "\n" for i in range(2)))
    with pytest.warns(UserWarning, match="2 row\\(s\\) the session does not count were left out"), \
         pytest.raises(UsageError, match="feedback session 'restarted' has nothing to train on yet"):
        load_data("dpo", "feedback:restarted", st)


@pytest.mark.parametrize("lr, why", [(1e10, "not finite|diverged"), (1e6, "no better than a uniform guess")])
def test_a_diverged_training_saves_nothing_and_its_run_fails(tmp_path, st, lr, why):
    # 1e10: NaN weights after a step. 1e6: finite weights and a normal-looking mean loss, but a model that reads its own
    # training answers as a uniform guess over the vocabulary would (a probe saw it saved and registered)
    import mlflow
    from jupyter_llmops.errors import LLMOpsError
    from jupyter_llmops.train import sft
    with pytest.raises(LLMOpsError, match=why):
        sft(_jsonl(tmp_path / "chats.jsonl", CHATS), steps=2 if lr > 1e9 else 1, lr=lr, register_as="diverged", settings=st, **FAST)
    c = mlflow.MlflowClient(st.tracking_uri)
    run = c.search_runs([c.get_experiment_by_name(st.experiment).experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]
    assert run.info.status == "FAILED" and "model" not in {a.path for a in c.list_artifacts(run.info.run_id)}
    assert not c.search_registered_models("name = 'diverged'")


def test_a_training_stopped_by_sigterm_ends_its_run_failed(tmp_path):
    import signal, sqlite3, subprocess, sys
    import mlflow
    from faults import wait
    (tmp_path / "settings.ini").write_text("[llmops]\nexperiment = sigterm\n")
    env = {**__import__("os").environ, "LLMOPS_HOME": str(tmp_path / "h"), "TMPDIR": str(tmp_path)}
    p = subprocess.Popen([str(Path(sys.executable).parent / "llmops"), "train", "sft", "--data", _jsonl(tmp_path / "c.jsonl", CHATS).name,
                          "--steps", "500", "--batch", "2", "--max-length", "64"], cwd=tmp_path, env=env,
                         stdout=open(tmp_path / "out.log", "wb"), stderr=subprocess.STDOUT)
    db = tmp_path / "h" / "mlflow.db"
    def loss_logged():  # read with sqlite3 alone: an MLflow client here would race the command's own set-up of the store
        if not db.exists(): return None
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
                return con.execute("SELECT run_uuid FROM metrics WHERE key = 'loss' LIMIT 1").fetchone()
        except sqlite3.Error: return None
    run_id = wait(loss_logged, 300, 1, "the training's first logged step")[0]
    p.send_signal(signal.SIGTERM)  # a `kill`, a job or a container stopping
    p.wait(120)
    out = (tmp_path / "out.log").read_text(errors="replace")
    run = mlflow.MlflowClient(f"sqlite:///{db}").get_run(run_id)
    assert p.returncode != 0 and run.info.status == "FAILED", out[-2000:]
    from trl import SFTConfig  # no --lr: the run says the rate TRL's SFT trained with, not "None"
    assert run.data.params["lr"] == str(SFTConfig.__dataclass_fields__["learning_rate"].default), run.data.params
    assert run.data.params["data"] == str(tmp_path.resolve() / "c.jsonl")  # typed relative to the shell's folder: kept absolute
    assert not list(tmp_path.glob("llmops-train-*"))  # its temporary folder went with it


def test_sft_lora_registers_a_model_that_serves(tmp_path, st):
    import mlflow
    from jupyter_llmops.llm import complete
    from jupyter_llmops.train import sft
    r = sft(_jsonl(tmp_path / "chats.jsonl", CHATS), steps=2, lora=True, lr=1e-3, register_as="test-sft", settings=st,
            eval_data=_jsonl(tmp_path / "held.jsonl", HELD_CHATS), **SHORT, **FAST)
    assert r.steps == 2 and math.isfinite(r.metrics["train_loss"]) and len(r.history) == 2
    m = r.metrics  # the held-out answers became likelier
    assert m["eval_loss"] < m["eval_loss_before"] and m["eval_perplexity"] < m["eval_perplexity_before"], m
    assert 0 <= m["eval_token_f1"] <= 1 and 0 <= m["eval_token_f1_before"] <= 1
    assert (Path(r.model_path) / "config.json").is_file() and not (Path(r.model_path) / "adapter_config.json").exists()
    _generates(r.model_path, st)
    run = mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id)
    assert run.info.status == "FINISHED" and run.data.params["bf16"] == "False" and run.data.params["device"] == "cpu"
    assert run.data.params["lr"] == "0.001" and "None" not in run.data.params.values(), run.data.params  # no "beta=None" for an SFT
    from jupyter_llmops.train.core import _glibc
    assert run.data.params["malloc_tuned"] == str(_glibc() is not None)  # cpu_allocator() was on while it trained
    assert run.data.tags["llmops.recipe"] == "sft" and run.inputs.dataset_inputs
    hist = mlflow.MlflowClient(st.tracking_uri).get_metric_history(r.run_id, "loss")
    assert [m.step for m in hist] == [1, 2]
    for name in ("train_loss", "eval_loss"):  # summaries at the last step: a chart draws no line back to step 0
        assert {m.step for m in mlflow.MlflowClient(st.tracking_uri).get_metric_history(r.run_id, name)} == {2}, name
    assert {a.path for a in mlflow.MlflowClient(st.tracking_uri).list_artifacts(r.run_id)} >= {"model", "loss.png"}
    assert r.registered == ("test-sft", 1)
    out = complete("Say hello.", spec="models:/test-sft/1", max_tokens=8, settings=st, record=False)
    assert out.text and out.model == "models:/test-sft/1"
    import pandas as pd  # MLflow loads the registered version too, through the kit, with its signature
    pm = mlflow.pyfunc.load_model("models:/test-sft/1")
    assert pm.metadata.get_input_schema().input_names() == ["prompt"]
    assert pm.predict(pd.DataFrame({"prompt": ["Say hello."]}), params={"max_new_tokens": 8}) == [out.text]  # the answer the kit gives



def test_sft_learns_the_answers_not_the_system_prompt_and_question(tmp_path, st):
    # found by a probe: sft rows reached TRL as whole chats, so its loss was on every token of the chat template (the
    # default system prompt and the question: 40 of the 45 tokens of a probe's row answered "Paris.") and the model was
    # taught to write users' questions; the held-out eval_loss measured the answers alone
    from transformers import TrainerCallback
    from jupyter_llmops.train import sft
    seen = []
    class Peek(TrainerCallback):  # the tokens that carry the loss in a batch of what the trainer trains on
        def on_train_begin(self, args, state, control, train_dataloader=None, processing_class=None, **kw):
            b = next(iter(train_dataloader))
            seen.extend(processing_class.decode([t for t, l in zip(ids, lab) if l != -100]) for ids, lab in zip(b["input_ids"].tolist(), b["labels"].tolist()))
    r = sft(_jsonl(tmp_path / "chats.jsonl", CHATS), steps=1, callbacks=[Peek()], settings=st, **SHORT, **FAST)
    assert r.steps == 1 and len(seen) == 2, seen
    assert all(re.fullmatch(r"\d plus \d is \d+\.<\|im_end\|>\n?", s) for s in seen), seen  # the answer and its end of turn, nothing else


@pytest.fixture(scope="module")
def reward_run(proj, tmp_path_factory):
    "A reward model fitted on the greeting pairs (the default: the head on the frozen model), measured on other greetings, registered as test-reward."
    import os
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.train import reward
    d = tmp_path_factory.mktemp("reward")
    old = os.getcwd(); os.chdir(proj)
    try: return reward(_jsonl(d / "prefs.jsonl", PREFS), eval_data=_jsonl(d / "held.jsonl", HELD_PREFS), register_as="test-reward",
                       settings=load_settings(), **FAST)
    finally: os.chdir(old)


def test_reward_model_scores_and_ranks_held_out_pairs(reward_run, st):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from jupyter_llmops.train.evaluate import encode, reward_scores
    r = reward_run
    assert math.isfinite(r.metrics["train_loss"]) and r.steps == 0 and r.metrics["train_accuracy"] == 1.0
    m = r.metrics  # the held-out chosen answers now score above the rejected ones, by more than before
    assert m["eval_accuracy"] == 1.0 and m["eval_margin"] > m["eval_margin_before"], m
    model, tok = AutoModelForSequenceClassification.from_pretrained(r.model_path), AutoTokenizer.from_pretrained(r.model_path)
    assert model.config.llmops_pooling == "answer_mean" and model.config.num_hidden_layers == 24  # the saved model says how it scores
    with torch.no_grad(): score = model(**tok("Hello, user 1!", return_tensors="pt")).logits  # transformers' last-token read-out still loads and runs
    assert score.shape == (1, 1) and torch.isfinite(score).all()
    enc = lambda p, a: encode(tok, [{"role": "user", "content": p}], [{"role": "assistant", "content": a}], 64)
    good, bad = reward_scores(model, tok, [enc("Say hi to guest 5.", "Hi, guest 5! Welcome, what can I do for you?"), enc("Say hi to guest 5.", "go away")])
    assert good > bad  # the saved model, read as the kit reads it, ranks a new pair
    import mlflow, pandas as pd  # and as MLflow loads the registered version: the same scores
    from jupyter_llmops.mlstore import connect
    connect(st)
    pm = mlflow.pyfunc.load_model("models:/test-reward/1")
    got = pm.predict(pd.DataFrame({"prompt": ["Say hi to guest 5."] * 2, "answer": ["Hi, guest 5! Welcome, what can I do for you?", "go away"]}))
    assert got == pytest.approx([good, bad], rel=1e-4) and pm.metadata.get_input_schema().input_names() == ["prompt", "answer"]
    import mlflow
    run = mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id)
    assert run.data.params["method"] == "head" and run.data.params["depth"] == "24" and run.data.metrics["eval_accuracy"] == m["eval_accuracy"]


def test_reward_with_trl_trains_the_last_token_head(tmp_path, st):
    "--method trl: TRL's RewardTrainer, a few steps on the greeting pairs; the held-out margin grows; a standard model."
    from transformers import AutoConfig
    from jupyter_llmops.train import reward
    r = reward(_jsonl(tmp_path / "prefs.jsonl", PREFS), method="trl", steps=3, eval_data=_jsonl(tmp_path / "held.jsonl", HELD_PREFS), settings=st, **FAST)
    m = r.metrics
    assert r.steps == 3 and len(r.history) == 3 and m["eval_margin"] > m["eval_margin_before"], m
    assert not hasattr(AutoConfig.from_pretrained(r.model_path), "llmops_pooling")  # read at the last token, transformers' way


def test_dpo_lifts_the_implicit_reward_and_wins_by_the_reward_model(tmp_path, st, reward_run):
    from jupyter_llmops.train import dpo
    import mlflow
    r = dpo(_jsonl(tmp_path / "prefs.jsonl", PREFS), steps=3, lr=5e-5, eval_data=_jsonl(tmp_path / "held.jsonl", HELD_PREFS),
            judge_model="models:/test-reward/1", settings=st, **SHORT, **FAST)
    assert math.isfinite(r.metrics["train_loss"]) and r.steps == 3
    m = r.metrics  # before training the policy is the reference: 0.5 by construction
    assert m["eval_accuracy_before"] == 0.5 and m["eval_accuracy"] > 0.5 and m["eval_margin"] > 0 == m["eval_margin_before"], m
    _generates(r.model_path, st)
    run = mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id)
    # on a CPU the reference log-probs are computed once, before training
    assert run.data.params["precompute_ref_log_probs"] == "True" and run.data.params["judge"] == "models:/test-reward/1"
    assert run.data.metrics["eval_accuracy"] == m["eval_accuracy"] and run.data.metrics["eval_accuracy_before"] == 0.5
    assert run.data.metrics["win_rate"] == m["win_rate"]  # judged and logged (3 steps decide no winner: the bench measures it)
    assert "<th>before</th>" in r._repr_html_()


def test_kto_from_a_thumbs_session(tmp_path, st, reward_run):
    "A feedback session in label mode (thumbs) feeds KTO; the implicit reward then ranks held-out good answers above bad ones."
    import mlflow
    from jupyter_llmops.train import kto, load_data
    from jupyter_llmops.train.data import feedback_labels_path
    labels = feedback_labels_path("thumbs", st)
    labels.parent.mkdir(parents=True, exist_ok=True)
    _jsonl(labels, [dict(t, session="thumbs", index=i) for i, t in enumerate(THUMBS)])
    assert [r["label"] for r in load_data("kto", "feedback:thumbs", st)] == [t["label"] for t in THUMBS]
    r = kto("feedback:thumbs", steps=3, lr=5e-5, eval_data=_jsonl(tmp_path / "held.jsonl", HELD_PREFS), judge_model="models:/test-reward/1",
            settings=st, **SHORT, **FAST)
    m = r.metrics
    assert m["eval_accuracy_before"] == 0.5 and m["eval_accuracy"] > 0.5 and m["eval_margin"] > 0, m
    run = mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id)
    assert run.data.tags["llmops.recipe"] == "kto" and run.data.params["rows"] == "8" and run.data.params["precompute_ref_log_probs"] == "True"
    assert run.data.params["judge"] == "models:/test-reward/1" and run.data.metrics["win_rate"] == m["win_rate"]


def test_kto_takes_recorded_calls_labelled_yes_or_no(st):
    import mlflow
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.llm import complete
    from jupyter_llmops.recorder import flush
    from jupyter_llmops.train import load_data
    with pytest.raises(UsageError, match="no recorded call of the last 1h carries a yes/no label"): load_data("kto", "calls:1h", st)
    good, bad = (complete(q, spec="local", max_tokens=6, settings=st) for q in ("Say hello.", "Say goodbye."))
    flush()
    mlflow.set_tracking_uri(st.tracking_uri)
    mlflow.log_feedback(trace_id=good.trace_id, name="thumbs", value=False)
    mlflow.log_feedback(trace_id=good.trace_id, name="thumbs", value=True)  # the last label counts
    mlflow.log_feedback(trace_id=bad.trace_id, name="thumbs", value=False)
    mlflow.log_feedback(trace_id=bad.trace_id, name="relevance", value=0.9)  # not a yes/no label
    rows = sorted(load_data("kto", "calls:1h", st), key=lambda r: r["prompt"][-1]["content"], reverse=True)
    assert [(r["prompt"][-1]["content"], r["completion"][0]["content"], r["label"]) for r in rows] == [
        ("Say hello.", good.text, True), ("Say goodbye.", bad.text, False)]


def test_feedback_log_records_the_pairs_training_reads(st):
    # found by a probe: `feedback NAME --log` logged the raw pairs file to MLflow (dataset, artifact, "pairs" metric),
    # an earlier, longer session's item and another model's pair included: 4 pairs logged, 2 trained on
    import mlflow
    from jupyter_llmops.feedback import FeedbackSession
    from jupyter_llmops.train.data import feedback_pairs_path, load_data
    p = feedback_pairs_path("logged-duel", st)
    p.parent.mkdir(parents=True)
    (p.parent / "session.json").write_text(json.dumps({"name": "logged-duel", "mode": "models", "sources": ["local", "hf:./b"], "prompts": ["p0", "p1"], "created": 0}))
    pair = lambda i, by: {"prompt": f"p{i}", "chosen": "good", "rejected": "bad", "chosen_by": by, "rejected_by": "local", "index": i}
    _jsonl(p, [pair(5, "hf:./b"), pair(4, "hf:./old"), pair(0, "hf:./b"), pair(1, "hf:./b")])
    with pytest.warns(UserWarning, match="2 row"): trained = load_data("dpo", "feedback:logged-duel", st)
    run = mlflow.MlflowClient(st.tracking_uri).get_run(FeedbackSession("logged-duel", settings=st).log_dataset())
    assert run.data.metrics["pairs"] == len(trained) == 2


def test_kto_leaves_out_recorded_calls_that_are_not_text_chats(st, monkeypatch):
    # found by a probe: calls:SINCE reads every experiment's traces, and a call of another client (OpenAI-style content
    # parts, a "developer" role) labelled yes was trained on unchecked: the chat template failed on it with a TypeError
    # traceback (a "developer" turn alone would have been rendered as written)
    import mlflow
    from jupyter_llmops.mlstore import connect
    from jupyter_llmops.train import load_data
    import mlflow.tracking.fluent as fluent
    ml = connect(st)
    # set_experiment sets MLflow's active experiment and MLFLOW_EXPERIMENT_ID for the whole process: both are undone after
    # this test (left set, a later test's subprocesses inherited the id of an experiment their store lacks, and MLflow 3.18
    # failed their prompt registration on it)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")
    ml.set_experiment("another-app")
    for msgs in ([{"role": "developer", "content": "be terse"}, {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}],
                 [{"role": "user", "content": "Say hi to the probe."}]):
        with ml.start_span(name="chat", span_type="CHAT_MODEL") as sp:
            sp.set_inputs({"messages": msgs}); sp.set_outputs({"choices": [{"message": {"content": "Hi!"}}]})
        ml.flush_trace_async_logging()
        ml.log_feedback(trace_id=sp.trace_id, name="thumbs", value=True)
    with pytest.warns(UserWarning, match=r"1 of the \d+ labelled calls of calls:1h are not chats the kit trains on .*: they were left out"):
        rows = load_data("kto", "calls:1h", st)
    assert [{"role": "user", "content": "Say hi to the probe."}] in [r["prompt"] for r in rows]
    assert all(m["role"] in ("system", "user", "assistant") and isinstance(m["content"], str) for r in rows for m in r["prompt"]), rows


def test_dpo_sweep_child_runs_table_and_best_registered(tmp_path, st, monkeypatch):
    import mlflow, trl
    calls = []
    real = trl.DPOTrainer.compute_ref_log_probs
    monkeypatch.setattr(trl.DPOTrainer, "compute_ref_log_probs", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    from jupyter_llmops.train import dpo
    r = dpo(_jsonl(tmp_path / "prefs.jsonl", PREFS), steps=2, eval_data=_jsonl(tmp_path / "held.jsonl", HELD_PREFS),
            sweep=["lr=1e-6,5e-5,1e10"], keep="best", eval_answers=1, settings=st, **SHORT, **FAST)
    assert len(calls) == 1  # the training pairs' reference log-probs: computed for the first run, reused by the others
    t = r.sweep  # lr=1e10 diverges: its run failed and ranks last, and the sweep keeps the others (it once lost them all)
    assert list(t["lr"]) == [5e-5, 1e-6, 1e10] and t["eval_accuracy"].iloc[0] >= t["eval_accuracy"].iloc[1]  # best first
    assert math.isnan(t["eval_accuracy"].iloc[2])
    assert mlflow.MlflowClient(st.tracking_uri).get_run(t["run_id"].iloc[2]).info.status == "FAILED"
    assert t["eval_margin"].iloc[0] > t["eval_margin"].iloc[1]
    assert r.registered == ("dpo-best", 1) and r.metrics["eval_accuracy"] == t["eval_accuracy"].iloc[0]
    c = mlflow.MlflowClient(st.tracking_uri)
    children = c.search_runs([c.get_run(r.run_id).info.experiment_id], f"tags.`mlflow.parentRunId` = '{r.run_id}'")
    assert sorted(ch.info.run_id for ch in children) == sorted(t["run_id"])
    assert c.get_model_version("dpo-best", "1").run_id == t["run_id"].iloc[0]
    assert {a.path for a in c.list_artifacts(r.run_id)} >= {"sweep.json", "sweep.png"}
    assert (Path(r.model_path) / "config.json").is_file()


def test_distill_auto_student_and_comparison(tmp_path, st):
    from transformers import AutoConfig
    from jupyter_llmops.train import distill
    held = [{"prompt": f"Name the capital of {c}.", "completion": f"The capital of {c} is {k}."} for c, k in [("Germany", "Berlin"), ("Peru", "Lima")]]
    r = distill(_jsonl(tmp_path / "prompts.jsonl", PROMPTS), eval_data=_jsonl(tmp_path / "held.jsonl", held), steps=12, max_new_tokens=8,
                settings=st, **FAST)  # the recipe's defaults otherwise (on a CPU: off-policy, forward KL, lr 2e-4)
    assert math.isfinite(r.metrics["train_loss"])
    m = r.metrics  # the half-depth student starts from nonsense; a few steps teach it the teacher's way with these questions
    assert m["eval_score"] > m["eval_score_before"], m
    assert AutoConfig.from_pretrained(r.model_path).num_hidden_layers == 15
    c = r.comparison.set_index("model")
    assert c.loc["student", "parameters"] < 0.7 * c.loc["teacher", "parameters"]
    assert c.loc["student", "size_mb"] < c.loc["teacher", "size_mb"]
    assert set(c["scored_against"]) == {"reference"} and 0 <= c.loc["student", "score"] <= 1
    _generates(r.model_path, st)
    assert "comparison" in r._repr_html_() or "<table" in r._repr_html_()
    import mlflow
    run = mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id)  # on a CPU: off-policy, on the teacher's answers
    assert run.data.params["on_policy"] == "False" and run.data.metrics["teacher_answers"] == 5


def test_distill_on_policy_is_trls_trainer(tmp_path, st):
    import mlflow
    from jupyter_llmops.train import distill
    r = distill(_jsonl(tmp_path / "prompts.jsonl", PROMPTS), steps=1, max_new_tokens=4, on_policy=True, settings=st, **FAST)
    run = mlflow.MlflowClient(st.tracking_uri).get_run(r.run_id)
    assert math.isfinite(r.metrics["train_loss"]) and run.data.params["on_policy"] == "True" and "teacher_answers" not in run.data.metrics


def test_teacher_answers_and_kept_hidden_states_give_trls_loss(st):
    "The off-policy trainer's cached teacher states give the loss TRL computes with a teacher forward pass."
    import tempfile, torch, trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from jupyter_llmops.train import model_folder, student_from, teacher_answer_trainer
    base = str(model_folder("local", st))
    tok = AutoTokenizer.from_pretrained(base, padding_side="left")
    teacher = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    prompts = [[{"role": "user", "content": r["prompt"]}] for r in PROMPTS[:3]]
    args = trl.DistillationConfig(output_dir=tempfile.mkdtemp(), use_cpu=True, bf16=False, gradient_checkpointing=False,
                                  report_to="none", max_completion_length=6, per_device_train_batch_size=3)
    t = teacher_answer_trainer()(model=student_from(teacher), teacher_model=teacher, processing_class=tok, args=args,
                                 train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]))
    assert t.prepare_teacher(prompts) == 3 and t.prepare_teacher(prompts) == 0  # once per prompt
    ids, _, _ = t._tokenize_prompts(prompts)
    answer = t._generate_single_turn(ids, None, {})
    with torch.inference_mode():  # the answers are the teacher's greedy ones
        ref = teacher.generate(input_ids=torch.tensor([ids[0]]), max_new_tokens=6, do_sample=False)[0, len(ids[0]):].tolist()
    assert answer[0] == ref[:len(answer[0])] and getattr(t, "on_policy_batches", 0) == 0
    t.model.train()
    batch = t._generate_and_score_completions([{"prompt": p} for p in prompts])
    student = t.accelerator.unwrap_model(t.model)
    with torch.no_grad():
        kept = t._compute_loss(student, batch, None)[0]
        hidden, t._hidden = t._hidden, {}  # without the kept states the teacher runs, as in TRL
        fresh = t._compute_loss(student, batch, None)[0]
    assert torch.allclose(kept, fresh, rtol=1e-4, atol=1e-5), (kept, fresh)


def test_feedback_persists_resumes_and_feeds_dpo(tmp_path, st):
    import mlflow
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.feedback import FeedbackSession
    from jupyter_llmops.panels.feedback import FeedbackModel
    from jupyter_llmops.models import local_llm_dir
    from jupyter_llmops.train import dpo
    prompts = _jsonl(tmp_path / "q.jsonl", [{"prompt": p} for p in ("Capital of France?", "Say hi politely.", "2+2?")])
    models = ["local", f"hf:{local_llm_dir(st.home)}"]
    s = FeedbackSession("fb", prompts, models=models, settings=st, max_tokens=12)
    m = FeedbackModel(s).load()
    assert m.index == 0 and m.answer_a and m.answer_b and m.progress == "0 of 3 judged"
    m.choose("A")
    # a "restart": a new session object from the folder alone resumes at the next prompt, answers not regenerated
    s2 = FeedbackSession("fb", settings=st)
    assert s2.progress == (1, 3) and s2.next().index == 1
    m2 = FeedbackModel(s2).load(); m2.key("b"); m2.key("t")
    assert m2.done and s2.progress == (3, 3)
    pairs = [json.loads(l) for l in s2.pairs_path.read_text().splitlines()]
    assert len(pairs) == 2 and all(p["chosen"] and p["rejected"] and p["chosen_by"] in models for p in pairs)
    with pytest.raises(UsageError, match="already compares"):
        FeedbackSession("fb", prompts, models=["local", "hf:/elsewhere"], settings=st)
    assert not s2.needs_log()  # the panel logged the pairs when the last prompt was judged
    rid = s2.log_dataset()
    run = mlflow.MlflowClient(st.tracking_uri).get_run(rid)
    assert run.inputs.dataset_inputs and run.data.metrics["pairs"] == 2
    r = dpo("feedback:fb", steps=1, settings=st, **FAST)
    assert math.isfinite(r.metrics["train_loss"]) and r.steps == 1


def test_experiments_panel_shows_runs_curves_and_comparison(st):
    from jupyter_llmops.panels.experiments import ExperimentsModel, experiments_panel
    m = ExperimentsModel(st).refresh()
    assert m.status == "" and {"sft", "reward", "dpo", "kto", "distill"} <= set(m.frame["recipe"])
    dpo_runs = m.frame[m.frame["recipe"] == "dpo"]
    assert (dpo_runs["held_out"] == "eval_accuracy").all() and (dpo_runs["before"].dropna() == 0.5).all() and (dpo_runs["after"] > 0.5).any()
    import mlflow
    sweep = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`llmops.sweep` = 'parent'")["run_id"].iloc[0]
    m.show(sweep)
    assert m.heldout[0]["metric"] == "eval_accuracy" and m.heldout[0]["before"] == 0.5 and len(m.sweep) == 3
    m.recipe = "distill"; m.refresh()
    assert set(m.frame["recipe"]) == {"distill"}
    m.show(m.frame["run_id"].iloc[0])
    assert m.curve and [r["model"] for r in m.comparison] == ["teacher", "student"]
    view = experiments_panel(model=m)
    assert view.model is m and "<img" in view.children[4].children[0].value and "teacher vs student" in view.children[4].children[1].children[1].value
    assert "held out: before and after" in view.children[4].children[1].children[0].value


def test_feedback_between_two_prompt_versions(tmp_path, st):
    from jupyter_llmops import prompts
    from jupyter_llmops.feedback import FeedbackSession
    prompts.register("fb-capital", "What is the capital of {{country}}?", "plain", settings=st)
    prompts.register("fb-capital", "Answer with one word. Capital of {{country}}?", "terse", settings=st)
    for rows, why in [([{"country": "France"}, {"vars": "Peru"}], "vars.jsonl:2: missing field(s) vars (an object)"),
                      ([{"country": "France"}, {"city": "Lima"}], "vars.jsonl:2: missing field(s) country")]:
        with pytest.raises(UsageError, match=re.escape(why)):  # refused before the session is saved: a fixed file starts it
            FeedbackSession("fb-versions", _jsonl(tmp_path / "vars.jsonl", rows), versions=["fb-capital/1", "fb-capital/2"], settings=st)
    f = _jsonl(tmp_path / "vars.jsonl", [{"country": "France"}, {"vars": {"country": "Peru"}}])
    s = FeedbackSession("fb-versions", f, versions=["fb-capital/1", "fb-capital/2"], settings=st, max_tokens=8)
    it = s.next()
    assert it.prompt == "country: France" and {it.source_a, it.source_b} == {"fb-capital/1", "fb-capital/2"}
    s.judge(it.index, "B")
    assert s.summary()[it.source_b] == 1 and s.next().prompt == "country: Peru"
