# The two Quickstart commands: `make demo` (the main job) and `make test` (the whole suite).
# Each creates and fills .venv on first use; afterwards set-up is a no-op until pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py | sha1sum | cut -c1-12)
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: demo test test-first-use system-deps venv
demo: $(STAMP)
	$(VENV)/bin/genaisys demo

# Two workers (a file's tests stay together, so its module fixtures are built once): the suite's
# tests run one torch thread each, so two cores run two files at once. (--dist worksteal was
# measured slower: 1,112 s against 1,021 s, its minutes-long tests landing at the end.)
test: $(STAMP) system-deps
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --durations=25

# First use on a fresh machine, which a warm asset cache hides: the asset-fetch tests with an
# empty GENAISYS_HOME (CI runs this after `make test`).
test-first-use: $(STAMP)
	home=$$(mktemp -d) && GENAISYS_HOME=$$home $(VENV)/bin/python -m pytest -q -m packaged \
		tests/genaisys/test_errors_assets.py tests/eval/test_packaged.py; rc=$$?; rm -rf "$$home"; exit $$rc

# Best effort, never failing: PostgreSQL, Chromium, espeak-ng, Node.js and the MCP reference server.
system-deps:
	@bash .ci/system-deps

venv: $(STAMP)

# torch goes in first and pinned: the CPU wheel lies on disk, while an unpinned torch pulls a
# multi-GB CUDA build. torchvision is never installed (it breaks beside this torch).
$(STAMP): pyproject.toml setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade "pip>=24"
	$(VENV)/bin/python -m pip install -q "torch==2.13.0"
	$(VENV)/bin/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@
