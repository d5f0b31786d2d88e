"The public-data parts of bench/cost.py: learned routes on RouteLLM's tables, the cache on GPTCache's mock data, lookup time."
import json, os, statistics, tempfile, time
from pathlib import Path
import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEAK, STRONG = "openai:mixtral-8x7b-instruct", "openai:gpt-4-1106-preview"
# RouteLLM (Ong et al., 2024), best router per benchmark: strong share needed for 95% of GPT-4's quality
PUBLISHED = {"gsm8k": "about 65% (cost cut about 35%)", "mt-bench": "about 15% (cost cut about 85%)"}


def _settings():
    from jupyter_llmops.config import load_settings
    home = Path(tempfile.mkdtemp(prefix="llmops-bench-cost-pub-"))
    return load_settings(home, {"HOME": str(home), "LLMOPS_HOME": str(home / "home"), "LLMOPS_COSTS": f"{WEAK}=0.0006, {STRONG}=0.02"})


def tables(s):
    "GSM8K and MT-Bench as score tables of the kit."
    import pandas as pd
    from jupyter_llmops.route_train import make_table
    g = pd.read_csv(DATA / "routellm" / "gsm8k_responses.csv")
    gs = [{"question": q, "scores": {WEAK: float(w), STRONG: float(x)}} for q, w, x in
          zip(g.prompt, g["mistralai/Mixtral-8x7B-Instruct-v0.1"], g["gpt-4-1106-preview"])]
    q = pd.read_json(DATA / "routellm" / "question.jsonl", lines=True)
    j = pd.read_json(DATA / "routellm" / "judgements.jsonl", lines=True)
    m = j.groupby(["question_id", "model"]).score.mean().unstack() / 10
    ms = [{"question": t[0], "scores": {WEAK: float(m.loc[i, "mistralai/Mixtral-8x7B-Instruct-v0.1"]), STRONG: float(m.loc[i, "gpt-4-1106-preview"])}}
          for i, t in zip(q.question_id, q.turns)]
    return {"gsm8k": make_table(gs, [WEAK, STRONG], s.costs), "mt-bench": make_table(ms, [WEAK, STRONG], s.costs)}


def routes_part(seed: int = 0):
    from _report import row
    from jupyter_llmops.route_eval import eval_table
    from jupyter_llmops.route_train import fit_router, table_vectors
    from jupyter_llmops.routing import Route, save_route
    s = _settings()
    ts, routers, out = tables(s), {}, {}
    print(f"\nroutes: train on a seeded half (seed {seed}), evaluate on the other half; {WEAK} (weak) vs {STRONG} (strong)")
    print(f"{'benchmark':10} {'policy':8} {'APGR':>6} {'CPT50':>6} {'CPT80':>6} {'share@95%':>9}   (RouteLLM's best: share@95%)")
    for name, t in ts.items():
        tr, te = t.split(0.5, seed)
        t0 = time.perf_counter()
        router, cv = fit_router(tr, s)
        fit_s = time.perf_counter() - t0
        routers[name] = router
        r = save_route(Route(f"{name}-learned", [WEAK, STRONG], "learned", threshold=router.meta["threshold"]), s)
        router.save(s.path("routes", f"{r.name}.router.npz"))
        ev = eval_table(r, te, s)
        out[name] = ev
        for p in ("learned", "random", "oracle"):
            m = ev.table.loc[p]
            print(f"{name:10} {p:8} {m.apgr:6.3f} {m.cpt50:6.1%} {m.cpt80:6.1%} {m.strong_share_at_95:9.1%}" + (f"   {PUBLISHED[name]}" if p == "learned" else ""))
        print(f"{'':10} fit {fit_s:.1f} s on {len(tr)} questions; cross-validated on the training half: APGR {cv['cv_apgr']:.3f}; "
              f"at its threshold: {ev.metrics['share']:.1%} strong, score {ev.metrics['score']:.3f} ({ev.metrics['score'] / ev.strong_mean:.1%} of strong), "
              f"cost {ev.metrics['cost'] / te.cost_strong.mean():.1%} of all-strong")
        Path("/tmp").joinpath(f"llmops-bench-route-{name}.png").write_bytes(ev.chart_png())
    for a, b in (("gsm8k", "mt-bench"), ("mt-bench", "gsm8k")):  # each router on the other benchmark, all of it
        r = save_route(Route(f"x-{a}", [WEAK, STRONG], "learned", threshold=routers[a].meta["threshold"]), s)
        routers[a].save(s.path("routes", f"{r.name}.router.npz"))
        m = eval_table(r, ts[b], s).table.loc["learned"]
        print(f"trained on {a}, evaluated on all of {b}: APGR {m.apgr:.3f}, CPT50 {m.cpt50:.1%}, CPT80 {m.cpt80:.1%}, share@95% {m.strong_share_at_95:.1%}")
    g, mt = out["gsm8k"].table, out["mt-bench"].table
    row("cost: learned routes", "kit router trained on a seeded half, evaluated on the other: strong share for 95% of GPT-4's score "
        "(APGR) vs random, the oracle, RouteLLM's best", f"GSM8K {g.loc['learned'].strong_share_at_95:.0%} (APGR {g.loc['learned'].apgr:.2f}) vs random "
        f"{g.loc['random'].strong_share_at_95:.0%}, oracle {g.loc['oracle'].strong_share_at_95:.0%}, RouteLLM ~65%; MT-Bench "
        f"{mt.loc['learned'].strong_share_at_95:.0%} (APGR {mt.loc['learned'].apgr:.2f}) vs random {mt.loc['random'].strong_share_at_95:.0%}, "
        f"oracle {mt.loc['oracle'].strong_share_at_95:.0%}, RouteLLM ~15%", "python bench/cost.py --parts routes")


