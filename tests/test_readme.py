"The README's generated parts stay generated: the quick start is the tour notebook, the performance table is `make bench`'s."
import subprocess, sys
from conftest import ROOT


def test_quick_start_is_the_rendered_tour():
    r = subprocess.run([sys.executable, str(ROOT / "scripts/readme_tour.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_the_command_tree_is_llmops_help():
    from conftest import run_cli
    text = (ROOT / "README.md").read_text()
    tree = text.split("<!-- commands:start -->\n```text\n", 1)[1].split("\n```\n<!-- commands:end -->", 1)[0]
    assert tree == run_cli("help").stdout.rstrip("\n")


def test_perf_table_is_rebuilt_from_bench_rows(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\n\ntail\n")
    results = tmp_path / "all.txt"
    results.write_text("noise\nREADME-ROW\tprompts\tcached render vs load_prompt\t2.3 us vs 389 us: 168x\tpython bench/prompts.py\n")
    r = subprocess.run([sys.executable, str(ROOT / "scripts/perf_table.py"), str(results), str(readme)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = readme.read_text()
    assert "| prompts | cached render vs load_prompt | 2.3 us vs 389 us: 168x | `python bench/prompts.py` |" in text
    assert "old" not in text and text.endswith("tail\n")
    assert "<!-- perf-table:start -->" in (ROOT / "README.md").read_text()


def test_the_demo_pictures_come_from_a_demo_run():
    "The README's pictures of `make demo` are files scripts/readme_images.py took from a demo run's output notebook."
    r = subprocess.run([sys.executable, str(ROOT / "scripts/readme_images.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
