"""`redact` on long hostile texts: linear in the text, against one plain `re.sub` pass of Python's `re`.

Secrets are redacted from everything the kit shows or stores (REST answers, MLflow params, logs), so a text a user or
a server sends must not make it slow: a Jupyter server answers one request at a time while `re` holds the GIL. The texts
are the shapes that made the URI-credential pattern quadratic before its parts were bounded (40,000 letters took 8.7 s),
plus ordinary prose holding one key. Each is timed at 10k, 40k and 160k characters (medians of --runs runs), beside one
`re.sub` of a single key pattern over the same text (the floor: one linear pass of the library `redact` is built on).
Linear means 4 times the text takes about 4 times the time; quadratic would be 16.
Run: .venv/bin/python bench/redaction.py [--runs N]"""
import argparse, os, re, statistics, sys, time
from jupyter_llmops.redaction import redact

SHAPES = {"letters": "a", "'s://u:'": "s://u:", "'http://x'": "http://x", "slack URLs": "https://hooks.slack.com",
          "prose with a key": "The run used key sk-" + "Ab3" * 8 + " at http://127.0.0.1:8080 for 3 steps. "}
SIZES = (10_000, 40_000, 160_000)
ONE_PASS = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")


def median_s(f, text, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter(); f(text); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    print(f"redact vs one re.sub pass, median of {runs} runs; growth = time at 4x the text / time at the text")
    print(f"{'text':<18}{'chars':>9}{'redact ms':>11}{'re.sub ms':>11}{'ratio':>8}{'growth':>8}")
    worst, big = 0.0, {}
    for name, piece in SHAPES.items():
        prev = None
        for n in SIZES:
            text = (piece * (n // len(piece) + 1))[:n]
            kit, raw = median_s(redact, text, runs), median_s(lambda t: ONE_PASS.sub("***", t), text, runs)
            growth = kit / prev if prev else float("nan")
            if prev: worst = max(worst, growth)
            prev, big[name] = kit, kit
            print(f"{name:<18}{n:>9,}{kit * 1e3:>11.1f}{raw * 1e3:>11.2f}{kit / raw:>7.0f}x{growth:>8.1f}")
    slowest = max(big, key=big.get)
    print(f"largest growth per 4x text: {worst:.1f} (linear 4, quadratic 16); slowest at 160k: {slowest}, {big[slowest]:.2f} s")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _report import row
    row("redaction", "`redact` on 160k-character hostile texts, time growth per 4x text",
        f"growth {worst:.1f}x per 4x (linear: 4, quadratic: 16); slowest {big[slowest]:.2f} s ({slowest})", "python bench/redaction.py")


if __name__ == "__main__":
    main()
