"Routes (rules, cascade, learned) on the real local model and a layer-dropped student; the semantic cache; budgets."
import dataclasses, os, time
from pathlib import Path
import pytest
from conftest import HOME
from jupyter_llmops.config import load_settings

Q_EASY = ["What is the capital of France?", "Name a fruit.", "Say hello.", "What color is the sky?", "Count to three.", "Name a dog breed."]
Q_HARD = ["Explain why the sea is salty.", "Explain how a rainbow forms.", "Compare cats and dogs as pets.", "Explain why leaves change color."]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    "A project with its own home (sharing the session's model copy), a saved layer-dropped student, prices for both."
    from jupyter_llmops.models import load_causal_lm, parse_spec
    from jupyter_llmops.train import student_from
    d = tmp_path_factory.mktemp("routing")
    (HOME / "models").mkdir(parents=True, exist_ok=True)
    (d / "home").mkdir(); (d / "home" / "models").symlink_to(HOME / "models")
    st = load_settings(d, {"LLMOPS_HOME": str(d / "home"), "HOME": str(d)})
    model, tok = load_causal_lm(parse_spec("local"), st.home)
    student = d / "student"
    student_from(model).save_pretrained(student); tok.save_pretrained(student)
    small = f"hf:{student}"
    (d / "settings.ini").write_text(f"[llmops]\nhome = home\nexperiment = routing-t\ncosts = local=0.002, {small}=0.0005\n")
    return d, small


@pytest.fixture
def st(env, monkeypatch):
    d, _ = env
    monkeypatch.chdir(d)
    for k in [k for k in os.environ if k.startswith("LLMOPS_")]: monkeypatch.delenv(k)
    return load_settings(d, {"HOME": str(d)})


def _calls(st, route):
    from jupyter_llmops.recorder import recorded_calls
    c = recorded_calls("1h", st)
    return c[c.route == route]


def test_rules_route_sends_easy_to_small_and_hard_to_large(env, st):
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.llm import complete
    from jupyter_llmops.monitor import monitor
    _, small = env
    r = dispatch(["route", "add", "r1", "--models", f"{small},local", "--policy", "rules"])
    assert r.models == [small, "local"] and "r1" in repr(dispatch(["route", "list"]))
    easy = complete(Q_EASY[0], "route:r1", max_tokens=8, settings=st)
    hard = complete(Q_HARD[0], "route:r1", max_tokens=8, settings=st)
    assert easy.model == small and hard.model == "local" and easy.cost < hard.cost
    calls = _calls(st, "r1")
    assert sorted(calls.model) == sorted([small, "local"])
    m = monitor("1h", "route", st)
    row = m.summary.loc["r1"]
    assert row.calls == 2 and row.top_model == "local" and f"{small}: 1" in row.per_model
    assert 0 < row.cost_share < 1 and row.cost_all_top > row.cost and {"score", "score_top"} <= set(m.summary.columns)
    dispatch(["llm", "use", "route:r1"])  # a route wherever a model spec goes
    assert complete(Q_EASY[2], max_tokens=4, settings=load_settings()).model == small
    ans = dispatch(["ask", "--llm", "route:r1", "--no-stream", Q_HARD[1]], cell=None)
    assert ans.model == "local"
    with pytest.raises(Exception, match="no route 'nope'"):
        dispatch(["llm", "use", "route:nope"])


def test_cascade_escalates_on_low_logprob(env, st):
    from jupyter_llmops.llm import complete
    from jupyter_llmops.routing import add_route
    _, small = env
    add_route("c1", [small, "local"], "cascade", st)
    kept = complete(Q_EASY[1], "route:c1", max_tokens=8, settings=st.updated(route_min_logprob="-100"))
    assert kept.model == small and kept.logprob is not None and kept.logprob < 0
    esc = complete(Q_EASY[1], "route:c1", max_tokens=8, settings=st.updated(route_min_logprob="-0.00001"))
    assert esc.model == "local" and esc.cost > kept.cost  # paid for both attempts
    calls = _calls(st, "c1")
    assert len(calls) == 3 and (calls.model == small).sum() == 2


def test_learned_router_trains_on_recorded_calls_as_plain_data_and_routes(env, st):
    from mlflow import MlflowClient
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.llm import complete
    from jupyter_llmops.routing import get_route, router_path
    _, small = env
    dispatch(["route", "add", "l1", "--models", f"{small},local", "--policy", "learned"])
    with pytest.raises(Exception, match="no trained router"):
        complete("hi", "route:l1", max_tokens=4, settings=st)
    for q in Q_EASY + Q_HARD:  # recorded calls of both models: the training data
        for m in (small, "local"): complete(q, m, max_tokens=8, settings=st)
    res = dispatch(["route", "train", "l1", "--since", "1h"])
    r = get_route("l1", st)
    assert res.rows == len(Q_EASY + Q_HARD) and res.model_uri == r.model_uri and r.model_uri.startswith("runs:/")
    assert r.threshold == res.threshold and router_path("l1", st, r.model_uri).is_file()
    client = MlflowClient(st.tracking_uri)
    run = client.get_run(res.run_id)
    assert run.data.params["format"] == "llmops-router/1" and run.data.tags["llmops.kind"] == "router" and "cv_apgr" in run.data.metrics
    assert sorted(a.path for a in client.list_artifacts(res.run_id, "router")) == ["router/router.json", "router/router.npz"]
    assert not client.search_registered_models("name='route-l1'")  # plain data, not a registered (pickled) model
    out = complete(Q_EASY[2], "route:l1", max_tokens=8, settings=st)
    assert out.model in (small, "local")
    assert len(_calls(st, "l1")) == 1


