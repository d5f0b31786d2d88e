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

DPO: on a CPU the kit computes the reference model's log-probs once before training (TRL's
precompute_ref_log_probs); the bench prints that setup time apart from the steps.
Distillation: TRL's DistillationTrainer is on-policy (the student generates every step). On a CPU the kit's recipe
is off-policy: the teacher answers each prompt once, and its hidden states at those answers are kept, so a step
runs the student alone. The bench prints that one-time teacher pass apart from the steps, and the break-even: the
run length from which the kit's whole run (pass + steps) is >= 3x shorter than TRL's default run. "TRL CPU-tuned"
for distillation is the faster of DistillationTrainer with bf16 and checkpointing off, and TRL's off-policy
GKDTrainer (lmbda 0, the same tuning) trained on the same teacher answers.

    python bench/train.py [--recipes sft,reward,dpo,distill] [--steps 4] [--rounds 2] [--batch 4] [--max-length 128]
"""
import argparse, atexit, copy, gc, json, math, os, shutil, statistics, sys, tempfile, time, warnings
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")

ap = argparse.ArgumentParser()
ap.add_argument("--recipes", default="sft,reward,dpo,distill"); ap.add_argument("--steps", type=int, default=4); ap.add_argument("--rounds", type=int, default=2)
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


def trl_direct(recipe: str, tuned: bool, first_round: bool = True) -> list[float]:
    "TRL used directly: its default config (only the run length, shapes and use_cpu set), or hand-tuned for CPU."
    out = tempfile.mkdtemp(dir=home)
    # use_cpu: without it TRL's default bf16 refuses to start on a machine without a GPU
    kw = dict(output_dir=out, max_steps=a.steps, per_device_train_batch_size=a.batch, report_to="none", save_strategy="no",
              disable_tqdm=True, use_cpu=True)
    if tuned: kw.update(bf16=False, fp16=False, gradient_checkpointing=False)
    tok = AutoTokenizer.from_pretrained(base, padding_side="left" if recipe == "distill" else "right")
    ds = load_data(recipe, data / f"{recipe}.jsonl", st)
    if recipe == "sft":
        t = trl.SFTTrainer(model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), processing_class=tok,
                           args=trl.SFTConfig(max_length=a.max_length, **kw), train_dataset=Dataset.from_list(ds))
    elif recipe == "reward":
        m = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, dtype=torch.float32); m.config.pad_token_id = tok.pad_token_id
        t = trl.RewardTrainer(model=m, processing_class=tok, args=trl.RewardConfig(max_length=a.max_length, **kw), train_dataset=Dataset.from_list(ds))
    elif recipe == "dpo":
        t = trl.DPOTrainer(model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), processing_class=tok,
                           args=trl.DPOConfig(max_length=a.max_length, **kw), train_dataset=Dataset.from_list(ds))
    else:
        teacher = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
        t = trl.DistillationTrainer(model=student_from(teacher), teacher_model=teacher, processing_class=tok,
                                    args=trl.DistillationConfig(max_completion_length=16, beta=0.5, **kw),
                                    train_dataset=Dataset.from_list([{"prompt": r["prompt"]} for r in ds]))
    timer = StepTimer(); t.add_callback(timer)
    t.train()
    if recipe == "distill" and tuned and first_round: gkd[recipe] = gkd_off_policy(t, teacher, tok, ds, kw)
    return timer.steps


gkd = {}  # TRL's off-policy distillation, median s/step (measured in the first round)


def gkd_off_policy(dt, teacher, tok, ds, kw) -> float:
    "TRL's own off-policy distillation: GKDTrainer with lmbda 0, hand-tuned for CPU, on the teacher's greedy answers."
    from trl.experimental.gkd import GKDConfig, GKDTrainer
    from jupyter_llmops.train import teacher_pass
    prompts = [r["prompt"] for r in ds]
    ids, _, _ = dt._tokenize_prompts(prompts)
    answers, _ = teacher_pass(teacher, tok.pad_token_id, ids, dt.eos_token_ids, 16)
    chats = [p + [{"role": "assistant", "content": tok.decode(a, skip_special_tokens=True).strip()}] for p, a in zip(prompts, answers)]
    kw = {k: v for k, v in kw.items() if k != "output_dir"}
    t = GKDTrainer(model=student_from(teacher), teacher_model=teacher, processing_class=tok, train_dataset=Dataset.from_list([{"messages": c} for c in chats]),
                   args=GKDConfig(output_dir=tempfile.mkdtemp(dir=home), lmbda=0.0, beta=0.5, max_new_tokens=16, max_length=a.max_length, **kw))
    timer = StepTimer(); t.add_callback(timer); t.train()
    med = statistics.median(timer.steps)
    print(f"  (distill, TRL off-policy GKDTrainer hand-tuned: {med:.2f} s/step)", flush=True)
    return med


kit_metrics = {}


def kit(recipe: str) -> list[float]:
    timer = StepTimer()
    r = run_recipe(recipe, data / f"{recipe}.jsonl", steps=a.steps, batch=a.batch, max_length=a.max_length,
                   max_new_tokens=16, progress=False, callbacks=[timer], settings=st)
    kit_metrics.setdefault(recipe, r.metrics)
    return timer.steps


def measure(recipe: str) -> tuple[float, float, float]:
    "Median s/step of TRL default, TRL tuned and the kit, over interleaved rounds."
    sides = {"default": lambda first: trl_direct(recipe, False, first), "tuned": lambda first: trl_direct(recipe, True, first),
             "kit": lambda first: kit(recipe)}
    times = {k: [] for k in sides}
    for r in range(a.rounds):
        for k in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            gc.collect()
            times[k] += sides[k](r == 0)
    med = {k: statistics.median(v) for k, v in times.items()}
    if recipe in gkd: med["tuned"] = min(med["tuned"], gkd[recipe])
    return med["default"], med["tuned"], med["kit"]


print(f"torch {torch.__version__}, trl {trl.__version__}, {cpu_threads()} usable cores, torch threads {torch.get_num_threads()}; "
      f"batch {a.batch}, max_length {a.max_length}, {a.rounds} interleaved rounds of {a.steps} steps per side (median s/step, first step of each run excluded)")
print(f"{'recipe':<8} {'TRL default':>12} {'TRL CPU-tuned':>14} {'kit':>8} {'vs default':>11} {'vs tuned':>9}")
rows = []
notes = []
for recipe in a.recipes.split(","):
    default, tuned, ours = measure(recipe)
    m = kit_metrics.get(recipe, {})
    print(f"{recipe:<8} {default:>11.2f}s {tuned:>13.2f}s {ours:>7.2f}s {default / ours:>10.2f}x {ours / tuned:>8.3f}", flush=True)
    rows.append(f"{recipe} {default / ours:.2f}x / {ours / tuned:.2f}")
    if recipe == "dpo" and "setup_s" in m:
        notes.append(f"dpo: the reference log-probs are computed once, before the first step (setup {m['setup_s']:.1f} s, model load included)")
        print("  " + notes[-1], flush=True)
    if "teacher_pass_s" in m:
        per_prompt = m["teacher_pass_s"] / m["teacher_answers"]
        gain = default - 3 * ours  # seconds per step the kit has left, at 3x, to pay the pass back
        even = f"from {math.ceil(3 * m['teacher_pass_s'] / gain)} steps" if gain > 0 else "never"
        notes.append(f"distill: one-time teacher pass {m['teacher_pass_s']:.1f} s for {m['teacher_answers']:.0f} prompts "
                     f"({per_prompt:.2f} s/prompt); whole run >= 3x shorter than TRL's default {even}")
        print("  " + notes[-1], flush=True)
print("vs default: how many times faster the kit is than TRL's defaults (goal >= 3); "
      "vs tuned: the kit's time over hand-tuned TRL (goal <= 1.05)")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
row("training (CPU)", f"each recipe vs TRL with its default config / vs TRL hand-tuned for CPU, median s/step, batch {a.batch}, length {a.max_length}",
    "; ".join(rows) + " (goals >= 3x / <= 1.05)" + "".join(f"; {n}" for n in notes), "python bench/train.py" + ("" if a.recipes == ap.get_default("recipes") else f" --recipes {a.recipes}")
    + ("" if a.rounds == ap.get_default("rounds") else f" --rounds {a.rounds}") + ("" if a.steps == ap.get_default("steps") else f" --steps {a.steps}"))
