"""The compact call table survives a writer killed midway: every batch is there whole or not at all, the database is
intact, and the next writer and reader carry on."""
import os, signal, sqlite3, subprocess, sys, time
from pathlib import Path
from jupyter_llmops.calls import COLUMNS, CallTable

WRITER = """
import sys, time
from jupyter_llmops.calls import CallTable
t = CallTable(sys.argv[1])
n, batch = 0, 500
while True:
    t.add([dict(trace_id=f"tr-{n + i}", ts_ms=1_790_000_000_000 + n + i, experiment="e", model="local", prompt="", route="",
                error=0, cached=0, latency_s=0.5, cost=0.0, prompt_tokens=10, completion_tokens=5, question="q " * 50,
                answer="a " * 200, context='[{"source": "s", "text": "t"}]') for i in range(batch)])
    n += batch
    print(n, flush=True)
"""


def test_a_writer_killed_midway_leaves_whole_batches(tmp_path):
    db = tmp_path / "calls.db"
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=os.environ)
    seen = 0
    while seen < 5000:  # let it write several batches, then kill it while it writes the next
        seen = int(p.stdout.readline())
    os.kill(p.pid, signal.SIGKILL); p.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    n = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert n >= seen and n % 500 == 0  # whole batches only
    assert con.execute("SELECT count(*) FROM calls WHERE answer IS NULL OR context IS NULL OR latency_s IS NULL").fetchone()[0] == 0
    con.close()
    t = CallTable(db)  # the next writer and reader carry on
    t.add([dict(trace_id="tr-after", ts_ms=1_790_000_000_000 + 10**7, experiment="e", model="local", error=0, cached=0, answer="ok")])
    w = t.window(0)
    assert len(w) == n + 1 and w.trace_id[0] == "tr-after" and list(w.columns) == COLUMNS[:12]
