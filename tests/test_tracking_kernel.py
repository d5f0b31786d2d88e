"%%llmops track, runs, compare, model register/alias and the tracking panel, on a real IPython kernel."
import mlflow
import pytest
from kernel import project_kernel
from jupyter_llmops.config import load_settings

FIT = """%%llmops track --experiment churn-k --run-name {name}
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
api_key = "sk-abcdefghijklmnopqrstuvwx"  # a secret that must not reach the artifact
X, y = load_breast_cancer(return_X_y=True)
model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators={n}, random_state=0)).fit(X, y)
model.score(X, y)
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k, proj = project_kernel(tmp_path_factory, "trk", "[llmops]\nexperiment = churn-k\n")
    yield k
    k.close()


@pytest.fixture(scope="module")
def store():
    mlflow.set_tracking_uri(load_settings().tracking_uri)
    return mlflow


def test_track_cell_autologs_a_sklearn_pipeline(kernel, store):
    r = kernel.run(FIT.format(name="rf", n=10))
    assert r.status == "ok", r
    assert any("FINISHED" in d.get("text/html", "") for d in r.data), (r.data, r.stdout, r.stderr[-2000:])  # the run card
    assert float(r.data[0]["text/plain"]) > 0.95  # the cell's last expression (model.score) is displayed
    out = kernel.run("run = _\nprint(run.run_id, run.status, run.params['randomforestclassifier__n_estimators'])")
    run_id, status, n = out.stdout.split()
    assert (status, n) == ("FINISHED", "10")
    run = store.get_run(run_id)
    assert run.data.metrics["training_accuracy_score"] > 0.95 and run.info.run_name == "rf"
    src = store.artifacts.load_text(f"runs:/{run_id}/cell.py")
    assert "RandomForestClassifier" in src and "sk-abc" not in src and 'api_key = "***"' in src
    assert store.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list",
                                      filter_string=f"source_run_id = '{run_id}'")


def test_failing_cell_marks_the_run_failed_and_reraises(kernel, store):
    r = kernel.run("%%llmops track --experiment churn-k --run-name bad\nx = 1\nraise ValueError('boom')")
    assert r.status == "error" and r.ename == "ValueError" and r.evalue == "boom"
    assert "marked FAILED" in "\n".join(r.traceback)
    exp = store.get_experiment_by_name("churn-k")
    bad = store.search_runs([exp.experiment_id], "tags.`mlflow.runName` = 'bad'", output_format="list")
    assert bad[0].info.status == "FAILED"
    assert kernel.run("print(x)").stdout.strip() == "1"  # the cell ran in the user's namespace


def test_runs_compare_register_alias_and_load(kernel, store):
    assert kernel.run(FIT.format(name="rf-small", n=3)).status == "ok"
    r = kernel.run("df = %llmops runs --experiment churn-k --metric training_log_loss --asc --top 5\n"
                   "print(list(df.columns[:2]), list(df.run_name[:2]), len(df))")
    assert r.stdout.startswith("['run_id', 'run_name'] ['rf', 'rf-small']"), r.stdout  # lowest log loss first
    r = kernel.run("%llmops compare rf rf-small --experiment churn-k")
    html = "".join(d.get("text/html", "") for d in r.data)
    assert "randomforestclassifier__n_estimators" in html and "#fff3cd" in html and "data:image/png" in html
    r = kernel.run("v = %llmops model register rf --name churn-clf-k --alias champion --experiment churn-k\nprint(v.name, v.version)")
    assert r.stdout.split() == ["churn-clf-k", "1"], r
    assert kernel.run("%llmops model register rf-small --name churn-clf-k --experiment churn-k").status == "ok"
    model = store.pyfunc.load_model("models:/churn-clf-k@champion")
    assert store.MlflowClient().get_model_version_by_alias("churn-clf-k", "champion").version == 1
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    assert (model.predict(X[:20]) == y[:20]).all()
    r = kernel.run("%llmops model alias churn-clf-k 2 champion")
    assert r.status == "ok"
    assert store.MlflowClient().get_model_version_by_alias("churn-clf-k", "champion").version == 2
    r = kernel.run("%llmops model alias churn-clf-k 7 champion")
    assert r.ename == "NotFoundError" and "Traceback" not in "".join(r.traceback)


def test_panel_renders_as_a_widget(kernel):
    r = kernel.run("p = %llmops panel tracking\nprint(p.model.experiment, len(p.model.runs) >= 2)\np")
    assert "churn-k True" in r.stdout
    assert any("application/vnd.jupyter.widget-view+json" in d for d in r.data)
    r = kernel.run("%llmops panel")
    assert any("application/vnd.jupyter.widget-view+json" in d for d in r.data)
