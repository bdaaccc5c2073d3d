# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export DATABASE_URL_TEST := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/shop)

.PHONY: run test install install-dev demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the requirements change.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, load the demo catalog, create the demo admin, serve the shop
run: install
	HOST=$(HOST) PORT=$(PORT) PYTHON=$(BIN)/python bin/run

# The browser tests drive Debian's chromium (tests/browser/); Playwright cannot download one.
# A failed install does not stop the suite: the browser tests then fail under CI, skip locally.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

$(CHROMIUM):
	-$(APT_INSTALL) || { $(SUDO) apt-get update -qq && $(APT_INSTALL); }

## test: install test dependencies and chromium, run the whole suite against PostgreSQL
test: install-dev $(CHROMIUM)
	DATABASE_URL=$(DATABASE_URL_TEST) DJANGO_SETTINGS_MODULE=config.settings.test \
		$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .test-media staticfiles
