# Two commands for a new user: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKER_CONCURRENCY ?= 2

.PHONY: install run test lint worker web

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