def _table(path, rows):
    import json
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_route_trained_and_evaluated_from_a_score_table_of_models_never_called(env, st, tmp_path):
    "openai: specs with no server: training, evaluation and calibration never call a model."
    import random
    from mlflow import MlflowClient
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.routing import get_route
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    rnd = random.Random(0)
    topics = {"arithmetic": ["What is {a} plus {b}?", "Add {a} and {b}.", "Compute {a} + {b}."],
              "proofs": ["Prove that the sum of the first {a} odd numbers is a square, step by step, with every case.",
                         "Derive the closed form of the sum of squares up to {a} and prove it by induction in full detail."]}
    rows = []
    for i in range(160):
        kind = "proofs" if i % 3 == 0 else "arithmetic"
        q = rnd.choice(topics[kind]).format(a=rnd.randint(2, 99), b=rnd.randint(2, 99)) + f" (case {i})"
        hard = kind == "proofs"
        rows.append({"question": q, "scores": {weak: float(not hard and rnd.random() < 0.9), strong: float(rnd.random() < 0.95)},
                     "confidence": {weak: min(0.0, (-2.0 if hard else -0.3) + rnd.gauss(0, 0.5))}})  # a log-probability
    train, test = _table(tmp_path / "train.jsonl", rows[:100]), _table(tmp_path / "test.jsonl", rows[100:])
    dispatch(["route", "add", "t1", "--models", f"{weak},{strong}", "--policy", "learned"])
    res = dispatch(["route", "train", "t1", "--data", train])
    assert res.rows == 100 and res.metrics["cv_apgr"] > 0.7
    ev = dispatch(["route", "eval", "t1", "--data", test])
    assert {"apgr", "cpt50", "cpt80", "strong_share_at_95", "share", "score", "cost"} <= set(ev.metrics)
    assert set(ev.table.index) == {"learned", "cascade", "rules", "random", "oracle"}
    assert ev.metrics["apgr"] > ev.table.loc["random", "apgr"] + 0.15  # the proofs are learnable from the words
    assert ev.metrics["strong_share_at_95"] < ev.table.loc["random", "strong_share_at_95"]
    assert list(ev.curve.columns) == ["threshold", "strong_share", "score", "cost"] and ev.chart_png()[:4] == b"\x89PNG"
    arts = [a.path for a in MlflowClient(st.tracking_uri).list_artifacts(ev.run_id)]
    assert "route_curve.png" in arts and "curve.csv" in arts
    cal = dispatch(["route", "calibrate", "t1", "--data", test, "--strong-share", "0.2"])
    assert cal.metrics["share"] <= 0.2 and get_route("t1", st).threshold == pytest.approx(cal.metrics["threshold"])
    with pytest.raises(Exception, match="strong-share"):
        dispatch(["route", "calibrate", "t1", "--data", test])
    with pytest.raises(Exception, match="score both"):
        dispatch(["route", "train", "t1", "--data", _table(tmp_path / "other.jsonl", [{"question": "q", "scores": {"local": 1}}])])



def _score_rows(n, weak, strong, seed=0, conf=True):
    "n score-table lines: arithmetic the weak model gets right, proofs only the strong one does."
    import random
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        hard = i % 3 == 0
        q = (f"Prove that the sum of the first {rnd.randint(2, 99)} odd numbers is a square, with every case." if hard
             else f"What is {rnd.randint(2, 99)} plus {rnd.randint(2, 99)}?") + f" (case {seed}-{i})"
        out.append({"question": q, "scores": {weak: float(not hard and rnd.random() < 0.9), strong: float(rnd.random() < 0.95)},
                    **({"confidence": {weak: -2.0 if hard else -0.3}} if conf else {})})
    return out


