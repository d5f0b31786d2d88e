"""Start-up cost of `%load_ext jupyter_llmops`, against `import json` and `import mlflow`.

Each measurement runs in a fresh Python process (so nothing is already imported) and times only the statement;
the medians of several runs are printed, with ratios. Goal: load_ext under 0.3 s.
Run: .venv/bin/python bench/startup.py [--runs N]"""
import argparse, statistics, subprocess, sys

CASES = {
    "import json": ("", "import json"),
    "%load_ext jupyter_llmops": ("from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance()",
                                 "ip.run_line_magic('load_ext', 'jupyter_llmops')"),
    "import mlflow": ("", "import mlflow"),
}


def once(setup: str, stmt: str) -> float:
    code = f"{setup}\nimport time; t = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    med = {name: statistics.median(once(*c) for _ in range(runs)) for name, c in CASES.items()}
    base = med["%load_ext jupyter_llmops"]
    print(f"start-up, median of {runs} fresh processes each")
    print(f"{'what':<26}{'median s':>10}{'vs load_ext':>14}")
    for name, t in med.items():
        print(f"{name:<26}{t:>10.4f}{t / base:>13.2f}x")
    print(f"load_ext goal < 0.3 s: {'met' if base < 0.3 else 'NOT met'} ({base:.3f} s); "
          f"import mlflow is {med['import mlflow'] / base:.0f}x slower than load_ext")
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("start-up", f"`%load_ext jupyter_llmops` vs `import mlflow` (fresh processes, median of {runs})",
        f"{base:.3f} s vs {med['import mlflow']:.2f} s (goal < 0.3 s)", "python bench/startup.py")


if __name__ == "__main__":
    main()
