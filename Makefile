# The README's two commands, `make run` and `make test`; and `make lint`, `make lock`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export DATABASE_URL_TEST := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/shop)

.PHONY: run test lint lock install install-dev demo clean translations messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Install from the locks (requirements*.txt: every package, transitive ones too, pinned with
# its hashes; pip refuses a file whose hash the lock does not hold). The lock pins pip
# itself, so nothing is upgraded to whatever is newest. Reinstall only when a lock changes.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --require-hashes

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

# requirements-dev.txt holds the runtime lock's exact pins plus the test and lint tools.
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

## translations: compile every catalog, locale/<lang>/LC_MESSAGES/django.po → django.mo
# (build output, gitignored), each when its .po changed. Babel's pybabel (in the lock), not
# Django's compilemessages: that needs GNU gettext's msgfmt, which a fresh machine may lack.
# Like msgfmt, it leaves out entries marked fuzzy (English shows for them).
PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po)
MO_FILES := $(PO_FILES:.po=.mo)

%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

translations: $(MO_FILES)

## messages: extract the marked strings of templates (.html, .txt) and Python into
# locale/<lang>/LC_MESSAGES/django.po for each of MESSAGE_LANGUAGES (default: de), keeping
# the translations already there. Needs GNU gettext (xgettext, msgmerge: apt-get install
# gettext); compiling (translations) does not. Then translate the new entries and `make`
# compiles them.
MESSAGE_LANGUAGES ?= de
messages: $(VENV)/.installed
	mkdir -p locale
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py makemessages \
		$(foreach lang,$(MESSAGE_LANGUAGES),-l $(lang)) --add-location=file --no-wrap \
		--ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles --ignore=media \
		--ignore=.test-media --ignore=.run --ignore=node_modules

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
# under SlipCover: the files below 100% line coverage and the total are printed after the
# tests. The exit status is pytest's, or 2 when the total is under the floor. What is
# measured, the floor and why SlipCover: pyproject.toml [tool.slipcover].
test: install-dev $(CHROMIUM)
	DATABASE_URL=$(DATABASE_URL_TEST) DJANGO_SETTINGS_MODULE=config.settings.test \
		$(BIN)/python -m slipcover -m pytest

## lint: ruff (lint, then format check), mypy on the domain apps, import-linter's layer contracts
# Settings in pyproject.toml. mypy checks the bottom layer and the domain apps.
TYPED_PACKAGES := kernel accounts catalog inventory cart checkout orders payments
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED_PACKAGES)
	$(BIN)/lint-imports

## lock: recompile the locks after an edit to requirements*.in; every other pin stays.
# LOCK_ARGS="--upgrade-package NAME" moves one package, LOCK_ARGS=--upgrade all of them.
# --allow-unsafe pins pip and setuptools too; --no-strip-extras keeps "celery[redis]" as
# written (the venv's first pip, 23.x, rejects the stripped form in hash mode); the
# --no-emit-* flags keep this machine's package mirrors out of the lock.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --no-strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock: install-dev
	$(PIP_COMPILE) --output-file=requirements.txt requirements.in
	$(PIP_COMPILE) --output-file=requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) .run .test-media staticfiles .mypy_cache .ruff_cache