def test_route_figures_say_what_they_cannot_show(env, st, tmp_path):
    """The route probe's silently wrong figures: repeated questions in both cross-validation folds, the router's own
    training questions, a cascade measured as rules, a policy switched without a word; and a key in a model's URL."""
    import json, stat, warnings
    from mlflow import MlflowClient
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.routing import get_route, route_path
    key = "s3cretPW1234"
    weak, strong = "openai:cheap@http://127.0.0.1:9", f"openai:capable@https://bob:{key}@llm.example.com/v1"
    base = _score_rows(60, weak, strong)
    repeated = _table(tmp_path / "rep.jsonl", base * 10)  # 600 lines, 60 questions
    fresh = _table(tmp_path / "fresh.jsonl", _score_rows(60, weak, strong, seed=1))
    from jupyter_llmops.routing import Route, save_route
    save_route(Route("k1", [weak, strong], "rules"), st)  # a route file of a kit before `route add` refused such a spec
    shown = str(dispatch(["route", "list"]))
    assert key not in shown and "bob:***@" in shown
    assert stat.S_IMODE(route_path("k1", st).stat().st_mode) == 0o600  # the route file keeps the key the calls need
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = dispatch(["route", "train", "k1", "--data", repeated])
    assert res.rows == 60 and any("540 of 600 lines repeat a question" in str(x.message) for x in w)
    assert "the route's policy was rules, it is learned now" in repr(res)
    run = MlflowClient(st.tracking_uri).get_run(res.run_id)
    assert key not in json.dumps(run.data.params) and "bob:***@" in run.data.params["models"]
    for art in ("router/router.json", "router_training.json"):
        assert key not in Path(MlflowClient(st.tracking_uri).download_artifacts(res.run_id, art, str(tmp_path))).read_text()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ev = dispatch(["route", "eval", "k1", "--data", repeated])
    assert any("600 of 600 questions were in the router's training table" in str(x.message) for x in w), [str(x.message) for x in w]
    assert key not in repr(ev) + ev._repr_html_() + json.dumps(MlflowClient(st.tracking_uri).get_run(ev.run_id).data.params)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dispatch(["route", "eval", "k1", "--data", fresh, "--no-log"])
    assert not any("training table" in str(x.message) for x in w)
    # strong share 0: a threshold JSON can hold
    dispatch(["route", "calibrate", "k1", "--data", fresh, "--strong-share", "0"])
    assert json.loads(route_path("k1", st).read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the route file"))["threshold"] >= 1e300
    # a cascade route on a table without confidence is measured as another policy: said; half the lines with one: said
    dispatch(["route", "add", "c1", "--models", f"{weak},openai:capable@http://127.0.0.1:9", "--policy", "cascade"])
    half = _score_rows(40, weak, "openai:capable@http://127.0.0.1:9", seed=2)
    for r in half[::2]: r.pop("confidence")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ev = dispatch(["route", "eval", "c1", "--data", _table(tmp_path / "half.jsonl", half), "--no-log"])
    said = [str(x.message) for x in w]
    assert ev.policy == "rules" and any("20 of 40 line(s) lack a confidence" in m for m in said), said
    assert any("route c1 is a cascade route" in m and "the figures are the rules policy's" in m for m in said), said
    with pytest.raises(UsageError, match="2 of 40 question"):
        blank = _score_rows(40, weak, strong, seed=3); blank[3]["question"] = blank[7]["question"] = "  "
        dispatch(["route", "train", "k1", "--data", _table(tmp_path / "blank.jsonl", blank)])


def test_a_route_changed_while_it_trains_or_calibrates_is_never_undone(env, st, tmp_path, monkeypatch):
    "Another process's change made while a route trains or calibrates (made here inside the fit) is kept, and nothing half-saved."
    from jupyter_llmops import route_eval, route_train
    from jupyter_llmops.errors import UsageError
    from jupyter_llmops.routing import add_route, get_route, remove_route, route_path, router_files
    weak, strong, other = (f"openai:{m}@http://127.0.0.1:9" for m in ("cheap", "capable", "other"))
    rows = [{"question": f"{'Prove the theorem in full' if i % 3 == 0 else 'Add the numbers'} {i}.",
             "scores": {weak: float(i % 3 != 0), strong: 1.0}} for i in range(40)]
    data = _table(tmp_path / "t.jsonl", rows)
    meanwhile = lambda fn, action: lambda *a, **k: (fn(*a, **k), action())[0]  # the other process acts while this one works
    add_route("race", [weak, strong], "rules", st)
    fit = route_train.fit_router
    monkeypatch.setattr(route_train, "fit_router", meanwhile(fit, lambda: remove_route("race", st)))
    with pytest.raises(UsageError, match="was removed while it was trained"): route_train.train_route("race", data, settings=st)
    assert not route_path("race", st).exists() and not router_files("race", st)  # not brought back as a learned route
    add_route("race", [weak, strong], "rules", st)
    monkeypatch.setattr(route_train, "fit_router", meanwhile(fit, lambda: add_route("race", [weak, other], "rules", st)))
    with pytest.raises(UsageError, match=r"changed \(models\) while it was trained"): route_train.train_route("race", data, settings=st)
    assert (get_route("race", st).models, get_route("race", st).policy) == ([weak, other], "rules") and not router_files("race", st)
    add_route("race", [weak, strong], "rules", st)
    monkeypatch.setattr(route_eval, "curve_point", meanwhile(route_eval.curve_point, lambda: add_route("race", [weak, strong], "cascade", st)))
    with pytest.raises(UsageError, match=r"changed \(policy\) while it was calibrated"):
        route_eval.calibrate_route("race", data, strong_share=0.3, settings=st)
    assert get_route("race", st).policy == "cascade" and get_route("race", st).threshold is None  # its threshold not set from the rules curve
    assert not [p.name for p in route_path("race", st).parent.iterdir() if ".staging" in p.name]  # no staging folder left

def test_a_training_killed_as_it_switches_leaves_the_route_and_its_router_as_they_were(env, st, tmp_path, monkeypatch):
    "A route's threshold is set for one router: a training killed before its route is written keeps the old pair whole."
    from jupyter_llmops import route_train
    from jupyter_llmops.routing import add_route, get_route, router_file, router_files
    weak, strong = (f"openai:{m}@http://127.0.0.1:9" for m in ("cheap", "capable"))
    one = _table(tmp_path / "one.jsonl", [{"question": f"{'Prove the theorem in full' if i % 3 == 0 else 'Add the numbers'} {i}.",
                                           "scores": {weak: float(i % 3 != 0), strong: 1.0}} for i in range(40)])
    two = _table(tmp_path / "two.jsonl", [{"question": f"{'Translate the poem' if i % 2 else 'Name the colour'} {i}.",
                                           "scores": {weak: float(i % 2 == 0), strong: 1.0}} for i in range(40)])
    add_route("k1", [weak, strong], "rules", st)
    route_train.train_route("k1", one, settings=st)
    before = get_route("k1", st)
    router = router_file(before, st).read_bytes()
    def killed(*a): raise KeyboardInterrupt  # the process dies as it writes the route (after the new router is on disk)
    save = route_train.save_route
    monkeypatch.setattr(route_train, "save_route", killed)
    with pytest.raises(KeyboardInterrupt): route_train.train_route("k1", two, settings=st)
    monkeypatch.setattr(route_train, "save_route", save)
    after = get_route("k1", st)
    assert (after.model_uri, after.threshold) == (before.model_uri, before.threshold)
    assert router_file(after, st).read_bytes() == router  # the router the threshold was set for, not the killed training's
    assert len(router_files("k1", st)) == 2  # the killed training's file, unused
    res = route_train.train_route("k1", two, settings=st)
    files = router_files("k1", st)  # the next training's router only: the old one and the killed training's are removed
    assert files == [router_file(get_route("k1", st), st)] and files[0].name == f"k1.router-{res.run_id}.npz"

def test_a_router_file_that_holds_a_pickle_is_refused(env, st, tmp_path):
    import io
    import numpy as np
    from jupyter_llmops.routing import Router
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(["{}"]), evil=np.array([{"a": 1}], dtype=object))  # an object array: only pickle can read it
    (tmp_path / "r.npz").write_bytes(buf.getvalue())
    with pytest.raises(Exception, match="not a readable router"):
        Router.load(tmp_path / "r.npz")


