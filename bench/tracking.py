"""Overhead of `%%llmops track` around a small scikit-learn fit, against the same fit in
`with mlflow.start_run(): mlflow.sklearn.autolog()` written by hand.

Both run in this one process, on the same SQLite store, alternately, after one warm-up each; medians are printed.
Goal: overhead ratio at most 1.10.  Run: .venv/bin/python bench/tracking.py [--runs N]"""
import argparse, atexit, os, shutil, statistics, tempfile, time, warnings

warnings.filterwarnings("ignore")
home = tempfile.mkdtemp(prefix="llmops-bench-")
atexit.register(shutil.rmtree, home, True)  # the bench's model copies and runs go when it ends
os.environ.update(LLMOPS_HOME=home, LLMOPS_EXPERIMENT="bench")

CELL = """from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = load_breast_cancer(return_X_y=True)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    n = ap.parse_args().runs
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_llmops")
    import mlflow, mlflow.sklearn
    from jupyter_llmops.config import load_settings
    mlflow.set_tracking_uri(load_settings().tracking_uri)
    eid = mlflow.create_experiment("bench-raw", artifact_location=f"file://{home}/mlruns/bench-raw")

    def raw():
        with mlflow.start_run(experiment_id=eid):
            mlflow.sklearn.autolog(silent=True)
            exec(CELL, {})

    def kit():
        ip.run_cell_magic("llmops", "track --experiment bench --run-name b", CELL)

    times = {"hand-written MLflow": [], "%%llmops track": []}
    raw(); kit()  # warm-up: imports, autolog patching, table creation
    for _ in range(n):
        for name, fn in (("hand-written MLflow", raw), ("%%llmops track", kit)):
            t = time.perf_counter(); fn(); times[name].append(time.perf_counter() - t)
    base = statistics.median(times["hand-written MLflow"])
    print(f"tracked scikit-learn fit (LogisticRegression pipeline, breast_cancer), median of {n} runs each, one process")
    print(f"{'what':<22}{'median s':>10}{'ratio':>8}")
    for name, ts in times.items():
        print(f"{name:<22}{statistics.median(ts):>10.3f}{statistics.median(ts) / base:>8.3f}")
    r = statistics.median(times["%%llmops track"]) / base
    print(f"overhead ratio {r:.3f} (goal <= 1.10: {'met' if r <= 1.10 else 'NOT met'})")
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("tracking", f"`%%llmops track` vs hand-written `mlflow.start_run()` + `mlflow.sklearn.autolog()` around the same fit (median of {n})",
        f"{r:.3f}x (goal <= 1.10)", f"python bench/tracking.py --runs {n}")


if __name__ == "__main__":
    main()