def _mock():
    return json.loads((DATA / "gptcache" / "mock_data.json").read_text())


def cache_part():
    from _report import row
    from jupyter_llmops.cache import SemanticCache, same_question
    from jupyter_llmops.cache_eval import evaluate_cache
    from jupyter_llmops.embeddings import Embedder
    s = _settings()
    m = _mock()
    emb = Embedder.get(s.embed_model).encode
    O, S = emb([x["origin"] for x in m]), emb([x["similar"] for x in m])
    print(f"\ncache, GPTCache's protocol: {len(m)} sentences stored, each paraphrase asked (right / wrong / miss)")
    key = ("bench", "", "", "", "", "", "")
    with tempfile.TemporaryDirectory() as d:
        c = SemanticCache(Path(d) / "semantic.db", s.embed_model, 0.0)
        c.add(key, [x["origin"] for x in m], O, [str(i) for i in range(len(m))])
        cands = [c.candidates(key, v, 5, 0.75) for v in S]
    published = {0.95: (425, 25, 549), 0.90: (804, 77, 118), 0.80: (904, 92, 3)}
    res = {}
    for t in sorted({s.cache_threshold, 0.95, 0.90, 0.80}, reverse=True):
        for verify in (True, False):
            right = wrong = 0
            for i, cs in enumerate(cands):
                hit = next((x for x in cs if x[1] >= t and (not verify or same_question(m[i]["similar"], x[2]) is None)), None) if verify else \
                    next((x for x in cs[:1] if x[1] >= t), None)
                if hit: right += hit[3] == str(i); wrong += hit[3] != str(i)
            res[(t, verify)] = (right, wrong, len(m) - right - wrong)
        pub = published.get(t)
        print(f"  {t:.2f}{' (default)' if t == s.cache_threshold else ''}: kit {res[(t, True)]} / plain MiniLM {res[(t, False)]}"
              + (f" / GPTCache {pub}" if pub else ""))
    h = len(m) // 2
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "pairs.jsonl"
        f.write_text("".join(json.dumps(dict(stored=m[i]["origin"], query=m[i]["similar"], duplicate=True)) + "\n" for i in range(h))
                     + "".join(json.dumps(dict(stored=m[i - h]["origin"], query=m[i]["similar"], duplicate=False)) + "\n" for i in range(h, 2 * h)))
        ev = evaluate_cache(f, settings=s, log=False)
    print(f"\ncache, duplicates + strangers ({ev.duplicates} duplicates, {ev.queries - ev.duplicates} strangers whose sentence is not stored):")
    print(ev.table.round(4).to_string(index=False))
    print(ev)
    # near misses: a stored sentence with one number or one name changed (another version, another product): never the same question
    import random, re
    rnd, names = random.Random(0), sorted({e for x in m for e in re.findall(r"(?<=[a-z,] )[A-Z][a-zA-Z]{3,}", x["origin"])})
    near = []
    for i in range(h):
        t = m[i]["origin"]
        nums, es = re.findall(r"\b\d+\b", t), [e for e in names if re.search(rf"\b{e}\b", t)]
        if nums: k = rnd.choice(nums); near.append((t, re.sub(rf"\b{k}\b", str(int(k) + rnd.randint(1, 9)), t)))
        elif es: k = rnd.choice(es); near.append((t, re.sub(rf"\b{k}\b", rnd.choice([e for e in names if e != k]), t)))
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "near.jsonl"
        f.write_text("".join(json.dumps(dict(stored=m[i]["origin"], query=m[i]["similar"], duplicate=True)) + "\n" for i in range(h))
                     + "".join(json.dumps(dict(stored=a, query=b, duplicate=False)) + "\n" for a, b in near))
        nev = evaluate_cache(f, settings=s, log=False)
    print(f"\ncache, duplicates + near misses ({nev.duplicates} duplicates, {nev.queries - nev.duplicates} stored sentences with one number or name changed):")
    print(nev.table.round(4).to_string(index=False))
    nm = nev.queries - nev.duplicates
    t90 = nev.table[(nev.table.threshold - s.cache_threshold).abs() < 1e-9].iloc[0]
    d0 = res[(s.cache_threshold, True)]
    row("cost: semantic cache", f"GPTCache's mock_data.json: right / wrong / miss of {len(m)} paraphrases at the default threshold vs plain MiniLM "
        "vs GPTCache's published counts", f"{s.cache_threshold:.2f}: {d0[0]}/{d0[1]}/{d0[2]} (plain {res[(s.cache_threshold, False)][0]}/"
        f"{res[(s.cache_threshold, False)][1]}/{res[(s.cache_threshold, False)][2]}); 0.95: {res[(0.95, True)][0]}/{res[(0.95, True)][1]}/"
        f"{res[(0.95, True)][2]} vs GPTCache 425/25/549; 0.80: {res[(0.80, True)][0]}/{res[(0.80, True)][1]}/{res[(0.80, True)][2]} vs 904/92/3; "
        f"near misses served at {s.cache_threshold:.2f}: {t90.wrong_rate * nev.queries / nm:.1%} (plain {t90.plain_wrong_rate * nev.queries / nm:.1%})",
        "python bench/cost.py --parts cache")