def test_cache_eval_command_measures_duplicates_and_strangers(env, st, tmp_path):
    from jupyter_llmops.commands import dispatch
    pairs = [("What is the capital of France?", "Which city is the capital of France?", True),
             ("How do I reset an HP LaserJet 1020 printer?", "How do I reset an HP LaserJet 1018 printer?", False),
             ("What is the best hotel in Texas?", "What is the best hotel in Florida?", False),
             ("How do I learn to play the guitar?", "How can I learn to play the guitar?", True)]
    f = _table(tmp_path / "pairs.jsonl", [dict(stored=a, query=b, duplicate=d) for a, b, d in pairs])
    r = dispatch(["cache", "eval", "--data", f, "--thresholds", "0.8", "0.9"])
    assert list(r.table.threshold) == [0.8, 0.9] and {"hit_rate", "wrong_rate", "lookup_p50_ms", "threshold"} <= set(r.metrics)
    low = r.table.iloc[0]
    assert low.plain_wrong_rate > low.wrong_rate  # plain cosine serves another printer's or state's answer; verification does not
    assert low.hit_rate == 1.0 and r.recommended == 0.8


def test_cache_default_is_chosen_on_tuning_questions_and_halves_wrong_answers_on_held_out(st):
    "The goal of issue 20 on questions written apart from the tuning set (bench/data/dupq_heldout3.jsonl tuned nothing; real MiniLM)."
    from jupyter_llmops.cache_eval import evaluate_cache
    data = Path(__file__).resolve().parents[1] / "bench" / "data"
    tune = evaluate_cache(data / "dupq_tune.jsonl", settings=st)
    assert tune.recommended == st.cache_threshold  # the default: the lowest threshold under 1% wrong answers on the tuning set
    for name in ("heldout3", "heldout2", "heldout", "noisy", "quora"):  # written apart; noisy and quora then revised the rules (not the threshold)
        ev = evaluate_cache(data / f"dupq_{name}.jsonl", settings=st)
        m = ev.metrics
        assert m["threshold"] == st.cache_threshold and m["hit_rate"] >= 0.40, (name, m)  # the default answers 40% of true duplicates
        assert m["wrong_rate"] <= ev.plain_wrong_at() / 2, (name, m, ev.plain_wrong_at())  # plain cosine at the same hit rate


