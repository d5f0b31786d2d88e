"""Training speed of each recipe on CPU: the kit's recipe against TRL with its default config and TRL hand-tuned for CPU.

One process, the same model (SmolLM2-135M-Instruct), data, batch and sequence length on all three sides; the figure
is the median seconds per optimizer step (the first step of each run, which warms up, is left out). This shared
2-core machine drifts by a third from minute to minute, and a training later in a process was once seen 20% slower than the first,
so each side runs --rounds times, interleaved, the order reversed every other round, and the steps of all its
rounds are pooled.
Goal (issue 7): the recipe >= 3x faster than TRL's defaults on CPU, and within 5% of hand-tuned TRL.

Allocator: while it trains on a CPU, the kit's recipe raises glibc's mmap and trim thresholds (train.cpu_allocator),
so the large buffers a step frees are reused rather than unmapped and page-faulted in again. When it ends it sets them
to 32 MB / 64 MB, the ceiling of glibc's own dynamic thresholds; the TRL sides that run after the kit's first run
(the later rounds) run with those, which measured them a little faster than in a fresh process, not slower.

The same work on every side: the kit trains the whole model here (--layers 0 --depth 0), as TRL does, and its reward
model with TRL's trainer (--method trl); the kit's default reward model on a CPU (the score head fitted on the frozen
model in one pass, no steps to time) is measured for accuracy and time in bench/preferences.py.
DPO and KTO: on a CPU the kit computes the reference model's log-probs once before training (TRL's
precompute_ref_log_probs); hand-tuned TRL gets the same, so the comparison is of equal work. The bench prints that
setup time apart from the steps.
Distillation, in two rows, each against TRL doing the same kind of distillation:
- on-policy (the student generates its answers every step): the kit's `--on-policy` against TRL's
  DistillationTrainer, with its defaults and hand-tuned;
- off-policy (the student learns from the teacher's answers, generated once): the kit's default on a CPU (the
  teacher's hidden states at those answers are kept too, so a step runs the student alone) against TRL's off-policy
  GKDTrainer (lmbda 0) on the same teacher answers, with its defaults and hand-tuned. The bench prints the kit's
  one-time teacher pass apart from the steps, and the break-even: the run length from which the kit's whole off-policy
  run (pass + steps) is >= 3x shorter than TRL's default on-policy run.

    python bench/train.py [--recipes sft,reward,dpo,kto,distill-on,distill-off] [--steps 4] [--rounds 2] [--batch 4] [--max-length 128]
"""
import argparse, atexit, copy, gc, json, math, os, shutil, statistics, sys, tempfile, time, warnings
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")

ap = argparse.ArgumentParser()
ap.add_argument("--recipes", default="sft,reward,dpo,kto,distill-on,distill-off"); ap.add_argument("--steps", type=int, default=4); ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--batch", type=int, default=4); ap.add_argument("--max-length", type=int, default=128)
a = ap.parse_args()

import torch, trl
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
from datasets import Dataset
from jupyter_llmops.config import load_settings
from jupyter_llmops.train import cpu_threads, load_data, model_folder, run_recipe, student_from

