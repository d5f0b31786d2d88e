"""Cost of recording LLM calls (the kit's recorder against the call unrecorded and against `@mlflow.trace` by hand), and
the monitor over a day of 100,000 recorded calls.

In one process, for a no-op call and for a real local-model call (SmolLM2, 8 new tokens): the time added on the
caller's path, and the total CPU per recorded call (all threads, measured after everything is flushed to MLflow).
Goal: caller-path overhead under 0.1 ms; total CPU per recorded call under a tenth of MLflow's. On a SQL store the kit
writes rows in bulk; the "kit via log_spans" row shows its fallback path (HTTP stores) on the same calls.
Monitor at scale: 100,000 calls in the last 24 h written to the compact call table (a third with retrieved context), their
scores cached as the background scorer leaves them; `monitor --since 24h` timed (median of 3) with the evaluators'
cached scores and without evaluators, against MLflow's `search_traces` reading 10,000 traces (its cap) of the same calls.
Goal: under 3 s.
Run: .venv/bin/python bench/monitor.py [--calls N] [--monitor-calls 100000] [--traces 10000]"""
import argparse, atexit, os, shutil, statistics, sys, tempfile, time, warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
home = tempfile.mkdtemp(prefix="llmops-bench-mon-")
atexit.register(shutil.rmtree, home, True)  # the bench's model copies and runs go when it ends
os.environ.update(LLMOPS_HOME=home, LLMOPS_EXPERIMENT="bench-monitor")
os.environ["LLMOPS_EVAL_ON_RECORD"] = "off"  # recording's own cost; the background evaluators' CPU is the evaluators' (off the caller's path either way)


def per_call(fn, n):
    "Median caller-path seconds per call, and CPU seconds (all threads) for the n calls."
    ts, c0 = [], time.process_time()
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--monitor-calls", type=int, default=100_000)
    ap.add_argument("--traces", type=int, default=10_000, help="traces for MLflow's search_traces comparison (0: skip)")
    args = ap.parse_args()
    n = args.calls
    monitor_at_scale(args.monitor_calls, args.traces)
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


def monitor_at_scale(n: int, n_traces: int):
    "Time `monitor --since 24h` over n calls in the call table (scores cached), and search_traces over n_traces of them."
    import json, random
    from jupyter_llmops.calls import CallTable
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.evaluators import monitor_evaluators
    from jupyter_llmops.monitor import monitor
    h = tempfile.mkdtemp(prefix="llmops-bench-mon100k-")
    atexit.register(shutil.rmtree, h, True)
    s = load_settings(h, environ={"LLMOPS_HOME": h, "HOME": h, "LLMOPS_EXPERIMENT": "bench-100k"})
    rng, now = random.Random(0), int(time.time() * 1000)
    t, names = CallTable.at(s), monitor_evaluators(s)
    ctx = json.dumps([{"source": "docs/guide.md", "text": "MLOps puts models in production and watches them. " * 12}])
    t0 = time.perf_counter()
    for b in range(0, n, 5000):
        rows = [dict(trace_id=f"tr-{i:032x}", ts_ms=now - rng.randrange(86_000_000), experiment="e", model=rng.choice(["local", "hf:./student", "openai:gpt-4o-mini"]),
                     prompt=rng.choice(["", "qa/1", "qa/2"]), route="", error=int(rng.random() < 0.02), cached=0, latency_s=rng.uniform(0.1, 3),
                     cost=rng.uniform(0, 1e-3), prompt_tokens=rng.randrange(20, 400), completion_tokens=rng.randrange(5, 120),
                     question="How do I keep a model's index up to date? " * 2, answer="Rebuild it nightly with rag build; unchanged files are skipped. " * 3,
                     context=ctx if i % 3 == 0 else None) for i in range(b, min(n, b + 5000))]
        t.add(rows)
        t.put_scores([(r["trace_id"], k, None if k == "groundedness" and not r["context"] else rng.random(), "") for r in rows if not r["error"] for k in names])
    fill = time.perf_counter() - t0
    def timed(fn, k=3):
        ts = []
        for _ in range(k):
            a = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - a)
        return statistics.median(ts), out
    te, m = timed(lambda: monitor("24h", "model", s, alert=False))
    tn, _ = timed(lambda: monitor("24h", "model", s, evaluate=False, alert=False))
    print(f"monitor over {len(m.calls):,} calls of the last 24h (call table filled in {fill:.1f} s):")
    print(f"  with evaluator scores (cached) {te:.2f} s; without evaluators {tn:.2f} s (goal < 3 s)")
    print(m.summary[["calls", "error_rate", "latency_p95", "groundedness", "hallucination_rate", "flagged"]].to_string())
    line = f"monitor --since 24h over {len(m.calls):,} calls: {te:.2f} s with cached scores, {tn:.2f} s without (goal < 3 s)"
    if n_traces:
        import mlflow
        from jupyter_llmops import recorder
        from jupyter_llmops.mlstore import connect, ensure_experiment
        connect(s); eid = ensure_experiment(s.experiment, s)
        t_ns = time.time_ns()
        for i in range(n_traces):
            recorder.RECORDER.submit(s, dict(model="local", messages=[{"role": "user", "content": "How do I keep an index up to date?"}],
                                             text="Rebuild it nightly.", start_ns=t_ns - i * 10**6, end_ns=t_ns - i * 10**6 + 10**8, attrs={"llmops.latency_s": 0.1}))
        recorder.flush(600)
        a = time.perf_counter()
        got = mlflow.search_traces(locations=[eid], filter_string=f"trace.timestamp_ms > {now - 86_400_000}", return_type="list", max_results=n_traces)
        ts = time.perf_counter() - a
        print(f"  MLflow search_traces reading {len(got):,} traces of the window: {ts:.1f} s ({ts / max(len(got), 1) * 1e3:.2f} ms a trace; "
              f"it stops at 10,000); the kit's monitor over {len(m.calls):,} calls is {ts / te:.0f}x faster than that read alone")
        line += f"; MLflow search_traces over {len(got):,} traces {ts:.1f} s"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("Monitor at scale", f"kit monitor (compact call table) vs MLflow search_traces", line, f"python bench/monitor.py --monitor-calls {n}")


if __name__ == "__main__":
    main()