def test_cache_hits_misses_and_invalidation(env, st):
    from jupyter_llmops import cache as cache_mod
    from jupyter_llmops import prompts
    from jupyter_llmops.cache import cache_clear, cache_stats
    from jupyter_llmops.llm import complete
    import mlflow  # noqa: F401  (imported up front: the recorder's first import races the caller, see the report)
    _, small = env
    s = st.updated(cache="on", cache_threshold="0.85")
    cache_clear(s)
    miss = complete("What is the capital of Italy?", small, max_tokens=12, settings=s)
    from unittest import mock
    from jupyter_llmops import llm as llm_mod
    with mock.patch.object(llm_mod, "_local", side_effect=AssertionError("a cache hit asked the model")):  # served without generating
        hit = complete("What is the capital of Italy?", small, max_tokens=12, settings=s)
        para = complete("What's the capital city of Italy?", small, max_tokens=12, settings=s)
    assert not miss.cached and hit.cached and para.cached and hit.text == miss.text and hit.cost == 0
    assert not complete("What is the capital of Italy?", small, max_tokens=13, settings=s).cached  # another max_tokens
    assert not complete("Name a large ocean.", small, max_tokens=12, settings=s).cached             # another meaning
    assert not complete("What is the capital of Italy?", small, max_tokens=12, temperature=0.7, settings=s).cached  # sampling
    assert not complete("What is the capital of Italy?", "local", max_tokens=12, settings=s).cached  # another model
    prompts.register("capq", "What is the capital of {{country}}?", settings=s)
    assert not complete(prompts.render("capq/1", s, country="Italy"), small, max_tokens=12, settings=s).cached  # a prompt version
    assert complete(prompts.render("capq/1", s, country="Italy"), small, max_tokens=12, settings=s).cached
    prompts.register("capq", "Which city is the capital of {{country}}?", settings=s)
    assert cache_stats(s).stale == 1  # the capq/1 entry: a newer version exists
    st1 = cache_stats(s)
    assert st1.hits == 3 and st1.lookups == 8 and st1.saved > 0  # the sampled call did not look
    # the model's weights change: its entries are stale, and never served
    cfg = Path(small[3:]) / "config.json"
    os.utime(cfg, (time.time() + 5, time.time() + 5)); cache_mod._fps.clear()
    assert cache_stats(s).stale >= 4
    assert not complete("What is the capital of Italy?", small, max_tokens=12, settings=s).cached
    assert cache_clear(s, stale_only=True).stale == 0
    from jupyter_llmops.recorder import recorded_calls
    calls = recorded_calls("1h", s)
    assert calls.cached.sum() >= 3


def test_budget_alert_then_hard_refusal(env, st, webhook):
    from jupyter_llmops import prompts
    from jupyter_llmops.budget import BudgetExceeded, budget_status
    from jupyter_llmops.llm import complete
    _, small = env
    s = st.updated(budget_daily="bq=0.0001", budget_alert_share="0.5", alert_webhook=f"{webhook.url}/h")
    prompts.register("bq", "Answer briefly: {{q}}", settings=s)
    for i in range(20):  # ~30 tokens at $0.002/1k: ~$0.00006 a call
        complete(prompts.render("bq/1", s, q=f"what is {i} plus {i}?"), "local", max_tokens=8, settings=s)
        if webhook.got: break
    assert webhook.got and webhook.got[0]["alerts"][0]["group"] == "budget bq" and webhook.got[0]["alerts"][0]["metric"] == "budget_daily"
    hard = s.updated(budget_hard="on")
    with pytest.raises(BudgetExceeded, match="daily budget of \\$0.0001 for prompt bq is spent"):
        for i in range(20): complete(prompts.render("bq/1", s, q=f"what is {i} times {i}?"), "local", max_tokens=8, settings=hard)
    complete("not under the prompt's budget", small, max_tokens=4, settings=hard)  # the project has no budget
    assert budget_status(hard).rows[0]["share"] >= 1


@pytest.fixture
def bare(tmp_path, monkeypatch):
    "A project of its own, no model loaded: routes over openai: specs that are never called."
    monkeypatch.chdir(tmp_path)
    for k in [k for k in os.environ if k.startswith("LLMOPS_")]: monkeypatch.delenv(k)
    (tmp_path / "settings.ini").write_text("[llmops]\nhome = home\nexperiment = bare\n")
    return tmp_path


def test_route_eval_embeds_as_the_router_does_after_embed_model_changes(bare):
    "The project's embed_model changed after training (for RAG): routing still embeds with the router's model, and so must route eval."
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.routing import get_route, learned_choice
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    data = _table(bare / "t.jsonl", _score_rows(60, weak, strong))
    dispatch(["route", "add", "e1", "--models", f"{weak},{strong}", "--policy", "learned"])
    dispatch(["route", "train", "e1", "--data", data])
    before = dispatch(["route", "eval", "e1", "--data", data, "--no-log"]).metrics
    (bare / "settings.ini").write_text("[llmops]\nhome = home\nexperiment = bare\nembed_model = hf:/nowhere/another-embedder\n")
    learned_choice("What is 2 plus 2?", get_route("e1", load_settings()), load_settings())  # routing: the router's model
    assert dispatch(["route", "eval", "e1", "--data", data, "--no-log"]).metrics == before



def test_route_eval_of_a_cascade_of_three_says_its_middle_model_is_not_measured(bare):
    "A cascade asks every model in turn: a table of its first and last model's scores cannot show what the middle one answers or costs."
    import warnings
    from jupyter_llmops.commands import dispatch
    weak, mid, strong = "openai:cheap@http://127.0.0.1:9", "openai:mid@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    data = _table(bare / "t.jsonl", _score_rows(40, weak, strong))
    dispatch(["route", "add", "c3", "--models", f"{weak},{mid},{strong}", "--policy", "cascade"])
    for argv in (["route", "eval", "c3", "--data", data, "--no-log"], ["route", "calibrate", "c3", "--data", data, "--strong-share", "0.4"]):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            dispatch(argv)
        assert any("what openai:mid@http://127.0.0.1:9 answers and costs on the way is not measured" in str(x.message) for x in w), (argv, [str(x.message) for x in w])


