"""`make install` installs the versions in constraints.txt: the tests run on the versions the lock says they passed with,
and no release that reached the package index since (MLflow 3.18 once did, between two CI runs) slips in untested."""
import re, tomllib
from importlib.metadata import PackageNotFoundError, version
from conftest import ROOT

norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    lines = [l.strip() for l in (ROOT / "constraints.txt").read_text().splitlines()]
    return {norm(l.split("==")[0]): l.split("==")[1] for l in lines if l and not l.startswith("#")}


def test_the_tests_run_on_the_locked_versions():
    pins = _pins()
    installed = {}
    for name in pins:
        try: installed[name] = version(name)
        except PackageNotFoundError: installed[name] = None
    assert {n: (v, installed[n]) for n, v in pins.items() if installed[n] != v} == {}


def test_every_requirement_of_the_kit_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    names = {norm(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs} - {"jupyter-llmops", "torch"}  # torch: the Makefile's local wheel
    assert names and names - set(_pins()) == set()
    assert "torch" not in _pins()  # installed first, from its CPU wheel: a pin here could not be met by another build
