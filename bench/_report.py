"One row of the README's performance table, printed by a benchmark; `make bench` collects the rows into README.md."
import sys


def row(capability: str, compared: str, result: str, command: str):
    "Print a table row (tab-separated after the README-ROW marker), e.g. row('prompts', 'x vs y', '168x', 'python bench/prompts.py')."
    print("README-ROW\t" + "\t".join(s.replace("\t", " ").replace("|", "/") for s in (capability, compared, result, command)), flush=True)
