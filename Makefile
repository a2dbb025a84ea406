# Set-up and everyday commands. Every target creates .venv first when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test examples snapshots docs clean

# Run the main job: generate the bundled digits_logistic example, then train it
# 20 FedAvg rounds on scikit-learn's handwritten digits (non-IID across 20
# clients, 10 per round) and evaluate it on held-out clients.
demo: $(STAMP)
	$(BIN)/wrapgen generated_examples/digits_logistic.yaml
	$(BIN)/wrapgen run generated_examples/digits_logistic.yaml --data digits --plot digits_curve.png

# Lint and format-check the code, run the whole test suite, then fail if any
# TFF worker process outlived it.
test: $(STAMP)
	$(BIN)/ruff check codegen tests benchmarks
	$(BIN)/ruff format --check codegen tests benchmarks
	$(BIN)/python -m pytest
	@$(BIN)/python -c "import sys; from codegen.workers import all_worker_pids as p; \
	left = p(); print('TFF worker_binary processes left running:', left) if left else None; sys.exit(bool(left))"

# Rewrite the pinned error output of every spec in tests/bad_specs/ (review the diff).
snapshots: $(STAMP)
	$(BIN)/python tests/snapshots.py

# Rewrite what is generated from the catalogue entries: the README's catalogue
# table and the JSON schema of the spec format.
docs: $(STAMP)
	$(BIN)/python -m codegen.catalogue.docs README.md
	$(BIN)/wrapgen schema > schema/wrapgen-spec.schema.json

# Regenerate every committed example module from its spec.
examples: $(STAMP)
	$(BIN)/wrapgen generate

# TFF 0.87 pins jax/jaxlib 0.4.14, which the package index lacks: install TFF
# without its dependencies, then its own requirement list with jax 0.4.13.
$(STAMP): pyproject.toml requirements/tff-runtime.txt requirements/tff.txt requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements/tff-runtime.txt -c requirements/constraints.txt
	$(BIN)/pip install -q --no-deps -r requirements/tff.txt
	$(BIN)/pip install -q -e ".[dev]" -c requirements/constraints.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV) dist build .pytest_cache