home = Path(tempfile.mkdtemp(prefix="bench-train-"))
atexit.register(shutil.rmtree, home, True)  # the bench's model copies and runs go when it ends
os.environ["LLMOPS_HOME"] = str(home)
st = load_settings()
base = str(model_folder("local", st))
data = home / "data"; data.mkdir()
rows = {
    "sft": [{"prompt": f"What is {i} plus {i}?", "completion": f"{i} plus {i} is {2 * i}, because adding a number to itself doubles it."} for i in range(16)],
    "reward": [{"prompt": f"Greet user {i}.", "chosen": f"Hello, user {i}! How can I help you today?", "rejected": "no."} for i in range(16)],
    "distill": [{"prompt": f"Describe the number {i} in one sentence."} for i in range(16)],
}
rows["dpo"] = rows["reward"]
rows["kto"] = [{"prompt": r["prompt"], "completion": r[k], "label": k == "chosen"} for r in rows["reward"][:8] for k in ("chosen", "rejected")]
for k, v in rows.items(): (data / f"{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in v))


class StepTimer(TrainerCallback):
    def __init__(self): self.times = []
    def on_step_begin(self, *a, **k): self.t0 = time.perf_counter()
    def on_step_end(self, *a, **k): self.times.append(time.perf_counter() - self.t0)
    @property
    def steps(self):
        "The step times after the first."
        if os.environ.get("BENCH_VERBOSE"): print("   step times", [round(t, 2) for t in self.times], flush=True)
        return self.times[1:] or self.times


def _teacher_chats(teacher, tok, ds, kw):
    "The teacher's greedy answers to the prompts, as chats (what TRL's off-policy GKDTrainer trains on)."
    from jupyter_llmops.train import teacher_pass
    dt = trl.DistillationTrainer(model=student_from(teacher), teacher_model=teacher, processing_class=tok,
                                 args=trl.DistillationConfig(max_completion_length=16, **{**kw, "output_dir": tempfile.mkdtemp(dir=home)}),
                                 train_dataset=Dataset.from_list([{"prompt": r["prompt"]} for r in ds]))
    prompts = [r["prompt"] for r in ds]
    ids, _, _ = dt._tokenize_prompts(prompts)
    answers, _ = teacher_pass(teacher, tok.pad_token_id, ids, dt.eos_token_ids, 16)
    return [p + [{"role": "assistant", "content": tok.decode(a, skip_special_tokens=True).strip()}] for p, a in zip(prompts, answers)]


def trl_direct(recipe: str, tuned: bool) -> list[float]:
    "TRL used directly: its default config (only the run length, shapes and use_cpu set), or hand-tuned for CPU."
    out = tempfile.mkdtemp(dir=home)
    # use_cpu: without it TRL's default bf16 refuses to start on a machine without a GPU
    kw = dict(output_dir=out, max_steps=a.steps, per_device_train_batch_size=a.batch, report_to="none", save_strategy="no",
              disable_tqdm=True, use_cpu=True)
    if tuned: kw.update(bf16=False, fp16=False, gradient_checkpointing=False)
    pre = dict(precompute_ref_log_probs=True, precompute_ref_batch_size=16) if tuned else {}  # the reference once, as the kit does
    src = "distill" if recipe.startswith("distill") else recipe
    tok = AutoTokenizer.from_pretrained(base, padding_side="left" if recipe == "distill-on" else "right")
    ds = load_data(src, data / f"{src}.jsonl", st)
    if recipe == "sft":
        t = trl.SFTTrainer(model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), processing_class=tok,
                           args=trl.SFTConfig(max_length=a.max_length, **kw), train_dataset=Dataset.from_list(ds))
    elif recipe == "reward":
        m = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, dtype=torch.float32); m.config.pad_token_id = tok.pad_token_id
        t = trl.RewardTrainer(model=m, processing_class=tok, args=trl.RewardConfig(max_length=a.max_length, **kw), train_dataset=Dataset.from_list(ds))
    elif recipe == "dpo":
        t = trl.DPOTrainer(model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), processing_class=tok,
                           args=trl.DPOConfig(max_length=a.max_length, **pre, **kw), train_dataset=Dataset.from_list(ds))
    elif recipe == "kto":
        t = trl.KTOTrainer(model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), processing_class=tok,
                           args=trl.KTOConfig(max_length=a.max_length, **pre, **kw), train_dataset=Dataset.from_list(ds))
    elif recipe == "distill-on":
        teacher = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
        t = trl.DistillationTrainer(model=student_from(teacher), teacher_model=teacher, processing_class=tok,
                                    args=trl.DistillationConfig(max_completion_length=16, beta=0.5, **kw),
                                    train_dataset=Dataset.from_list([{"prompt": r["prompt"]} for r in ds]))
    else:  # distill-off: TRL's own off-policy distillation, GKDTrainer with lmbda 0, on the teacher's greedy answers
        from trl.experimental.gkd import GKDConfig, GKDTrainer
        teacher = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
        chats = gkd_chats.get("chats") or gkd_chats.setdefault("chats", _teacher_chats(teacher, AutoTokenizer.from_pretrained(base, padding_side="left"), ds, kw))
        t = GKDTrainer(model=student_from(teacher), teacher_model=teacher, processing_class=tok, train_dataset=Dataset.from_list([{"messages": c} for c in chats]),
                       args=GKDConfig(lmbda=0.0, beta=0.5, max_new_tokens=16, max_length=a.max_length, **kw))
    timer = StepTimer(); t.add_callback(timer)
    t.train()
    return timer.steps