def questions_part():
    "The cache on duplicate-question pairs written for the kit: the sets that tuned it and sets written apart from it."
    from _report import row
    from jupyter_llmops.cache_eval import evaluate_cache
    s = _settings()
    grid, out = sorted({0.80, 0.82, 0.84, 0.86, 0.88, 0.90, 0.92, 0.95, s.cache_threshold}), {}  # the default is always measured
    for name in ("tune", "noisy", "quora", "heldout", "heldout2", "heldout3"):  # bench/data/README.md: what each set tuned, if anything
        f = Path(__file__).parent / "data" / f"dupq_{name}.jsonl"
        ev = evaluate_cache(f, thresholds=grid, settings=s, log=False)
        t, plain = ev.table, ev.plain_wrong_at()  # plain cosine's wrong-answer rate at the kit's hit rate
        out[name] = (ev, plain)
        print(f"\ncache, questions written for the kit ({name}: {ev.duplicates} duplicates, {ev.queries - ev.duplicates} near misses and related questions):")
        print(t[["threshold", "hit_rate", "wrong_rate", "plain_hit_rate", "plain_wrong_rate"]].round(3).to_string(index=False))
        print(f"  at the default {ev.metrics['threshold']:.2f}: {ev.metrics['hit_rate']:.1%} of duplicates answered, {ev.metrics['wrong_rate']:.1%} wrong; "
              f"plain cosine at the same hit rate: {plain:.1%} wrong; recommended for <= 1% wrong: {ev.recommended}")
    fig = lambda n: f"{out[n][0].metrics['hit_rate']:.1%} / {out[n][0].metrics['wrong_rate']:.1%} (plain {out[n][1]:.1%})"
    row("cost: cache on questions", "duplicate questions written for the kit, the set that tuned neither rules nor threshold: duplicates answered / "
        "wrong answers at the default threshold vs plain MiniLM at the same hit rate (goal >= 40% and at most half)",
        f"{out['heldout3'][0].metrics['threshold']:.2f}: {fig('heldout3')}; other held-out sets {fig('heldout')}, {fig('heldout2')}; tuning sets {fig('tune')}, "
        f"{fig('noisy')}, {fig('quora')}", "python bench/cost.py --parts questions")


