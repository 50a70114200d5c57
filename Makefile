# The two README commands, and what they stand on. Every target installs what is missing first.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_STAMP := $(VENV)/.postgresql-stamp

.PHONY: demo test install lint bench server-start server-stop

$(STAMP): requirements.lock pyproject.toml scripts/install.sh
	bash scripts/install.sh
	touch $@

# PostgreSQL for the team server (curation server start --database postgresql); the tests run on both databases.
$(PG_STAMP): $(STAMP) requirements-postgresql.lock
	bash scripts/install.sh --postgresql
	touch $@

install: $(STAMP)

# The main job on the embedded default.
demo: $(STAMP)
	$(BIN)/python -m curation demo

# Every test tier: unit, integration against the real Argilla server, browser.
test: $(PG_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/argilla_ingest_and_query.py

server-start: $(STAMP)
	$(BIN)/curation server start

server-stop: $(STAMP)
	$(BIN)/curation server stop
