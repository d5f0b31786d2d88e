"""Cost of recording LLM calls: the kit's recorder against the call unrecorded and against `@mlflow.trace` by hand.

In one process, for a no-op call and for a real local-model call (SmolLM2, 8 new tokens): the time added on the
caller's path, and the total CPU per recorded call (all threads, measured after everything is flushed to MLflow).
Goal: caller-path overhead under 0.1 ms; total CPU per recorded call under a tenth of MLflow's. On a SQL store the kit
writes rows in bulk; the "kit via log_spans" row shows its fallback path (HTTP stores) on the same calls.
Run: .venv/bin/python bench/monitor.py [--calls N]"""
import argparse, atexit, os, shutil, statistics, tempfile, time, warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
home = tempfile.mkdtemp(prefix="llmops-bench-mon-")
atexit.register(shutil.rmtree, home, True)  # the bench's model copies and runs go when it ends
os.environ.update(LLMOPS_HOME=home, LLMOPS_EXPERIMENT="bench-monitor")


def per_call(fn, n):
    "Median caller-path seconds per call, and CPU seconds (all threads) for the n calls."
    ts, c0 = [], time.process_time()
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    n = ap.parse_args().calls
    import mlflow
    from jupyter_llmops import llm, recorder
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.mlstore import connect, ensure_experiment
    s = load_settings()
    connect(s); mlflow.set_experiment(experiment_id=ensure_experiment(s.experiment, s))
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    done = llm.Completion("Paris.", "noop", llm.Usage(12, 3), 0.0, 0.0)

    def noop(): return done
    def kit_noop():
        t0 = time.time_ns(); c = noop(); llm._record(s, "noop", msgs, c, t0, time.time_ns()); return c
    @mlflow.trace(span_type="LLM")
    def mlflow_noop(messages): return noop()

    rows = []
    for name, fn, flush, bulk in [("no-op, unrecorded", noop, None, True), ("no-op, jupyter-llmops", kit_noop, recorder.flush, True),
                                  ("no-op, @mlflow.trace", lambda: mlflow_noop(msgs), mlflow.flush_trace_async_logging, True),
                                  ("no-op, kit via log_spans", kit_noop, recorder.flush, False)]:
        recorder.RECORDER.bulk = bulk  # False: the kit's fallback path (HTTP stores), MLflow's log_spans on the same spans
        fn()
        if flush: flush()
        c0 = time.process_time()
        t, _ = per_call(fn, n)
        if flush: flush()
        rows.append((name, t, (time.process_time() - c0) / n))
    recorder.RECORDER.bulk = True
    base_t, base_c = rows[0][1], rows[0][2]
    print(f"recording a call, {n} calls each, one process (CPU: all threads, after flushing to MLflow)")
    print(f"{'what':<34}{'caller path':>14}{'added':>12}{'CPU / call':>13}{'added CPU':>12}")
    for name, t, c in rows:
        print(f"{name:<34}{t * 1e3:>11.4f} ms{(t - base_t) * 1e3:>9.4f} ms{c * 1e3:>10.3f} ms{(c - base_c) * 1e3:>9.3f} ms")
    kit, ml = rows[1], rows[2]
    print(f"no-op: caller-path overhead {(kit[1] - base_t) * 1e3:.4f} ms (goal < 0.1 ms); "
          f"CPU per recorded call {(kit[2] - base_c) * 1e3:.2f} ms = 1/{(ml[2] - base_c) / max(kit[2] - base_c, 1e-9):.1f} of MLflow's "
          f"{(ml[2] - base_c) * 1e3:.1f} ms (goal: under a tenth)")
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("LLM call recording", f"kit recorder vs `@mlflow.trace` on a no-op call, {n} calls",
        f"caller path +{(kit[1] - base_t) * 1e3:.3f} ms (goal < 0.1 ms); CPU per recorded call {(kit[2] - base_c) * 1e3:.2f} ms vs "
        f"{(ml[2] - base_c) * 1e3:.1f} ms: 1/{(ml[2] - base_c) / max(kit[2] - base_c, 1e-9):.0f} (goal <= 1/10)", f"python bench/monitor.py --calls {n}")
    print(f"(the kit wrote {recorder.RECORDER.written - recorder.RECORDER.via_log_spans} calls as bulk SQL rows, "
          f"{recorder.RECORDER.via_log_spans} through log_spans; tracking store {s.tracking_uri.split(':')[0]})")

    m = 5
    llm.complete("warm up", "local", max_tokens=8, settings=s, record=False)
    @mlflow.trace(span_type="LLM")
    def mlflow_local(q): return llm.complete(q, "local", max_tokens=8, settings=s, record=False)
    real = []
    for name, fn, flush in [("local model, unrecorded", lambda: llm.complete("Name a colour.", "local", max_tokens=8, settings=s, record=False), None),
                            ("local model, jupyter-llmops", lambda: llm.complete("Name a colour.", "local", max_tokens=8, settings=s), recorder.flush),
                            ("local model, @mlflow.trace", lambda: mlflow_local("Name a colour."), mlflow.flush_trace_async_logging)]:
        c0 = time.process_time()
        t, _ = per_call(fn, m)
        if flush: flush()
        real.append((name, t, (time.process_time() - c0) / m))
    print(f"\nreal local-model call (8 new tokens), {m} calls each")
    for name, t, c in real:
        print(f"{name:<34}{t * 1e3:>11.1f} ms{(t - real[0][1]) * 1e3:>9.1f} ms{c * 1e3:>10.1f} ms{(c - real[0][2]) * 1e3:>9.1f} ms")
    print("(on a real call the differences sit inside the generation's own run-to-run noise)")


if __name__ == "__main__":
    main()
