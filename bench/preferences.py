"""Human preferences, held out: the kit's reward model and DPO on Anthropic's HH-RLHF harmlessness pairs.

The data: ../shared/data/hh-rlhf/harmless_train.jsonl (1,500 pairs, MIT; the implicit-prompt form: two whole dialogues
per pair). `train reward` runs with its defaults on all 1,500 pairs: it holds out 10% itself (the seeded split of
`train.evaluate.split_eval`, whole prompts), trains on the rest and reports the held-out pairwise accuracy. The bench
computes two baselines on exactly that split, trained on the same training pairs:
- "the shorter answer is preferred" (no training);
- a TF-IDF pairwise logistic regression: word 1-2-gram TF-IDF of each answer, the chosen minus the rejected vector,
  both signs, C chosen by 5-fold cross-validation on the training pairs.
Then `train dpo` on the same pairs (same split): the implicit reward's held-out accuracy (0.5 before training, by
construction), and the win rate of the trained model's answers against the base model's on the held-out prompts, judged
by the reward model just trained. Times are wall-clock on this machine, model loads and held-out evaluation included;
s/step is the trainer's own runtime over its steps.
Goals (issue 24): reward >= 0.65 in under 30 min with default settings; DPO's implicit reward >= 0.60 and a win rate
>= 0.55.

    python bench/preferences.py [--recipes reward,dpo] [--data FILE] [--dpo-steps N] [--dpo-lr LR] [--dpo-max-length N] [--judge PATH]
"""
import argparse, json, os, shutil, sys, tempfile, time, warnings
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")
HERE = Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "hh-rlhf" / "harmless_train.jsonl"))
ap.add_argument("--recipes", default="reward,dpo")
ap.add_argument("--dpo-steps", type=int, help="default: the recipe's"); ap.add_argument("--dpo-lr", type=float, help="default: the recipe's")
ap.add_argument("--dpo-max-length", type=int, help="default: the recipe's")
ap.add_argument("--judge", help="a reward model folder for the win rate (default: the one this run trains)")
ap.add_argument("--keep", help="copy the trained models into this folder")
a = ap.parse_args()

import numpy as np
from scipy.sparse import vstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from jupyter_llmops.config import load_settings
from jupyter_llmops.train import load_data, run_recipe
from jupyter_llmops.train.evaluate import pairwise_accuracy, split_eval

home = Path(tempfile.mkdtemp(prefix="bench-prefs-"))
os.environ["LLMOPS_HOME"] = str(home)
st = load_settings()
rows = load_data("reward", a.data, st)
train, held = split_eval(rows)  # what run_recipe does with --eval-share left at its default
answer = lambda r, k: " ".join(m["content"] for m in r[k])


def shorter(pairs) -> float:
    return pairwise_accuracy([-len(answer(r, "chosen")) for r in pairs], [-len(answer(r, "rejected")) for r in pairs])


def tfidf(train_pairs, test_pairs) -> float:
    v = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit([answer(r, k) for r in train_pairs for k in ("chosen", "rejected")])
    diff = lambda ps: v.transform([answer(r, "chosen") for r in ps]) - v.transform([answer(r, "rejected") for r in ps])
    X = diff(train_pairs)
    lr = LogisticRegressionCV(Cs=[0.1, 0.3, 1, 3, 10], cv=5, max_iter=3000).fit(vstack([X, -X]), np.r_[np.ones(len(train_pairs)), np.zeros(len(train_pairs))])
    return pairwise_accuracy(list(lr.decision_function(diff(test_pairs))), [0.0] * len(test_pairs))


base = {"shorter is preferred": shorter(held), "TF-IDF pairwise logistic regression": tfidf(train, held)}
print(f"HH-RLHF harmless: {len(rows)} pairs, {len(train)} to train on, {len(held)} held out (the kit's default split)")
for k, v in base.items(): print(f"  {k:<38} held-out accuracy {v:.3f}")
results, notes = {}, []
judge = a.judge
if "reward" in a.recipes:
    t0 = time.perf_counter()
    r = run_recipe("reward", a.data, progress=False, settings=st)
    wall = time.perf_counter() - t0
    m = r.metrics
    sps = m["train_runtime"] / max(r.steps, 1)
    how = (f"the head fitted on the frozen model: its cross-validated accuracy on the training pairs {m['cv_accuracy']:.3f} at C {m['head_C']:g}, "
           f"forward pass {m['feature_pass_s']:.0f} s" if "head_C" in m else f"{r.steps} steps, {sps:.2f} s/step")
    print(f"  {'kit: train reward (defaults)':<38} held-out accuracy {m['eval_accuracy']:.3f} (before {m['eval_accuracy_before']:.3f}), "
          f"margin {m['eval_margin']:.2f}; {how}, {wall / 60:.1f} min in all", flush=True)
    results["reward"] = (m["eval_accuracy"], wall, how)
    judge = judge or r.model_path
    if a.keep: shutil.copytree(r.model_path, Path(a.keep) / "reward", dirs_exist_ok=True)
if "dpo" in a.recipes:
    t0 = time.perf_counter()
    kw = {k: v for k, v in (("steps", a.dpo_steps), ("lr", a.dpo_lr), ("max_length", a.dpo_max_length)) if v is not None}
    r = run_recipe("dpo", a.data, judge_model=f"hf:{judge}" if judge else None, eval_answers=len(held), progress=False, settings=st, **kw)
    wall = time.perf_counter() - t0
    m = r.metrics
    sps = m["train_runtime"] / max(r.steps, 1)
    print(f"  {'kit: train dpo':<38} implicit-reward held-out accuracy {m['eval_accuracy']:.3f} (before {m['eval_accuracy_before']:.3f}), "
          f"win rate vs the base model {m['win_rate']:.3f} (judge: {'the reward model above' if judge else 'relevance'}); {r.steps} steps, "
          f"{sps:.2f} s/step, {wall / 60:.1f} min in all (reference pass {m['setup_s']:.0f} s)", flush=True)
    results["dpo"] = (m["eval_accuracy"], m["win_rate"], wall, sps, r.steps, kw, "the reward model" if judge else "relevance, no reward model")
    if a.keep: shutil.copytree(r.model_path, Path(a.keep) / "dpo", dirs_exist_ok=True)
shutil.rmtree(home, ignore_errors=True)

sys.path.insert(0, str(HERE)); from _report import row
res = []
if "reward" in results:
    acc, wall, how = results["reward"]
    res.append(f"reward {acc:.3f} in {wall / 60:.1f} min ({how}; goal >= 0.65 in < 30 min)")
res.append(f"shorter-is-preferred {base['shorter is preferred']:.3f}, TF-IDF pairwise LR {base['TF-IDF pairwise logistic regression']:.3f}")
if "dpo" in results:
    acc, win, wall, sps, steps, kw, judged_by = results["dpo"]
    res.append(f"dpo implicit reward {acc:.3f} (0.5 before; goal >= 0.60), win rate vs base {win:.3f} judged by {judged_by} (goal >= 0.55 by the reward model), "
               f"{steps} steps, {sps:.2f} s/step, {wall / 60:.1f} min")
cmd = "python bench/preferences.py" + ("" if a.recipes == ap.get_default("recipes") else f" --recipes {a.recipes}") + \
      "".join(f" --dpo-{k.replace('_', '-')} {v}" for k, v in (results.get("dpo", (0,) * 7)[5] or {}).items())
row("preferences (CPU)", f"held-out pairwise accuracy on HH-RLHF harmlessness ({len(train)} train / {len(held)} held-out pairs, the kit's split)", "; ".join(res), cmd)
