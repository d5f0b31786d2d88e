"""Pipelines: the runner's overhead against a plain papermill loop, parallel speed-up, tick-to-kernel delay, claim throughput.

In one process, on a trivial notebook (a parameters cell, one glue):
1. N notebooks through the runner (parallelism 1: papermill + output folder + HTML copy + MLflow run) against
   `papermill.execute_notebook` in a loop — goal: ratio <= 1.10;
2. N independent steps of a pipeline with parallelism 2 against parallelism 1 — goal: >= 1.6x faster;
3. a scheduler (poll 0.1 s) on a cron firing every second: delay from the due tick to the kernel launch — goal < 1 s;
4. tick claims per second on the SQLite jobs database (one claimer; two racing claimers, each tick won once).
Wall-clock medians (the kernels are other processes, so CPU time of this process would not show their cost).
Run: .venv/bin/python bench/pipelines.py [--n 6]"""
import argparse, atexit, os, shutil, statistics, tempfile, threading, time, warnings
from pathlib import Path

warnings.filterwarnings("ignore")
work = Path(tempfile.mkdtemp(prefix="llmops-bench-pipe-"))
atexit.register(shutil.rmtree, work, True)  # the bench's model copies and runs go when it ends
os.environ.update(LLMOPS_HOME=str(work / "home"), LLMOPS_EXPERIMENT="bench-pipelines")
(work / "settings.ini").write_text("[llmops]\nexperiment = bench-pipelines\n")
os.chdir(work)


def trivial(path: Path, sleep: float = 0.0):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("k = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell((f"import time; time.sleep({sleep})\n" if sleep else "") + "import jupyter_llmops as llmops\nllmops.glue('double', k * 2)")]
    nbformat.write(nb, path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6, help="notebooks per measurement")
    n = ap.parse_args().n
    import papermill as pm
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.pipelines.dag import run_pipeline
    from jupyter_llmops.pipelines.runner import execute, run_notebook
    from jupyter_llmops.pipelines.scheduler import Scheduler, default_runner
    from jupyter_llmops.pipelines.store import JobStore
    s = load_settings()
    nb = trivial(work / "trivial.ipynb")
    run_notebook(nb, {"k": 0}, settings=s)  # warm: MLflow store created, nbconvert templates loaded
    pm.execute_notebook(str(nb), str(work / "warm.ipynb"), parameters={"k": 0}, progress_bar=False, kernel_name="python3")

    # 1. runner vs papermill, interleaved so that load changes hit both
    t_pm, t_run = [], []
    for i in range(n):
        t = time.perf_counter()
        pm.execute_notebook(str(nb), str(work / f"pm-{i}.ipynb"), parameters={"k": i}, progress_bar=False, kernel_name="python3", cwd=str(work))
        t_pm.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = run_notebook(nb, {"k": i}, settings=s)
        t_run.append(time.perf_counter() - t)
        assert r.ok and r.glue == {"double": 2 * i}
    mp, mr = statistics.median(t_pm), statistics.median(t_run)
    print(f"1. trivial notebook, median of {n}: papermill {mp:.2f}s, runner (papermill + HTML + MLflow) {mr:.2f}s -> ratio {mr / mp:.2f} (goal <= 1.10)")

    # 2. pipeline of n independent steps: parallelism 2 vs 1
    steps = "".join(f"  s{i}: {{notebook: trivial.ipynb, params: {{k: {i}}}}}\n" for i in range(n))
    (work / "wide.yaml").write_text(f"name: wide\nsteps:\n{steps}")
    walls = {}
    for par in (1, 2, 1, 2):
        t = time.perf_counter()
        res = run_pipeline(work / "wide.yaml", parallel=par, settings=s)
        walls.setdefault(par, []).append(time.perf_counter() - t)
        assert res.status == "succeeded"
    w1, w2 = statistics.median(walls[1]), statistics.median(walls[2])
    print(f"2. {n} independent steps: parallelism 1 {w1:.2f}s, parallelism 2 {w2:.2f}s -> {w1 / w2:.2f}x faster (goal >= 1.6x; {os.cpu_count()} CPUs)")

    # 3. delay from a due tick to the kernel launch
    delays = []
    def runner(sch, row, settings, kernel):
        r = default_runner(sch, row, settings, kernel)
        delays.append(r.kernel_started - row.tick)
        return r
    store = JobStore(settings=s)
    store.add("tick", str(nb), str(work), "* * * * * */3")
    sch, stop = Scheduler(s, poll=0.1, runner=runner, store=store), threading.Event()
    th = threading.Thread(target=sch.serve, args=(stop,), daemon=True); th.start()
    t_end = time.time() + 60
    while len(delays) < min(n, 5) and time.time() < t_end: time.sleep(0.1)
    stop.set(); th.join(10)
    print(f"3. due tick -> kernel launch: median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms over {len(delays)} ticks (goal < 1 s)")

    # 4. claim throughput
    db = JobStore(f"sqlite:///{work}/claims.db")
    m = 400
    for i in range(2 * m): db.add(f"c{i}", str(nb), str(work), "* * * * *")  # one schedule per tick: each may have one running attempt
    t = time.perf_counter()
    for i in range(m): assert db.claim_tick(f"c{i}", float(i), "a", 30)
    one = m / (time.perf_counter() - t)
    a, b, won = JobStore(f"sqlite:///{work}/claims.db"), JobStore(f"sqlite:///{work}/claims.db"), []
    def race(st, who):
        for i in range(m, 2 * m):
            if st.claim_tick(f"c{i}", float(i), who, 30): won.append(i)
    t = time.perf_counter()
    ths = [threading.Thread(target=race, args=(x, w)) for x, w in ((a, "a"), (b, "b"))]
    for x in ths: x.start()
    for x in ths: x.join()
    two = m / (time.perf_counter() - t)
    assert sorted(won) == list(range(m, 2 * m))
    print(f"4. tick claims on SQLite: {one:.0f}/s with one claimer; {two:.0f} ticks/s with two racing claimers, each of {m} ticks won exactly once")
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("pipelines", f"runner (papermill + output folder + HTML + MLflow run) vs `papermill.execute_notebook`, trivial notebook, median of {n}; "
        f"{n} independent steps at parallelism 2 vs 1", f"{mr / mp:.2f}x papermill's time; {w1 / w2:.2f}x faster in parallel; "
        f"due tick to kernel launch {statistics.median(delays) * 1000:.0f} ms; {one:.0f} tick claims/s", f"python bench/pipelines.py --n {n}")


if __name__ == "__main__":
    main()
