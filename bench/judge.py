"""The LLM judge against human labels: SmolLM2-135M (the kit's local model) asked "is every statement of the answer
supported by the context?" on BEGIN's development splits (../shared/data/begin/, CC BY 4.0), P(yes) read from its
next-token distribution; the kit's groundedness on the same rows is shown for scale only: the shipped model was fitted
on these splits (its held-out figures are bench/groundedness.py's).

A seeded sample of each source (fully attributable = positive); ROC AUC, balanced accuracy and Cohen's kappa at 0.5,
how many verdicts could not be read (None), how each was read (next token, parsed word), seconds per verdict.
Run: .venv/bin/python bench/judge.py [--n 120]"""
import argparse, os, random, statistics, sys, time, warnings
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from groundedness import SPLITS, load  # the same data loader


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120, help="rows sampled per source")
    a = ap.parse_args()
    import torch; torch.set_num_threads(1)
    from collections import Counter
    from sklearn.metrics import balanced_accuracy_score as bacc, cohen_kappa_score as kappa, roc_auc_score as auc
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.grounding import groundedness
    from jupyter_llmops.judge import judge_verdict
    import tempfile
    home = tempfile.mkdtemp(prefix="llmops-bench-judge-")
    s = load_settings(home, environ={"LLMOPS_HOME": home, "HOME": home}).updated(judge_llm="local")
    judge_verdict("q", "a", ["c"], settings=s)  # load the model once, outside the timing
    print(f"LLM judge (SmolLM2-135M-Instruct, next-token P(yes)) vs BEGIN labels, {a.n} rows per source")
    print(f"{'source':<22}{'n':>5}{'pos':>5} | {'judge AUC':>10}{'BA@.5':>7}{'kappa':>7}{'None':>6} | {'ground.* AUC':>12}{'BA':>6} | {'s/verdict':>10}  read as")
    summary = {}
    for sp, title in SPLITS.items():
        rows = random.Random(0).sample(load(sp), a.n)
        y, pj, pg, how, ts = [], [], [], Counter(), []
        for r in rows:
            t0 = time.perf_counter()
            v = judge_verdict("", r["response"], [r["knowledge"]], settings=s)
            ts.append(time.perf_counter() - t0)
            how[v.method] += 1
            y.append(r["label"] == "Fully attributable"); pj.append(v.score); pg.append(groundedness(r["response"], r["knowledge"], s))
        ok = [i for i, v in enumerate(pj) if v is not None]
        yj, sj = [y[i] for i in ok], [pj[i] for i in ok]
        res = dict(auc=auc(yj, sj), bacc=bacc(yj, [v >= 0.5 for v in sj]), kappa=kappa(yj, [v >= 0.5 for v in sj]), none=len(pj) - len(ok),
                   g_auc=auc(y, pg), g_bacc=bacc(y, [v >= 0.5 for v in pg]), sec=statistics.median(ts))
        summary[sp] = res
        print(f"{title:<22}{len(rows):>5}{sum(y):>5} | {res['auc']:>10.3f}{res['bacc']:>7.2f}{res['kappa']:>7.2f}{res['none']:>6} | "
              f"{res['g_auc']:>12.3f}{res['g_bacc']:>6.2f} | {res['sec']:>10.2f}  {dict(how)}")
    print("* groundedness was fitted on these splits: in-sample, for scale only")
    from _report import row
    row("LLM judge vs human labels", f"SmolLM2-135M as judge (P(yes) from the next token) vs the kit's groundedness, BEGIN dev, {a.n} rows per source",
        " · ".join(f"{k} judge AUC {v['auc']:.2f} BA {v['bacc']:.2f} ({v['none']} unread) (groundedness, fitted on these rows: {v['g_auc']:.2f})" for k, v in summary.items()),
        f"python bench/judge.py --n {a.n}")


if __name__ == "__main__":
    main()
