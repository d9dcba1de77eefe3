# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
MAIL_PORT ?= 1025

.PHONY: run test install lint demo browser validator bench bench-mail soak replica-check clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## run: install, migrate, load the demo newsroom and serve it at http://127.0.0.1:8000 with
## a task worker, the scheduler and a local mail catcher; Ctrl-C stops them all
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_demo
	@echo
	@echo "  Site:   http://$(HOST):$(PORT)/"
	@echo "  Admin:  http://$(HOST):$(PORT)/admin/"
	@echo "  Logins: admin, writer, editor, publisher; password: $${NEWSROOM_DEMO_PASSWORD:-$$(cat .demo-password 2>/dev/null || echo 'as printed when the demo was first loaded')}"
	@echo "  Mail:   nothing leaves this machine; every message goes to the mail catcher on"
	@echo "          127.0.0.1:$(MAIL_PORT), is saved as a .eml file in var/mail/ and shown below"
	@echo "          as a 'mail |' line with its recipients and subject"
	@echo "  Also running: a task worker (run_worker) and the scheduler (publish_scheduled every minute)."
	@echo "  Ctrl-C stops everything."
	@echo
	@# As readers will see it: the site's own error pages, not the debug ones
	@# (DJANGO_DEBUG=true make run brings those back). Plain http on this machine,
	@# so cookies are not marked Secure; uploads are served by the app; logs are
	@# plain lines for a person rather than JSON for a collector.
	@mkdir -p staticfiles
	DJANGO_DEBUG=$${DJANGO_DEBUG:-false} DJANGO_SECURE_COOKIES=false NEWSROOM_SERVE_MEDIA=true \
	  NEWSROOM_LOG_FORMAT=plain NEWSROOM_SITE_URL=$${NEWSROOM_SITE_URL:-http://$(HOST):$(PORT)} \
	  $(BIN)/python scripts/run_dev.py --host $(HOST) --port $(PORT) --mail-port $(MAIL_PORT)

## browser: make sure Chromium is there for the browser tests (installs it when run as root)
browser:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: run 'sudo apt-get install chromium' for the browser tests."; fi; }

# The Nu HTML Checker (vnu.jar) from the npm registry, pinned in
# package.json, and the Java it runs on (tests/test_html_validity.py).
validator: node_modules/vnu-jar/build/dist/vnu.jar
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Java for the HTML validity tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; \
	  else echo "Java is missing: run 'sudo apt-get install default-jre-headless' for the HTML validity tests."; fi; }

node_modules/vnu-jar/build/dist/vnu.jar: package.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the Nu HTML Checker (apt-get install npm)."; exit 1; }
	npm install --no-audit --no-fund --ignore-scripts
	touch $@

## test: install, then lint, check which way imports point and run the whole suite
## (DATABASE_URL picks the database)
test: $(STAMP) browser validator
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

## bench: the performance table, on PostgreSQL at archive scale (BENCH_DATABASE_URL or DATABASE_URL picks the database);
## BENCH_SCALE="40000 400000" measures each size in its own database and adds the cost-growth table;
## BENCH_SECONDS (default 10) is wrk's time per page
BENCH_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://root@127.0.0.1:5432/newsroom_bench)
BENCH_STORIES ?= 40000
BENCH_SCALE ?=
BENCH_SECONDS ?= 10
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is needed: sudo apt-get install wrk"; exit 1; fi; }
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python scripts/bench.py --prepare --stories $(BENCH_STORIES) \
	  --seconds $(BENCH_SECONDS) $(if $(strip $(BENCH_SCALE)),--scale "$(BENCH_SCALE)")

## replica-check: a real PostgreSQL streaming replica (pg_basebackup) serving readers' pages
replica-check: $(STAMP)
	$(BIN)/python scripts/replica_check.py

## bench-mail: mail a 10-story issue to SUBSCRIBERS (default 100000) confirmed readers through
## Postfix's smtp-sink (or EMAIL_HOST/EMAIL_PORT) with two workers; KILL_WORKERS=k kills workers k times
SUBSCRIBERS ?= 100000
KILL_WORKERS ?= 0
# Its own database: its newsletter and readers stay out of the page benchmark's.
MAIL_BENCH_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://root@127.0.0.1:5432/newsroom_mailbench)
bench-mail: $(STAMP)
	@command -v smtp-sink >/dev/null 2>&1 || test -x /usr/sbin/smtp-sink || test -n "$$EMAIL_HOST" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
	  else echo "smtp-sink is needed: sudo apt-get install postfix (or set EMAIL_HOST/EMAIL_PORT)"; exit 1; fi; }
	DATABASE_URL=$(MAIL_BENCH_DATABASE_URL) SUBSCRIBERS=$(SUBSCRIBERS) KILL_WORKERS=$(KILL_WORKERS) \
	  $(BIN)/python scripts/bench_mail.py

## soak: gunicorn on PostgreSQL under load while PostgreSQL restarts (DATABASE_URL picks the database)
soak: $(STAMP)
	$(BIN)/python scripts/soak.py

## lint: ruff, and the import contracts of pyproject.toml ([tool.importlinter])
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
