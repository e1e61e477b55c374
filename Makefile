# Two commands for a new user: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKER_CONCURRENCY ?= 2
# gunicorn's rule of thumb for sync workers: 2 x cores + 1.
WEB_WORKERS ?= $(shell echo $$(( 2 * $$(nproc 2>/dev/null || echo 1) + 1 )))

.PHONY: install run test lint worker web serve

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

.env:
	cp .env.example .env

# Migrate, seed the demo project, then serve the web app and a Celery worker; Ctrl-C stops both.
run: install .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo --seconds-per-sample 0.25
	@echo "M3IT Studio on http://$(HOST):$(PORT)/  (Ctrl-C stops the web app and the worker)"
	@bash config/run_dev.sh $(VENV) $(HOST) $(PORT) $(WORKER_CONCURRENCY)

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .

# The two halves of `make run`, for running them in separate terminals or on separate machines.
worker: install
	$(VENV)/bin/celery -A config worker -Q default,llm,gpu -c $(WORKER_CONCURRENCY) -l info

web: install
	$(PY) manage.py runserver $(HOST):$(PORT)

# The production server for a quick try: gunicorn with DEBUG off, a SECRET_KEY generated for this run
# (set SECRET_KEY to keep sessions across restarts), static files collected and served by WhiteNoise.
# Plain HTTP on this machine, so the https redirect and secure cookies are off here; behind a TLS proxy
# in production leave those settings at their defaults (on). Jobs need `make worker` beside it.
serve: install .env
	@export DEBUG=false SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	  SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-false} SESSION_COOKIE_SECURE=$${SESSION_COOKIE_SECURE:-false} \
	  CSRF_COOKIE_SECURE=$${CSRF_COOKIE_SECURE:-false} SECURE_HSTS_SECONDS=$${SECURE_HSTS_SECONDS:-0}; \
	$(PY) manage.py migrate --no-input && \
	$(PY) manage.py collectstatic --no-input --verbosity 0 && \
	echo "M3IT Studio (gunicorn, $(WEB_WORKERS) workers, DEBUG off) on http://$(HOST):$(PORT)/" && \
	exec $(VENV)/bin/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers $(WEB_WORKERS) \
	  --timeout 60 --graceful-timeout 20 --access-logfile - --error-logfile -
