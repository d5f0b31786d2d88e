"""Cost optimisation on public data: learned routes (RouteLLM's GSM8K and MT-Bench tables), the semantic cache
(GPTCache's mock_data.json), its lookup time at 1k/10k/100k entries, and the SmolLM2-pair demonstration.

Parts (--parts, default all):
- routes: a seeded half of each benchmark trains the route (`route_train.fit_router`, the kit's defaults), the other
  half evaluates it (`route_eval.eval_table`); APGR, CPT(50%), CPT(80%) and the strong share for 95% of GPT-4's score,
  next to random routing, the oracle and RouteLLM's published figures; then each benchmark's router on the other
  benchmark. GSM8K: right/wrong of Mixtral-8x7B and GPT-4-1106; MT-Bench: GPT-4's 1-10 grades / 10, averaged over the
  two turns, routed on the first turn (as RouteLLM does).
- cache: GPTCache's protocol (all 999 sentences stored, each paraphrase asked: right / wrong / miss) at the default
  threshold and GPTCache's 0.95 / 0.90 / 0.80, next to GPTCache's published counts; and duplicates plus strangers
  (the first half's sentences stored; their paraphrases are duplicates, the second half's paraphrases strangers) with
  and without verification, through `cache_eval.evaluate_cache`.
- questions: the cache on duplicate questions written for the kit (bench/data/dupq_tune.jsonl, the set the verification
  was tuned on, and bench/data/dupq_heldout.jsonl, written apart and measured after): duplicates, near misses (another
  name, number or word) and related questions, as a Q&A site's users ask them; the kit at its default threshold
  against plain MiniLM cosine at the same hit rate.
- lookup: p50 of `SemanticCache.match` (FAISS search, candidate rows, verification) at 1k, 10k, 100k entries of one
  key; vectors are real MiniLM embeddings of the file's sentences, repeated with small noise to fill the cache.
- demo: the SmolLM2-135M / distilled 81M pair of issue 11 with its ceiling (slow: the distillation, ~30 min).
Run: .venv/bin/python bench/cost.py [--parts routes,cache,questions,lookup,demo] [--max-tokens 32] [--distill-steps 600] [--student FOLDER]"""
import argparse, atexit, dataclasses, json, os, shutil, statistics, sys, tempfile, time, warnings
from pathlib import Path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the bench's helpers: _report, _distill_prompts

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
home = Path(tempfile.mkdtemp(prefix="llmops-bench-cost-"))
atexit.register(shutil.rmtree, home, True)
os.environ.update(LLMOPS_HOME=str(home), LLMOPS_EXPERIMENT="bench-cost")

EASY = ["What is the capital of France?", "Name a primary color.", "What is 2 plus 2?", "Say hello in Spanish.",
        "What animal says moo?", "Name a fruit that is yellow.", "What is the opposite of hot?", "How many days are in a week?",
        "What color is grass?", "Name a planet."]
HARD = ["Explain why the sky is blue.", "Explain how vaccines train the immune system.", "Compare renewable and fossil energy.",
        "Explain why ice floats on water.", "Explain step by step how to bake bread.", "Why do seasons change on Earth?"]
TRAIN = ["What is the capital of Spain?", "Name a musical instrument.", "What is 3 plus 5?", "What color is the sun?",
         "Name a vegetable.", "Explain why leaves change color.", "Explain how a rainbow forms.", "Compare cats and dogs.",
         "Why do birds migrate?", "Explain how a refrigerator works.", "Name a color of the rainbow.", "What is 6 plus 1?",
         "Say goodbye in French.", "What animal barks?", "Name a fruit that is green.", "What is the opposite of tall?",
         "How many weeks are in a year?", "What color is the sea?", "Name a continent.", "Explain why the ocean has waves.",
         "Explain how the heart pumps blood.", "Compare bicycles and cars.", "Explain why we need water.",
         "Explain step by step how to make tea.", "Why does it rain?", "What is the largest ocean?", "Name a farm animal.",
         "What is 10 minus 4?", "Say thank you in German.", "Explain how plants grow.", "Why is exercise healthy?",
         "Compare the sun and the moon.", "Explain how a car engine works.", "Name a winter sport.",
         "What is the opposite of empty?", "What color are bananas?", "How many legs does a dog have?",
         "Explain why metal conducts electricity.", "Compare reading and listening."]  # the router's recorded calls
REPEAT = EASY[:8]
DISTILL_STEPS = 600  # the student's default distillation
PARA = ["What's the capital city of France?", "Tell me one primary colour.", "What does 2 plus 2 equal?", "How do you say hello in Spanish?",
        "Which animal goes moo?", "Name one yellow fruit.", "What's the opposite of hot?", "How many days does a week have?"]


