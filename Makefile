# Two commands on a fresh machine with Python 3.11+ and git:
#   make demo   set up .venv, build the demo store (passphrase: demo), open JupyterLab
#   make test   set up .venv with the test extras and run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8888
DEMO_DB := data/demo.duckdb

.PHONY: demo test app bench bench-quick lint fuzz mutate strip clean-data

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/workbench demo --db $(DEMO_DB) --port $(PORT)

# Two workers (pytest-xdist), one per core: the suite takes about half as long, and every test
# keeps its own store, port and browser, so none depends on running alone.
test: $(VENV)/.installed-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -n 2

app: $(VENV)/.installed
	@test -f $(DEMO_DB) || $(BIN)/workbench demo --db $(DEMO_DB) --no-launch
	WORKBENCH_PASSPHRASE= $(BIN)/workbench app --db $(DEMO_DB) --port $(PORT)

# Exits non-zero when a target is missed. bench-quick: demo and branch stores only, 3 runs a figure.
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py

bench-quick: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py --quick

# Security linting: ruff's S rules, bandit (skips justified in pyproject.toml), and pip-audit (which
# says so plainly, and carries on, when its vulnerability database cannot be reached).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/bandit -q -c pyproject.toml -r workbench
	.ci/audit-deps $(BIN)

# The whole-path fuzz test with many more examples than `make test` runs (several minutes).
fuzz: $(VENV)/.installed-test
	WORKBENCH_FUZZ=long $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz.py

# Mutation testing of the privacy rules (slow: about an hour on 2 cores; never part of `make test`).
# Modules and tests are listed under [tool.mutmut] in pyproject.toml; kill rates per module at the end.
mutate: $(VENV)/.installed-test
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 || true
	$(BIN)/python .ci/mutation_report.py

# Notebooks are committed without outputs; a test fails if any slip in.
strip: $(VENV)/.installed-test
	$(BIN)/nbstripout notebooks/*.ipynb

clean-data:
	rm -rf data/demo.duckdb data/demo.duckdb.wal data/demo.analysis.duckdb