def test_cache_eval_counts_a_labelled_duplicate_found_from_another_line_as_right(bare):
    """Strangers made the usual way (each pair's query against the next pair's stored question, GPTCache's mock data)
    ask queries whose own duplicates sit in the same cache: finding them is a right answer, not a wrong one."""
    import numpy as np
    from jupyter_llmops.cache_eval import evaluate_cache
    from jupyter_llmops.config import load_settings
    words = ["capital", "france", "printer", "reset", "python", "install"]
    def bag(texts):  # a toy embedding: the words above
        v = np.array([[t.lower().count(w) + 0.01 for w in words] for t in texts], dtype="float32")
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    pairs = [("What is the capital of France?", "Which city is the capital of France?"), ("How do I reset a printer?", "How can I reset my printer?"),
             ("How do I install Python?", "How can I install Python?")]
    rows = [dict(stored=a, query=b, duplicate=True) for a, b in pairs]
    rows += [dict(stored=pairs[(i + 1) % 3][0], query=b, duplicate=False) for i, (a, b) in enumerate(pairs)]
    ev = evaluate_cache(_table(bare / "pairs.jsonl", rows), thresholds=[0.8], settings=load_settings(), embed=bag, log=False)
    assert ev.table.hit_rate.tolist() == [1.0] and ev.table.wrong_rate.tolist() == [0.0] and ev.recommended == 0.8


def test_cache_entries_of_another_embedding_size_never_block_new_ones(tmp_path):
    "The folder behind embed_model = hf:./emb now holds a model of another size: its old entries are passed over, its new ones served."
    import numpy as np
    from jupyter_llmops.cache import SemanticCache
    key, rng = ("openai:m@http://127.0.0.1:9", "m", "", "", "", "", "ctx"), np.random.default_rng(0)
    unit = lambda n: (lambda v: v / np.linalg.norm(v))(rng.normal(size=n).astype("float32"))
    old = SemanticCache(tmp_path / "semantic.db", "hf:./emb")
    old.add(key, ["q1", "q2"], [unit(384), unit(384)], ["a1", "a2"])
    old.candidates(key, unit(384))  # that process's index is loaded at the old size
    v = unit(768)
    for c in (old, SemanticCache(tmp_path / "semantic.db", "hf:./emb")):  # the process that was running, and a new one
        assert c.candidates(key, v, 5, 0.9) == []
    old.add(key, ["q new"], [v], ["a new"])
    for c in (old, SemanticCache(tmp_path / "semantic.db", "hf:./emb")):
        assert [x[3] for x in c.candidates(key, v, 5, 0.9)] == ["a new"]


def test_route_train_on_recorded_calls_judges_the_models_answers_not_the_caches(bare, monkeypatch):
    """Calls come newest first, and a question asked again is served by the cache: its answer is a like question's
    (Madrid for *Spain's capital*, served *Portugal's*), not what the model answers; judged as the model's, it taught the router."""
    import pandas as pd
    from jupyter_llmops import evaluators, recorder
    from jupyter_llmops.route_train import scores_from_calls
    from jupyter_llmops.routing import Route
    from jupyter_llmops.config import load_settings
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    rows = []
    for i in range(4):
        q = f"What is the capital of country {i}?"
        rows += [dict(model=weak, question=q, answer="served from the cache", cached=True),  # newest first
                 dict(model=weak, question=q, answer=f"the model's answer {i}", cached=False),
                 dict(model=strong, question=q, answer=f"the strong answer {i}", cached=False)]
    calls = pd.DataFrame([{**r, "error": False, "context": []} for r in rows])
    monkeypatch.setattr(recorder, "recorded_calls", lambda since, s: calls)
    judged = []
    monkeypatch.setattr(evaluators, "evaluate_call", lambda q, a, ctx, evs, s: (judged.append(a), {evs[0]: 1.0})[1])
    scores_from_calls(Route("r", [weak, strong], "learned"), "7d", load_settings())
    assert "served from the cache" not in judged and len(judged) == 8


def test_rules_route_keywords_ending_in_a_sign_send_requests_up(bare):
    "route_keywords = c++, c#: a word boundary after a sign needs a letter next, so *fix a c++ segfault* went to the cheap model."
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.routing import rules_choice
    (bare / "settings.ini").write_text("[llmops]\nhome = home\nroute_keywords = c++,c#,code\n")
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    r, s = dispatch(["route", "add", "kw", "--models", f"{weak},{strong}"]), load_settings()
    assert [rules_choice(q, r, s) for q in ("How do I fix a c++ segfault?", "Explain C# delegates", "Where is the codec?", "Name a fruit.")] == [strong, strong, weak, weak]


