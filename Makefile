# valedger — the two set-up commands are `make demo` and `make test`.
# Both create .venv when missing and install the project with pinned versions: `make demo`
# the runtime dependencies only, `make test` also the dev tools (pytest, ruff, mypy, ...).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEMO_DIR ?= var/demo

.PHONY: demo test lint lint-proto typecheck pytest proto bench clean

# buf (protobuf lint, curl) comes from npm, pinned exactly in package.json / package-lock.json.
BUF    := node_modules/.bin/buf

# The demo's set-up is quiet: runtime dependencies only, no build-backend warnings.
$(RUNTIME_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUNTIME_STAMP)

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(BUF)

demo: $(RUNTIME_STAMP)
	$(BIN)/valedger demo --workdir $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(BUF)
	$(BIN)/pytest

lint-proto: $(BUF)
	$(BUF) lint

# Regenerate the Python stubs of proto/ into services/generated (checked by a test).
proto: $(STAMP)
	$(BIN)/python -m services.codegen

test: lint lint-proto typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
