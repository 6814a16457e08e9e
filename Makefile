# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test install install-dev translations messages lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers make repeated runs fast; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
	@$(MAKE) --no-print-directory translations
install-dev: $(VENV)/.installed-dev
	@$(MAKE) --no-print-directory translations

# Compiled catalogues (.mo) are build output; the .po files are the source.
translations: | $(BIN)/python
	@if [ -d webinars/translations ]; then $(BIN)/pybabel compile -d webinars/translations; fi

# After changing user-facing strings: refresh the catalogue, translate, commit the .po.
messages: | $(BIN)/python
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -k counted:1,2 -o webinars/translations/messages.pot .
	$(BIN)/pybabel update -i webinars/translations/messages.pot -d webinars/translations

run: install
	$(FLASK) db upgrade
	$(FLASK) seed akson
	PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$(PORT)} $(FLASK) run --host 127.0.0.1 --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install-dev
	$(BIN)/python bench/register.py

clean:
	rm -rf $(VENV) instance/*.sqlite* .pytest_cache
