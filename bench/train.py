"""Training speed of each recipe on CPU: the kit's recipe against TRL with its default config and TRL hand-tuned for CPU.

One process, the same model (SmolLM2-135M-Instruct), data, batch and sequence length on all three sides; the figure
is the median seconds per optimizer step (the first step, which warms up, is left out).
Goal (issue 7): the recipe >= 3x faster than TRL's defaults on CPU, and within 5% of hand-tuned TRL.

    python bench/train.py [--recipes sft,reward,dpo,distill] [--steps 3] [--batch 4] [--max-length 128]
"""
import argparse, copy, json, os, statistics, sys, tempfile, time, warnings
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")

ap = argparse.ArgumentParser()
ap.add_argument("--recipes", default="sft,reward,dpo,distill"); ap.add_argument("--steps", type=int, default=3)
ap.add_argument("--batch", type=int, default=4); ap.add_argument("--max-length", type=int, default=128)
a = ap.parse_args()

import torch, trl
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
from datasets import Dataset
from jupyter_llmops.config import load_settings
from jupyter_llmops.train import cpu_threads, load_data, model_folder, run_recipe, student_from

home = Path(tempfile.mkdtemp(prefix="bench-train-"))
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
    def median(self): return statistics.median(self.times[1:] or self.times)


def trl_direct(recipe: str, tuned: bool) -> float:
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
    return timer.median


def kit(recipe: str) -> float:
    timer = StepTimer()
    run_recipe(recipe, data / f"{recipe}.jsonl", steps=a.steps, batch=a.batch, max_length=a.max_length,
               max_new_tokens=16, progress=False, callbacks=[timer], settings=st)
    return timer.median


print(f"torch {torch.__version__}, trl {trl.__version__}, {cpu_threads()} usable cores, torch threads {torch.get_num_threads()}; "
      f"batch {a.batch}, max_length {a.max_length}, {a.steps} steps (median s/step, first step excluded)")
print(f"{'recipe':<8} {'TRL default':>12} {'TRL CPU-tuned':>14} {'kit':>8} {'vs default':>11} {'vs tuned':>9}")
rows = []
for recipe in a.recipes.split(","):
    default, tuned, ours = trl_direct(recipe, False), trl_direct(recipe, True), kit(recipe)
    print(f"{recipe:<8} {default:>11.2f}s {tuned:>13.2f}s {ours:>7.2f}s {default / ours:>10.2f}x {ours / tuned:>8.3f}", flush=True)
    rows.append(f"{recipe} {default / ours:.2f}x / {ours / tuned:.2f}")
print("vs default: how many times faster the kit is than TRL's defaults (goal >= 3); "
      "vs tuned: the kit's time over hand-tuned TRL (goal <= 1.05)")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
row("training (CPU)", f"each recipe vs TRL with its default config / vs TRL hand-tuned for CPU, median s/step, batch {a.batch}, length {a.max_length}",
    "; ".join(rows) + " (goals >= 3x / <= 1.05)", "python bench/train.py" + ("" if a.recipes == ap.get_default("recipes") else f" --recipes {a.recipes}"))