def run(questions, spec, s, mt):
    from jupyter_llmops.evaluators import relevance
    from jupyter_llmops.llm import complete
    out = [complete(q, spec, max_tokens=mt, settings=s) for q in questions]
    scores = [relevance(q, c.text, s) for q, c in zip(questions, out)]
    return dict(cost=sum(c.cost for c in out), latency=statistics.mean(c.latency_s for c in out),
                score=statistics.mean(scores), scores=scores, out=out)


def best_routing(larger: dict, smaller: dict, budget: float = 0.60) -> tuple[float, int]:
    """The ceiling of any routing policy over these two models: every way of giving each question to one of them
    (2^n, with the answers and scores each gave in (a) and (b): greedy decoding answers the same way every time), the
    highest score share of (a) at no more than `budget` of its cost. Returns (score share, questions to the smaller)."""
    import numpy as np
    n = len(larger["out"])
    take = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1 == 1  # row: which questions go to the smaller
    ca, cb = np.array([c.cost for c in larger["out"]]), np.array([c.cost for c in smaller["out"]])
    sa, sb = np.array(larger["scores"]), np.array(smaller["scores"])
    cost = np.where(take, cb, ca).sum(1) / ca.sum()
    score = np.where(take, sb, sa).sum(1) / sa.sum()
    ok = cost <= budget
    if not ok.any(): return float("nan"), 0
    i = np.flatnonzero(ok)[np.argmax(score[ok])]
    return float(score[i]), int(take[i].sum())


