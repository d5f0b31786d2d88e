"""The benches name only what the kit has: every `from jupyter_llmops... import x` and every `module.attr` of a kit module
imported by a bench is defined there. Benches run by hand, for minutes or hours, so a function that moved between
modules would otherwise surface only at the end of a long run (it did: `routing.train_route`). Read from the source
(no imports), so the check costs nothing."""
import ast
from functools import cache
from pathlib import Path
import pytest
from conftest import ROOT

PKG = ROOT / "src" / "jupyter_llmops"
BENCHES = sorted((ROOT / "bench").glob("*.py"))


def _file(mod: str) -> Path | None:
    base = PKG.joinpath(*mod.split(".")) if mod else PKG
    return next((p for p in (base / "__init__.py", base.with_suffix(".py")) if p.is_file()), None)


@cache
def names_of(mod: str) -> frozenset | None:
    "What module `mod` (dotted, without the package) defines at its top level, its submodules included; None: any name (a module __getattr__)."
    path = _file(mod)
    out, todo = set(), list(ast.parse(path.read_text(encoding="utf-8")).body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(n.name)
        elif isinstance(n, ast.ImportFrom) and n.names[0].name == "*" and n.level:  # a package gathering its modules
            pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
            for _ in range(n.level - 1): pkg = pkg.rpartition(".")[0]
            sub = names_of(".".join(x for x in (pkg, n.module) if x))
            if sub is None: return None
            out |= {x for x in sub if not x.startswith("_")}
        elif isinstance(n, (ast.Import, ast.ImportFrom)): out |= {(a.asname or a.name).split(".")[0] for a in n.names}
        elif isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                out |= {x.id for x in ast.walk(t) if isinstance(x, ast.Name)}
        elif isinstance(n, (ast.If, ast.Try, ast.With, ast.For)):
            todo += n.body + getattr(n, "orelse", []) + getattr(n, "finalbody", []) + [s for h in getattr(n, "handlers", []) for s in h.body]
    if "__getattr__" in out: return None
    if path.name == "__init__.py": out |= {p.stem for p in path.parent.glob("*.py")} | {p.name for p in path.parent.iterdir() if (p / "__init__.py").is_file()}
    return frozenset(out)


def refs(path: Path) -> list[tuple[int, str, str]]:
    "(line, kit module, name) for every name the bench takes from a kit module."
    tree, out, alias = ast.parse(path.read_text(encoding="utf-8")), [], {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "jupyter_llmops" and not n.level:
            mod = n.module.partition(".")[2]
            for a in n.names:
                out.append((n.lineno, mod, a.name))
                if _file(f"{mod}.{a.name}".strip(".")): alias[a.asname or a.name] = f"{mod}.{a.name}".strip(".")
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.name.startswith("jupyter_llmops.") and a.asname: alias[a.asname] = a.name.partition(".")[2]
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in alias:
            out.append((n.lineno, alias[n.value.id], n.attr))
    return out


@pytest.mark.parametrize("bench", BENCHES, ids=lambda p: p.name)
def test_bench_names_exist_in_the_kit(bench):
    missing = [f"{bench.name}:{line}: jupyter_llmops.{mod or '(package)'} has no {name!r}".replace(". has", " has")
               for line, mod, name in refs(bench) if (have := names_of(mod)) is not None and name not in have]
    assert not missing, "\n".join(missing)


def test_the_check_finds_a_moved_function(tmp_path):
    "The check itself: a call of a function that left its module is reported."
    f = tmp_path / "b.py"
    f.write_text("def go():\n    from jupyter_llmops import routing\n    from jupyter_llmops.route_train import train_route\n"
                 "    return routing.train_route, routing.get_route, train_route\n")
    found = [(m, n) for _, m, n in refs(f) if n not in names_of(m)]
    assert found == [("routing", "train_route")]