gkd_chats = {}  # the teacher's answers for TRL's off-policy side, computed once

kit_metrics = {}


def kit(recipe: str) -> list[float]:
    timer = StepTimer()
    src = "distill" if recipe.startswith("distill") else recipe
    r = run_recipe(src, data / f"{src}.jsonl", steps=a.steps, batch=a.batch, max_length=a.max_length, layers=0, depth=0,
                   **({"method": "trl"} if src == "reward" else {}),
                   on_policy=True if recipe == "distill-on" else None, max_new_tokens=16, progress=False, callbacks=[timer], settings=st)
    kit_metrics.setdefault(recipe, r.metrics)
    return timer.steps


def measure(recipe: str) -> tuple[float, float, float]:
    "Median s/step of TRL default, TRL tuned and the kit, over interleaved rounds."
    sides = {"default": lambda first: trl_direct(recipe, False), "tuned": lambda first: trl_direct(recipe, True),
             "kit": lambda first: kit(recipe)}
    times = {k: [] for k in sides}
    for r in range(a.rounds):
        for k in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            gc.collect()
            times[k] += sides[k](r == 0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med["default"], med["tuned"], med["kit"]


print(f"torch {torch.__version__}, trl {trl.__version__}, {cpu_threads()} usable cores, torch threads {torch.get_num_threads()}; "
      f"batch {a.batch}, max_length {a.max_length}, {a.rounds} interleaved rounds of {a.steps} steps per side (median s/step, first step of each run excluded)")
print(f"{'recipe':<12} {'TRL default':>12} {'TRL CPU-tuned':>14} {'kit':>8} {'vs default':>11} {'vs tuned':>9}")
rows = []
notes = []
on_policy_default = None
for recipe in a.recipes.split(","):
    default, tuned, ours = measure(recipe)
    m = kit_metrics.get(recipe, {})
    print(f"{recipe:<12} {default:>11.2f}s {tuned:>13.2f}s {ours:>7.2f}s {default / ours:>10.2f}x {ours / tuned:>8.3f}", flush=True)
    rows.append(f"{recipe} {default / ours:.2f}x / {ours / tuned:.2f}")
    if recipe in ("dpo", "kto") and "setup_s" in m:
        notes.append(f"{recipe}: the reference log-probs are computed once, before the first step, on the kit's and the tuned side (kit setup {m['setup_s']:.1f} s, model load included)")
        print("  " + notes[-1], flush=True)
    if recipe == "distill-on": on_policy_default = default
    if "teacher_pass_s" in m and m.get("teacher_answers"):
        per_prompt = m["teacher_pass_s"] / m["teacher_answers"]
        ref = on_policy_default if on_policy_default else default
        gain = ref - 3 * ours  # seconds per step the kit has left, at 3x, to pay the pass back
        even = f"from {math.ceil(3 * m['teacher_pass_s'] / gain)} steps" if gain > 0 else "never"
        notes.append(f"distill off-policy: one-time teacher pass {m['teacher_pass_s']:.1f} s for {m['teacher_answers']:.0f} prompts "
                     f"({per_prompt:.2f} s/prompt); whole run >= 3x shorter than TRL's default (on-policy) run {even}")
        print("  " + notes[-1], flush=True)
print("vs default: how many times faster the kit is than TRL's defaults (goal >= 3); "
      "vs tuned: the kit's time over hand-tuned TRL (goal <= 1.05)")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
row("training (CPU)", f"each recipe vs TRL with its default config / vs TRL hand-tuned for CPU, median s/step, batch {a.batch}, length {a.max_length}",
    "; ".join(rows) + " (goals >= 3x / <= 1.05)" + "".join(f"; {n}" for n in notes), "python bench/train.py" + ("" if a.recipes == ap.get_default("recipes") else f" --recipes {a.recipes}")
    + ("" if a.rounds == ap.get_default("rounds") else f" --rounds {a.rounds}") + ("" if a.steps == ap.get_default("steps") else f" --steps {a.steps}"))