def test_rules_calibrated_below_its_keyword_share_says_so(bare):
    "Every rules threshold sends a keyword question up: --strong-share 0.1 on a table where half hold *why* cannot be met, and is said."
    import warnings
    from jupyter_llmops.commands import dispatch
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    rows = [{"question": ("why " if i % 2 else "") + "is the sky blue" + " today" * (i % 7), "scores": {weak: 0.5, strong: 1.0}} for i in range(40)]
    dispatch(["route", "add", "rk", "--models", f"{weak},{strong}", "--policy", "rules"])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ev = dispatch(["route", "calibrate", "rk", "--data", _table(bare / "t.jsonl", rows), "--strong-share", "0.1"])
    assert ev.metrics["share"] == 0.5
    assert any("no threshold sends only 10%" in str(x.message) and "the least is 50%" in str(x.message) for x in w), [str(x.message) for x in w]


def test_cache_eval_measures_the_cache_as_it_runs_without_verification(bare):
    "cache_verify = off serves the nearest entry above the threshold: its wrong answers, and the threshold recommended, are plain cosine's."
    import numpy as np
    from jupyter_llmops.cache_eval import evaluate_cache
    from jupyter_llmops.config import load_settings
    words = ["reset", "laserjet", "hotel", "best", "capital", "france"]
    def bag(texts):  # a toy embedding: the printer models and the states look alike
        v = np.array([[t.lower().count(w) + 0.01 for w in words] for t in texts], dtype="float32")
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    rows = [dict(stored="How do I reset an HP LaserJet 1020?", query="How do I reset an HP LaserJet 1018?", duplicate=False),
            dict(stored="What is the capital of France?", query="Which city is the capital of France?", duplicate=True)]
    f = _table(bare / "pairs.jsonl", rows)
    assert evaluate_cache(f, thresholds=[0.8], settings=load_settings(), embed=bag, log=False).table.wrong_rate.tolist() == [0.0]
    (bare / "settings.ini").write_text("[llmops]\nhome = home\ncache_verify = off\n")
    ev = evaluate_cache(f, thresholds=[0.8], settings=load_settings(), embed=bag, log=False)
    assert ev.table.wrong_rate.tolist() == [0.5] and ev.recommended is None and "without verification" in repr(ev)


def test_a_rag_call_is_routed_by_its_question_not_its_retrieved_context(bare):
    """ask --rag sends "Context: <chunks> Question: <q>" with the question in llmops.question (what the cache and the
    recorder, and so route train --since, read): the rules counted the context's words, so every RAG call went to the
    strong model."""
    from conftest import chat_server
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.llm import complete
    url, seen, srv = chat_server(lambda prompt, body: (200, "an answer"))
    try:
        weak, strong = f"openai:cheap@{url}", f"openai:capable@{url}"
        dispatch(["route", "add", "rag", "--models", f"{weak},{strong}", "--policy", "rules"])
        context = " ".join(f"Chunk {i} of the handbook says the office opens at nine." for i in range(20))  # 200 words
        c = complete(f"Context:\n{context}\n\nQuestion: When does the office open?", "route:rag", max_tokens=8, settings=load_settings(),
                     record=False, trace_attrs={"llmops.question": "When does the office open?"})
        assert c.model == weak
        assert complete("When does the office open? " + context, "route:rag", max_tokens=8, settings=load_settings(), record=False).model == strong
    finally: srv.shutdown()


def test_route_train_on_recorded_calls_finds_a_model_whose_url_holds_a_key(bare, monkeypatch):
    "The recorder keeps a model spec with its URL's key masked: the route's own spec (key in clear) matched none of its calls."
    import pandas as pd
    from jupyter_llmops import evaluators, recorder
    from jupyter_llmops.redaction import redact
    from jupyter_llmops.route_train import scores_from_calls
    from jupyter_llmops.routing import Route
    from jupyter_llmops.config import load_settings
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@https://bob:s3cretPW1234@llm.example.com/v1"
    calls = pd.DataFrame([dict(model=redact(m), question=f"What is {i} plus {i}?", answer="an answer", cached=False, error=False, context=[])
                          for i in range(3) for m in (weak, strong)])
    monkeypatch.setattr(recorder, "recorded_calls", lambda since, s: calls)
    monkeypatch.setattr(evaluators, "evaluate_call", lambda q, a, ctx, evs, s: {evs[0]: 1.0})
    assert len(scores_from_calls(Route("r", [weak, strong], "learned"), "7d", load_settings())) == 3


def test_a_score_table_error_shows_no_key_of_a_models_url(bare, tmp_path):
    "A notebook cell shows a UsageError as its text (the CLI masks keys, a cell did not): a table that misses a model named the spec, key in clear."
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.errors import UsageError
    key = "s3cretPW1234"
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.routing import Route, save_route
    weak, strong = "openai:cheap@http://127.0.0.1:9", f"openai:capable@https://bob:{key}@llm.example.com/v1"
    save_route(Route("k2", [weak, strong], "learned"), load_settings())  # a route file of a kit before `route add` refused such a spec
    for rows in ([{"question": "q", "scores": {weak: 1}}], [{"question": f"q{i}", "scores": {weak: 1, strong: "high"}} for i in range(3)]):
        with pytest.raises(UsageError) as e:
            dispatch(["route", "train", "k2", "--data", _table(tmp_path / "t.jsonl", rows)])
        assert key not in e.value._render_traceback_()[0] and "bob:***@" in e.value._render_traceback_()[0]


