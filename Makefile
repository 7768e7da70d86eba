# The CPU environment (this machine, CI) and the project's standing commands.
# GPU nodes: see verl/README.md (pip install -e ".[gpu]").
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on disk; an unpinned torch pulls a multi-GB CUDA build.
TORCH_CPU ?= torch==2.13.0

.PHONY: install test test-fast lint format demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_CPU)"
	$(BIN)/python -m pip install --quiet "$(TORCH_CPU)" -e ".[train,eval,dev]"
	touch $@

test: install
	$(BIN)/python -m pip check
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The quick loop: every test except the ones that run a real engine (marked slow).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: install
	$(BIN)/sparkle demo

clean:
	rm -rf $(VENV) outputs/demo .pytest_cache
