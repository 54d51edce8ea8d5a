# The two commands of the README. Everything else they need is installed on the way.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: up test deps bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

deps: $(VENV)/.installed
	bash .ci/install-postgres.sh
	bash .ci/install-chromium.sh
	$(PY) -c "from shared.local_kafka import ensure_kafka_jars; print('kafka jars:', ensure_kafka_jars())"

## make up: the whole stack on the embedded defaults (SQLite under .data/, local Kafka, every service).
up: $(VENV)/.installed
	$(PY) -m services.cli up

## make test: install what is missing, then run every test (unit, integration on real Kafka/PostgreSQL, e2e).
test: deps
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

## make bench: every benchmark beside its baseline (local Kafka, throwaway PostgreSQL); writes docs/benchmarks.md.
bench: deps
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data
