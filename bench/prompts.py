"""Rendering a registered prompt: the kit's cached `render` against raw `mlflow.genai.load_prompt(...).format(...)`.

In one process, on one SQLite store, per call, medians of repeated batches. The raw path is measured with MLflow's
own default cache (60 s for aliases) and with it bypassed (cache_ttl_seconds=0). Goal: at least 100x faster once
cached.  Run: .venv/bin/python bench/prompts.py"""
import atexit, os, shutil, statistics, tempfile, time, warnings

warnings.filterwarnings("ignore")
home = tempfile.mkdtemp(prefix="llmops-bench-")
atexit.register(shutil.rmtree, home, True)  # the bench's model copies and runs go when it ends
os.environ.update(LLMOPS_HOME=home)


def per_call(fn, n: int, batches: int = 7) -> float:
    "Median seconds per call over `batches` batches of `n` calls."
    out = []
    for _ in range(batches):
        t = time.perf_counter()
        for _ in range(n): fn()
        out.append((time.perf_counter() - t) / n)
    return statistics.median(out)


def main():
    from jupyter_llmops import prompts
    from jupyter_llmops.config import load_settings
    s = load_settings()
    prompts.register("bench-qa", "Answer the question.\nQuestion: {{question}}\nContext: {{context}}", settings=s)
    prompts.register("bench-qa", "Answer briefly, citing sources.\nQuestion: {{question}}\nContext: {{context}}", alias="production", settings=s)
    import mlflow
    v = dict(question="How do I reset my password?", context="Settings > Account > Reset password.")
    kit = lambda: prompts.render("bench-qa@production", s, **v)
    raw = lambda: mlflow.genai.load_prompt("prompts:/bench-qa@production").format(**v)
    raw0 = lambda: mlflow.genai.load_prompt("prompts:/bench-qa@production", cache_ttl_seconds=0).format(**v)
    assert kit().text == raw()
    kit(); raw()  # warm both caches
    t_kit, t_raw, t_raw0 = per_call(kit, 20000), per_call(raw, 200), per_call(raw0, 20)
    print("render a registered prompt by alias, per call (median of 7 batches, one process)")
    print(f"{'what':<46}{'per call':>12}{'kit is':>12}")
    print(f"{'jupyter-llmops render (cached)':<46}{t_kit * 1e6:>9.2f} us{'':>12}")
    print(f"{'mlflow load_prompt().format(), default cache':<46}{t_raw * 1e6:>9.1f} us{t_raw / t_kit:>10.0f}x")
    print(f"{'mlflow load_prompt().format(), no cache':<46}{t_raw0 * 1e6:>9.1f} us{t_raw0 / t_kit:>10.0f}x")
    print(f"speed-up against raw MLflow (its default cache): {t_raw / t_kit:.0f}x (goal >= 100x: {'met' if t_raw / t_kit >= 100 else 'NOT met'})")
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("prompts", "cached `render` vs `mlflow.genai.load_prompt(...).format(...)`",
        f"{t_kit * 1e6:.1f} us vs {t_raw * 1e6:.0f} us: {t_raw / t_kit:.0f}x (goal >= 100x); {t_raw0 / t_kit:,.0f}x vs uncached", "python bench/prompts.py")


if __name__ == "__main__":
    main()
