# The README's two commands are `make run` and `make test`; both create .venv when it is missing
# and (re)install the project when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint format bench bench-plots loadtest migrate clean demo api-reference console

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## start the API on PORT (3000) with SQLite in ./var unless DATABASE_URL says otherwise
	@command -v bwrap >/dev/null 2>&1 || echo "warning: bubblewrap (bwrap) is not installed: session commands will run without isolation (apt-get install bubblewrap)" >&2
	$(BIN)/roo serve

# No model key needed: the fake LLM plays a scripted task (read, apply_diff, a command to
# approve) that `roo task run` shows live; the service stays up until Ctrl-C (examples/demo.py)
demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)  ## the whole suite (uses DATABASE_URL / REDIS_URL when set)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# matplotlib for the pictures: the optional extra `bench`, not a dependency of roo itself
BENCH_STAMP := $(VENV)/.bench-installed-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench-plots: $(BENCH_STAMP)  ## a PNG next to each bench/results/*.json (bench/plot.py)
	$(BIN)/python bench/plot.py

bench: $(BENCH_STAMP)  ## benchmarks; each writes JSON under bench/results/, then the PNGs
	$(BIN)/python bench/http_overhead.py
	$(BIN)/python bench/auth_overhead.py
	$(BIN)/python bench/sessions.py
	$(BIN)/python bench/tools.py
	$(BIN)/python bench/tasks.py
	$(BIN)/python bench/task_state.py
	$(BIN)/python bench/live_output.py
	$(BIN)/python bench/realtime.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/plot.py

# The seed's load test (artillery, installed into bench/artillery on first use; needs Node.js):
# embedded, the sign-in variant up to Argon2's cap, then PostgreSQL + Redis (one process, and
# the highest rate two workers hold) when they answer. JSON in bench/results/loadtest-*.json.
LOADTEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
LOADTEST_REDIS_URL ?= redis://127.0.0.1:6379/0
LOADTEST_PG = --database-url $(LOADTEST_DATABASE_URL) --redis $(LOADTEST_REDIS_URL)
loadtest: $(STAMP)
	$(BIN)/python bench/loadtest.py
	$(BIN)/python bench/loadtest.py --scenario login --find-rate --rate 2 --rate-step 2 --max-rate 40
	@if $(BIN)/python bench/loadtest.py $(LOADTEST_PG) --probe; then \
	  $(BIN)/python bench/loadtest.py $(LOADTEST_PG) && \
	  $(BIN)/python bench/loadtest.py $(LOADTEST_PG) --workers 2 --find-rate --rate 20 --rate-step 10; \
	else echo "loadtest: PostgreSQL or Redis does not answer; their runs are skipped"; fi

# docs/api-reference.md from the OpenAPI document (tests/client/test_api_reference.py checks it)
api-reference: $(STAMP)
	$(BIN)/python -m tests.client.generate_api_reference

# The web console (docs/console.md): its sources are in console/, the built bundle is committed
# under src/roo/console/static so that `make run` needs no Node. Rebuild after changing them
# (needs Node.js and npm; the lockfile pins every package); tests/console/test_build.py checks
# that the committed build is what the sources give.
console:
	npm ci --prefix console --no-audit --no-fund --loglevel=error
	node console/build.mjs

migrate: $(STAMP)
	$(BIN)/roo migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