def demo(a):
    "The SmolLM2 pair of issue 11: routes over a distilled student and the local LLM, with the ceiling of any policy."
    mt = a.max_tokens
    import torch
    torch.set_num_threads(os.cpu_count() or 1)  # generation timings on the machine's threads
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.models import load_causal_lm, local_llm_dir, parse_spec
    from jupyter_llmops import routing
    from jupyter_llmops.route_train import train_route
    from jupyter_llmops.llm import complete
    repo_copy = Path(__file__).resolve().parents[1] / ".llmops" / "models"
    if (repo_copy / "SmolLM2-135M-Instruct" / "config.json").is_file(): (home / "models").symlink_to(repo_copy)  # skip the GGUF conversion
    s = load_settings()
    from _distill_prompts import prompts
    dist = prompts()
    assert not set(dist) & set(EASY + HARD + TRAIN + PARA), "the distillation prompts must not hold a question the bench asks"
    if a.student: student = Path(a.student)
    elif a.distill_steps:
        from jupyter_llmops.train import distill
        data = home / "distill.jsonl"; data.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in dist))
        t0 = time.perf_counter()
        r = distill(data, steps=a.distill_steps, batch=8, max_new_tokens=mt, max_length=128, lr=2e-4, beta=0.0, settings=s)
        print(f"student: {a.distill_steps} distillation steps on {len(dist)} prompts in {time.perf_counter() - t0:.0f} s "
              f"(teacher pass {r.metrics['teacher_pass_s']:.0f} s); loss {r.history[0][1]:.3f} -> {r.history[-1][1]:.3f}")
        print(r.comparison.drop(columns=["example"]).to_string(index=False), flush=True)
        student = Path(r.model_path)
        if a.save_student: shutil.copytree(student, a.save_student, dirs_exist_ok=True)
    else:
        from jupyter_llmops.train import student_from
        model, tok = load_causal_lm(parse_spec("local"), s.home)
        student = home / "student"; student_from(model).save_pretrained(student); tok.save_pretrained(student)
    small = f"hf:{student}"
    s = dataclasses.replace(s, costs={"local": (0.002, 0.002), small: (0.001, 0.001)})
    print(f"larger: local (SmolLM2-135M, $0.002/1k tokens); smaller: {small} ($0.001/1k); {len(EASY + HARD)} questions, max_tokens {mt}")
    for spec in ("local", small): complete("Warm up.", spec, max_tokens=4, settings=s, record=False)
    routing.add_route("learned", [small, "local"], "learned", s)
    run(TRAIN, "local", s, mt); run(TRAIN, small, s, mt)  # recorded calls to learn from (not the test questions)
    tr = train_route("learned", since="1h", settings=s)
    print(tr, flush=True)
    rows = {}
    rows["(a) all larger"] = run(EASY + HARD, "local", s, mt)
    rows["(b) all smaller"] = run(EASY + HARD, small, s, mt)
    routing.add_route("rules", [small, "local"], "rules", s)
    rows["(c) rules"] = run(EASY + HARD, "route:rules", s, mt)
    routing.add_route("cascade", [small, "local"], "cascade", s)
    rows["(c) cascade"] = run(EASY + HARD, "route:cascade", s, mt)
    rows["(c) learned"] = run(EASY + HARD, "route:learned", s, mt)
    base = rows["(a) all larger"]
    print(f"\n{'':18} {'cost $':>10} {'latency s':>10} {'score':>7} {'cost/(a)':>9} {'score/(a)':>10} {'to smaller':>10}")
    met = []
    for k, r in rows.items():
        cr, sr = r["cost"] / base["cost"], r["score"] / base["score"]
        n_small = sum(c.model == small for c in r["out"])
        print(f"{k:18} {r['cost']:10.6f} {r['latency']:10.3f} {r['score']:7.3f} {cr:9.2f} {sr:10.2f} {n_small:>7}/{len(r['out'])}")
        if k.startswith("(c)") and sr >= 0.95 and cr <= 0.60: met.append(k)
    ceiling, n_best = best_routing(base, rows["(b) all smaller"])
    print(f"best possible routing of these answers at <= 60% of (a)'s cost: {ceiling:.0%} of (a)'s score "
          f"({n_best}/{len(base['out'])} to the smaller): the ceiling of any policy over this pair")
    # the three policies on one chart: a score table of these answers (the student's log-probability as its confidence)
    import numpy as np
    from jupyter_llmops.route_eval import eval_table
    from jupyter_llmops.route_train import ScoreTable
    sm = rows["(b) all smaller"]
    t = ScoreTable(EASY + HARD, np.array(sm["scores"]), np.array(base["scores"]), (small, "local"),
                   np.array([c.logprob if c.logprob is not None else 0.0 for c in sm["out"]]),
                   np.array([c.cost for c in sm["out"]]), np.array([c.cost for c in base["out"]]))
    ev = eval_table(routing.get_route("learned", s), t, s)
    print("\npolicies swept over their thresholds on these answers (score = relevance):")
    print(ev.table[["apgr", "cpt50", "cpt80", "strong_share_at_95"]].round(3).to_string())
    Path("/tmp/llmops-bench-cost-policies.png").write_bytes(ev.chart_png())
    # the semantic cache
    cs = s.updated(cache="on")  # at the kit's default threshold
    gen = [complete(q, "local", max_tokens=mt, settings=cs) for q in REPEAT]
    rep = [complete(q, "local", max_tokens=mt, settings=cs) for q in REPEAT]
    par = [complete(q, "local", max_tokens=mt, settings=cs) for q in PARA]
    g = statistics.median(c.latency_s for c in gen)
    hits = [c for c in rep + par if c.cached]
    h = statistics.median(c.latency_s for c in hits) if hits else float("nan")
    print(f"\ncache: repeated {sum(c.cached for c in rep)}/{len(rep)} hits, paraphrased {sum(c.cached for c in par)}/{len(par)} hits "
          f"(threshold {cs.cache_threshold}, the default); median generation {g * 1000:.1f} ms, median hit {h * 1000:.2f} ms: {g / h:.0f}x faster")
    from jupyter_llmops.recorder import flush
    flush()
    print(f"\nGOAL policy >= 95% of (a)'s score at <= 60% of its cost: {'MET by ' + ', '.join(met) if met else 'NOT MET'}")
    print(f"GOAL cache hit >= 50x faster than a generation: {'MET' if g / h >= 50 else 'NOT MET'} ({g / h:.0f}x)")
    from _report import row
    shares = "; ".join(f"{k[4:]} {r['score'] / base['score']:.0%} at {r['cost'] / base['cost']:.0%}"
                       for k, r in rows.items() if k != "(a) all larger")
    student_desc = "a given student" if a.student else (f"a student distilled {a.distill_steps} steps" if a.distill_steps else "an undistilled layer-dropped student")
    row("cost: SmolLM2 pair", f"routes over {student_desc} and the local LLM vs all to the local LLM ({len(EASY + HARD)} questions: score share at cost share); "
        "a semantic-cache hit vs a generation",
        f"{shares} (goal >= 95% at <= 60%: {'met by ' + ', '.join(m[4:] for m in met) if met else 'not met'}; "
        f"the best any policy could do with these answers at <= 60%: {ceiling:.0%}); "
        f"cache {g * 1000:,.0f} ms vs {h * 1000:.1f} ms: {g / h:.0f}x (goal >= 50x)",
        "python bench/cost.py" + ("" if a.distill_steps == DISTILL_STEPS or a.student else f" --distill-steps {a.distill_steps}"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="routes,cache,questions,lookup,demo")
    ap.add_argument("--max-tokens", type=int, default=32); ap.add_argument("--student", help="a saved smaller model folder")
    ap.add_argument("--distill-steps", type=int, default=DISTILL_STEPS, help="distillation steps of the student (0: none)")
    ap.add_argument("--save-student", help="keep the distilled student in this folder")
    a = ap.parse_args()
    parts = a.parts.split(",")
    from _cost_public import cache_part, lookup_part, questions_part, routes_part
    if "routes" in parts: routes_part()
    if "cache" in parts: cache_part()
    if "questions" in parts: questions_part()
    if "lookup" in parts: lookup_part()
    if "demo" in parts: demo(a)


if __name__ == "__main__":
    main()
