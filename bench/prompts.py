"""Rendering a registered prompt: the kit's cached `render` against raw `mlflow.genai.load_prompt(...).format(...)`;
listing every prompt with its versions and aliases (`prompt list`, the sidebar's Prompts) against MLflow's public API.

In one process, on one SQLite store, per call, medians of repeated batches; the kit's batches and raw MLflow's take
turns (kit, MLflow, kit, ...), so a busy moment on a shared machine slows both sides rather than one. The raw path is
measured with MLflow's own default cache (60 s for aliases) and with it bypassed (cache_ttl_seconds=0). Goal: at least
100x faster once cached. The listing: 100 prompts of 3 versions, one alias each; MLflow's public API gives a version's
aliases one version at a time (`search_prompts`, then `search_prompt_versions` and `get_prompt_version` for each), the
kit reads the registered prompts (their newest versions and aliases come with them) in one search and counts the
versions in one query.  Run: .venv/bin/python bench/prompts.py"""
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


def per_call_turns(a, na: int, b, nb: int, batches: int) -> tuple[float, float]:
    "Median seconds per call of `a` and of `b` over `batches` batches each (`na`, `nb` calls), the two taking turns."
    ta, tb = [], []
    for _ in range(batches):
        for fn, n, out in ((a, na, ta), (b, nb, tb)):
            t = time.perf_counter()
            for _ in range(n): fn()
            out.append((time.perf_counter() - t) / n)
    return statistics.median(ta), statistics.median(tb)


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
    t_kit, t_raw = per_call_turns(kit, 20000, raw, 200, 21)
    t_raw0 = per_call(raw0, 20)
    print("render a registered prompt by alias, per call (medians of 21 batches taking turns; uncached: 7 batches; one process)")
    print(f"{'what':<46}{'per call':>12}{'kit is':>12}")
    print(f"{'jupyter-llmops render (cached)':<46}{t_kit * 1e6:>9.2f} us{'':>12}")
    print(f"{'mlflow load_prompt().format(), default cache':<46}{t_raw * 1e6:>9.1f} us{t_raw / t_kit:>10.0f}x")
    print(f"{'mlflow load_prompt().format(), no cache':<46}{t_raw0 * 1e6:>9.1f} us{t_raw0 / t_kit:>10.0f}x")
    print(f"speed-up against raw MLflow (its default cache): {t_raw / t_kit:.0f}x (goal >= 100x: {'met' if t_raw / t_kit >= 100 else 'NOT met'})")
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("prompts", "cached `render` vs `mlflow.genai.load_prompt(...).format(...)`, medians of 21 batches taking turns",
        f"{t_kit * 1e6:.1f} us vs {t_raw * 1e6:.0f} us: {t_raw / t_kit:.0f}x (goal >= 100x); {t_raw0 / t_kit:,.0f}x vs uncached", "python bench/prompts.py")
    listing(s, row)


def listing(s, row, n: int = 100):
    "`list_prompts` against the same table made with MLflow's public API, on n prompts of 3 versions."
    import mlflow
    from jupyter_llmops import prompts
    for i in range(n):
        for v in range(3): prompts.register(f"bench-p{i:03d}", f"Version {v}: answer {{{{question}}}} ({i})", f"v{v}", alias="prod" if v == 1 else None, settings=s)
    c = mlflow.MlflowClient()
    def raw():
        rows = []
        for p in mlflow.genai.search_prompts(max_results=1000):
            vs = sorted(c.search_prompt_versions(p.name, max_results=1000), key=lambda v: -int(v.version))
            al = {int(v.version): c.get_prompt_version(p.name, v.version).aliases for v in vs}
            rows.append((p.name, int(vs[0].version), len(vs), ", ".join(f"{a}={v}" for v in sorted(al) for a in sorted(al[v])), vs[0].commit_message or ""))
        return rows
    kit = lambda: [tuple(r) for r in prompts.list_prompts(s)[["name", "latest", "versions", "aliases", "message"]].itertuples(index=False)]
    assert sorted(kit()) == sorted(raw())
    t_kit, t_raw = per_call_turns(kit, 1, raw, 1, 5)
    print(f"\nlist {len(kit())} prompts with their versions and aliases (median of 5, taking turns)")
    print(f"{'jupyter-llmops list_prompts':<46}{t_kit * 1e3:>9.0f} ms{'':>12}")
    print(f"{'mlflow public API, per prompt and version':<46}{t_raw * 1e3:>9.0f} ms{t_raw / t_kit:>10.1f}x")
    row("prompt list", f"`list_prompts` vs MLflow's public API (per prompt and version), {len(kit())} prompts (100 of 3 versions)",
        f"{t_kit * 1e3:.0f} ms vs {t_raw * 1e3:,.0f} ms: {t_raw / t_kit:.0f}x", "python bench/prompts.py")


if __name__ == "__main__":
    main()
