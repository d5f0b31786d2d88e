"""Experiment (issue 24), not a benchmark: how far a *frozen* SmolLM2 gets on the shared HH-RLHF harmlessness pairs when
only a linear head is fitted, by the layer its features come from and by pooling (the last token, as
transformers' sequence-classification head reads it, or the mean over the answer's tokens; `nmean`: that mean after the
model's final norm, which is what `train reward`'s default head reads from a model of the first N layers).

Each answer is encoded as `train reward` encodes it (`train.evaluate.encode`, 128 tokens); one forward pass of the
local model gives every layer's hidden states; the head is a Bradley-Terry pairwise logistic regression on the chosen
minus the rejected features (no intercept, features scaled by their mean absolute difference). It is scored by 5-fold
cross-validation over the 1,350 training pairs (folds by prompt) and on the kit's own 150-pair held-out split.

    python bench/experiments/reward_probe.py [--max-length 128] [--features FILE.npz]   # ~8 min for the forward pass
"""
import argparse, json, os, time
import numpy as np
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
from pathlib import Path
HERE = Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument("--data", default=str(HERE.parents[2] / "shared" / "data" / "hh-rlhf" / "harmless_train.jsonl"))
ap.add_argument("--max-length", type=int, default=128)
ap.add_argument("--features", help="an .npz this script wrote: skip the forward pass")
a = ap.parse_args()
LAYERS = [4, 8, 12, 16, 20, 22, 24, 26, 28, 30]


def features(rows):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from jupyter_llmops.config import load_settings
    from jupyter_llmops.train.core import model_folder
    from jupyter_llmops.train.evaluate import encode
    folder = model_folder("local", load_settings())
    tok = AutoTokenizer.from_pretrained(folder); m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    seqs = [encode(tok, r["prompt"], r[k], a.max_length) for r in rows for k in ("chosen", "rejected")]
    out = {f"{p}{l}": np.zeros((len(seqs), m.config.hidden_size), np.float32) for p in ("last", "mean", "nmean") for l in LAYERS}
    order, t0 = np.argsort([len(s) for s, _ in seqs]), time.time()
    with torch.inference_mode():
        for b in range(0, len(order), 16):
            idx = order[b:b + 16]; n = max(len(seqs[i][0]) for i in idx)
            ids = torch.full((len(idx), n), tok.pad_token_id); att = torch.zeros((len(idx), n), dtype=torch.long)
            for j, i in enumerate(idx): s = seqs[i][0]; ids[j, :len(s)] = torch.tensor(s); att[j, :len(s)] = 1
            hs = m.model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states
            for l in LAYERS:
                h = hs[l]  # transformers' last hidden state has the final norm applied already
                n = h if l == len(hs) - 1 else m.model.norm(h)  # what a model of the first l layers gives its score head
                for j, i in enumerate(idx):
                    s, start = seqs[i]
                    out[f"last{l}"][i] = h[j, len(s) - 1].numpy(); out[f"mean{l}"][i] = h[j, start:len(s)].mean(0).numpy()
                    out[f"nmean{l}"][i] = n[j, start:len(s)].mean(0).numpy()
    print(f"forward pass over {len(seqs)} answers: {time.time() - t0:.0f} s", flush=True)
    return out


def accuracy(X, held, groups, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    Xc, Xr = X[0::2], X[1::2]
    def fit_score(tr, te):
        D = Xc[tr] - Xr[tr]; mu = np.abs(D).mean(0) + 1e-6
        lr = LogisticRegression(C=C, max_iter=3000, fit_intercept=False).fit(np.r_[D, -D] / mu, np.r_[np.ones(len(tr)), np.zeros(len(tr))])
        return float((((Xc[te] - Xr[te]) / mu) @ lr.coef_[0] > 0).mean())
    tr = np.where(~held)[0]
    cv = np.mean([fit_score(tr[i], tr[j]) for i, j in GroupKFold(5).split(tr, groups=groups[tr])])
    return cv, fit_score(tr, np.where(held)[0])


from jupyter_llmops.config import load_settings
from jupyter_llmops.train import load_data
from jupyter_llmops.train.evaluate import split_eval
rows = load_data("reward", a.data, load_settings())
held_ids = {id(r) for r in split_eval(rows)[1]}
held, groups = np.array([id(r) in held_ids for r in rows]), np.array([json.dumps(r["prompt"]) for r in rows])
if a.features: feats = {k: v for k, v in np.load(a.features).items() if k.startswith(("last", "mean", "nmean"))}
else:
    feats = features(rows)
    np.savez(f"reward-probe-{a.max_length}.npz", **feats)
feats["mean8+16+24"] = np.hstack([feats["mean8"], feats["mean16"], feats["mean24"]])
print(f"{len(rows)} pairs, {int((~held).sum())} to fit on (5-fold CV by prompt), {int(held.sum())} held out (the kit's split)")
for k, X in feats.items():
    print(f"{k:<12}" + " | ".join(f"C={C:g}: cv {cv:.3f} held {h:.3f}" for C in (1e-4, 3e-4, 1e-3, 1e-2) for cv, h in [accuracy(X, held, groups, C)]), flush=True)
