# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi

CONSTRAINTS := constraints.txt
# The key `make run` signs sessions with: made once, readable by its owner only.
SECRET_KEY_FILE := instance/secret_key

# axe-core (accessibility checks in the browser tests) comes from npm, pinned by the lock file.
BROWSER_TESTS := tests/browser
AXE := $(BROWSER_TESTS)/node_modules/axe-core/axe.min.js

.PHONY: run organiser test install install-dev translations messages lint bench constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers make repeated runs fast; they are rebuilt when pyproject.toml or the
# constraints change. Every install takes the exact versions in constraints.txt.
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
	@$(MAKE) --no-print-directory translations
install-dev: $(VENV)/.installed-dev $(AXE)
	@$(MAKE) --no-print-directory translations

# Without npm the accessibility tests are skipped (and fail under CI), as without Chromium.
$(AXE): $(BROWSER_TESTS)/package.json $(BROWSER_TESTS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(BROWSER_TESTS) --no-audit --no-fund --silent && touch $@; \
	else \
		echo "make: npm not found; the accessibility tests (axe-core) will be skipped"; \
	fi

# Compiled catalogues (.mo) are build output; the .po files are the source.
translations: | $(BIN)/python
	@if [ -d webinars/translations ]; then $(BIN)/pybabel compile -d webinars/translations; fi

# After changing user-facing strings: refresh the catalogue, translate, commit the .po.
messages: | $(BIN)/python
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -k counted:1,2 -o webinars/translations/messages.pot .
	$(BIN)/pybabel update --ignore-obsolete -i webinars/translations/messages.pot -d webinars/translations

$(SECRET_KEY_FILE):
	@mkdir -p $(dir $@)
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@
	@chmod 600 $@

# SECRET_KEY from the environment wins; otherwise the one in instance/secret_key.
run: install $(SECRET_KEY_FILE)
	export SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}" && \
	$(FLASK) db upgrade && \
	$(FLASK) seed akson && \
	PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$(PORT)} $(FLASK) run --host 127.0.0.1 --port $(PORT)

# An organiser account for `make run`'s database: make organiser EMAIL=you@example.org
organiser: install $(SECRET_KEY_FILE)
	SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}" $(FLASK) organiser create $(EMAIL)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install-dev
	$(BIN)/python bench/register.py
	$(BIN)/python bench/series.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/outbox.py

# After changing dependencies: the versions a fresh install resolves, written down.
constraints:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip && .venv-lock/bin/pip install --quiet -e '.[dev]'
	(sed -n '1,2p' $(CONSTRAINTS); .venv-lock/bin/pip freeze --exclude-editable) > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && rm -rf .venv-lock

clean:
	rm -rf $(VENV) instance/*.sqlite* .pytest_cache $(BROWSER_TESTS)/node_modules