def lookup_part(repeats: int = 200):
    from _report import row
    from jupyter_llmops.cache import SemanticCache
    from jupyter_llmops.embeddings import Embedder
    s = _settings()
    m = _mock()
    base = Embedder.get(s.embed_model).encode([x["origin"] for x in m])
    queries = Embedder.get(s.embed_model).encode([x["similar"] for x in m[:repeats]])
    rng = np.random.RandomState(0)
    key = ("bench", "", "", "", "", "", "")
    print("\ncache lookup (after the query's embedding): p50 of SemanticCache.match, one key")
    p50s = {}
    with tempfile.TemporaryDirectory() as d:
        c = SemanticCache(Path(d) / "semantic.db", s.embed_model, s.cache_threshold)
        have, allv = 0, []
        for n in (1_000, 10_000, 100_000):
            add = n - have
            v = base[rng.randint(0, len(base), add)] + rng.normal(scale=0.02, size=(add, base.shape[1])).astype("float32")
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            c.add(key, [m[i % len(m)]["origin"] for i in range(have, n)], v, [str(i) for i in range(have, n)]); allv.append(v)
            have = n
            t0 = time.perf_counter(); c.match(key, m[0]["similar"], queries[0])  # the new rows join the loaded index
            print(f"  {n:>7,} entries: first lookup after adding {add:,} (index update{', HNSW build' if n >= 20_000 else ''}) {time.perf_counter() - t0:.2f} s")
            times = []
            for i, q in enumerate(queries):
                t0 = time.perf_counter(); c.match(key, m[i]["similar"], q); times.append(time.perf_counter() - t0)
            p50s[n] = statistics.median(times) * 1000
            exact = (np.concatenate(allv) @ queries.T).argmax(0)  # answers are the row numbers
            found = [c.candidates(key, q, 1)[0][3] for q in queries]
            recall = float(np.mean([f == str(e) for f, e in zip(found, exact)]))
            print(f"  {n:>7,} entries: p50 {p50s[n]:.2f} ms; nearest entry found as exact search finds it: {recall:.1%}")
    t0 = time.perf_counter()
    for x in m[:50]: Embedder.get(s.embed_model).encode([x["similar"]])
    e = (time.perf_counter() - t0) / 50 * 1000
    print(f"  (the query's MiniLM embedding itself: {e:.1f} ms)")
    row("cost: cache lookup", "p50 of a lookup (FAISS search, candidate rows, verification) at 1k / 10k / 100k entries of one key",
        f"{p50s[1000]:.2f} / {p50s[10000]:.2f} / {p50s[100000]:.2f} ms (goal < 5 ms at 100k; HNSW from 20k entries, top-1 recall {recall:.1%}); "
        f"the query's embedding {e:.0f} ms",
        "python bench/cost.py --parts lookup")