def test_cache_eval_counts_a_query_finding_itself_stored_as_right(bare):
    "Pairs that chain (A~B, B~C, as Quora's duplicates do) store B, and query B finds it word for word: served its own answer, not a wrong one."
    import numpy as np
    from jupyter_llmops.cache_eval import evaluate_cache
    from jupyter_llmops.config import load_settings
    words = ["capital", "france", "city", "printer"]
    def bag(texts):
        v = np.array([[t.lower().count(w) + 0.01 for w in words] for t in texts], dtype="float32")
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    rows = [dict(stored="What is the capital of France?", query="Which city is the capital of France?", duplicate=True),
            dict(stored="Which city is the capital of France?", query="France's capital city?", duplicate=True)]
    ev = evaluate_cache(_table(bare / "chain.jsonl", rows), thresholds=[0.8], settings=load_settings(), embed=bag, log=False)
    assert ev.table.wrong_rate.tolist() == [0.0] and ev.table.hit_rate.tolist() == [1.0]


def test_a_damaged_cache_file_names_its_fix_at_every_call(bare):
    "A cache file cut short: the model answers, and the warning says how to get the cache back (it said only that it could not be read)."
    import warnings
    from conftest import chat_server
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.llm import complete
    (bare / "settings.ini").write_text("[llmops]\nhome = home\ncache = on\n")
    s = load_settings()
    p = s.path("cache", "semantic.db"); p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    url, seen, srv = chat_server(lambda prompt, body: (200, "Paris"))
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert complete("What is the capital of France?", f"openai:m@{url}", max_tokens=8, settings=s, record=False).text == "Paris"
    finally: srv.shutdown()
    assert any("could not be read" in str(x.message) and "`%llmops cache clear` moves the damaged file aside" in str(x.message) for x in w), [str(x.message) for x in w]


def test_a_damaged_route_is_removed_or_added_again(bare):
    "A route file holding `[]`: remove and add both read it and refused, and the hint named them as the fix (a probe found it)."
    import warnings
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.errors import NotFoundError
    from jupyter_llmops.routing import get_route, route_path, router_path
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    s = load_settings()
    for name in ("d1", "d2"):
        dispatch(["route", "add", name, "--models", f"{weak},{strong}"])
        route_path(name, s).write_text("[]"); router_path(name, s).write_bytes(b"old router")
    assert "route d1 removed" in str(dispatch(["route", "remove", "d1"]))
    assert not route_path("d1", s).exists() and not router_path("d1", s).exists()
    with pytest.raises(NotFoundError): get_route("d1", s)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dispatch(["route", "add", "d2", "--models", f"{weak},{strong}", "--policy", "cascade"])
    assert get_route("d2", s).models == [weak, strong] and get_route("d2", s).policy == "cascade"
    assert any("a route file holds a JSON object: replaced by the new route" in str(x.message) for x in w), [str(x.message) for x in w]


def test_a_model_spec_with_a_key_before_the_host_is_refused_before_it_is_written(bare):
    "`route add` saved the key into the route file, `llm use` into settings.ini (warned only); `ask` already refused the spec (a probe found it)."
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.errors import UsageError
    key = "sk-proj-ABCDEF1234567890abcdef"
    spec = f"openai:gpt-4o@https://user:{key}@host/v1"
    before = (bare / "settings.ini").read_text()
    for argv in (["route", "add", "r2", "--models", f"local,{spec}"], ["llm", "use", spec], ["config", "set", "llm", spec],
                 ["config", "set", "judge_llm", spec]):
        with pytest.raises(UsageError) as e: dispatch(argv)
        shown = e.value._render_traceback_()[0]
        assert "holds a user name or key before '@'" in shown and "user:***@host" in shown and key not in shown, (argv, shown)
    assert (bare / "settings.ini").read_text() == before and not list(bare.rglob("r2.json"))
    assert key not in "".join(p.read_text(errors="replace") for p in bare.rglob("*") if p.is_file())


def test_a_score_table_of_one_question_is_said_as_such_after_its_values_are_checked(bare, tmp_path):
    "One line with both models' scores was said as a table missing them ('it scores hf:gpt2, local'), a NaN or a 5 on it too (a probe found it)."
    from jupyter_llmops.commands import dispatch
    from jupyter_llmops.errors import UsageError
    weak, strong = "openai:cheap@http://127.0.0.1:9", "openai:capable@http://127.0.0.1:9"
    dispatch(["route", "add", "one", "--models", f"{weak},{strong}"])
    want = {0.5: "only 1 question scores both", float("nan"): "is NaN, not a number", 5: "is 5; scores are numbers in [0, 1]"}
    for v, said in want.items():
        data = _table(tmp_path / "one.jsonl", [{"question": "q1", "scores": {weak: v, strong: 0.9}}])
        for argv in (["route", "eval", "one", "--data", data, "--no-log"], ["route", "train", "one", "--data", data]):
            with pytest.raises(UsageError) as e: dispatch(argv)
            assert said in e.value.message and "needs both models' scores" not in e.value.message, (argv, e.value.message)
