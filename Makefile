# CLAW.AI - the verbs people expect. `make dev` runs the platform, `make test` tests it;
# both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv/tools
# checkov has a venv of its own: its pins clash with the SAM CLI's and the project's.
CHECKOV := .venv/checkov
CHECKOV_VERSION := 3.3.30
# sam build needs the Lambda runtime's Python (3.12) on PATH.
PY312_DIR := $(shell dirname "$$(ls $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 | grep . || command -v python3.12)" 2>/dev/null)
export AWS_EC2_METADATA_DISABLED := true
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)/layers/common:$(CURDIR)/layers/ai:$(CURDIR)/local
STAGE ?= dev
PYTEST_ARGS ?=
EVAL_ARGS ?=

.PHONY: help install tools web system-deps deploy-web dev logs openapi test test-unit lint format typecheck validate build bench eval deploy smoke admin migrate clean

help:
	@echo "make dev        start the whole platform locally (API on 127.0.0.1:3000, AWS endpoint on 127.0.0.1:4566;"
	@echo "                other ports: make dev PORT=3001 AWS_PORT=4567); API docs at /api/v1/docs"
	@echo "make logs       follow every function's log and metric lines (.claw/logs/<function>.log)"
	@echo "make tools      install the AWS CLI, SAM CLI and cfn-lint under .venv/tools/bin (aws for the README's S3 examples)"
	@echo "make test       run every test (unit, integration, end-to-end, browser, template checks)"
	@echo "make web        build the console and widget.js into web/dist (npm ci + vite)"
	@echo "make lint       ruff + mypy"
	@echo "make validate   cfn-lint (with informational rules) + sam validate --lint + checkov"
	@echo "make build      sam build, then every function's unzipped size with its layers (with and without the offline embedder)"
	@echo "make openapi    regenerate the merged OpenAPI document (functions/config/config_app/openapi.json)"
	@echo "make bench      benchmarks (QUICK=1 for the quick suite)"
	@echo "make eval       bilingual retrieval/answer evaluation -> benchmarks/results/eval.md (EVAL_ARGS=...)"
	@echo "make deploy     sam build && sam deploy --config-env \$$STAGE (dev|prod)"
	@echo "make deploy-web STACK=claw-ai-dev   upload the console and widget.js (S3 + CloudFront)"
	@echo "make smoke STACK=claw-ai-dev   post-deploy smoke test (or URL=http://127.0.0.1:3000)"
	@echo "make admin EMAIL=... PASSWORD=...   create or promote an admin"
	@echo "make clean      stop nothing, wipe local data (.claw/: database, cache, S3 objects, KMS keys, queues, logs) and build output"

$(VENV)/.installed: requirements-dev.txt layers/*/requirements.txt functions/ingest/requirements.txt functions/ocr/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

$(TOOLS)/.installed:
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet "aws-sam-cli>=1.140" "cfn-lint>=1.58" awscli
	touch $@

$(CHECKOV)/.installed-$(CHECKOV_VERSION):
	test -x $(CHECKOV)/bin/python || $(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $@

tools: $(TOOLS)/.installed $(CHECKOV)/.installed-$(CHECKOV_VERSION)

# The console and widget.js (web/dist), rebuilt when their sources change.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package-lock.json web/vite.config.ts web/vite.widget.config.ts
web/dist/.built: $(WEB_SOURCES)
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ to build the console (the API works without it)"; exit 0; }; \
	set -e; cd web; \
	if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi; \
	npm run typecheck; npm run build; touch dist/.built
web: web/dist/.built

# Debian packages the tests need: Chromium for the browser tests (driven by Playwright at
# /usr/bin/chromium, no browser download) and a CJK font for rendered test pages. Installed
# with apt when missing and we are root (CI); otherwise it says what to install.
SYSTEM_PACKAGES := chromium fonts-noto-cjk
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "missing Debian packages for the browser/OCR tests: $$missing (sudo apt-get install $$missing)"; fi; \
	fi

# PORT / AWS_PORT choose the API and AWS endpoint ports (CLAW_GATEWAY_PORT / CLAW_AWS_PORT).
dev: install web
	$(if $(PORT),CLAW_GATEWAY_PORT=$(PORT)) $(if $(AWS_PORT),CLAW_AWS_PORT=$(AWS_PORT)) $(PY) -m claw_local

# Every function's lines, metrics (EMF) included, as they are written; `make dev` keeps only
# the log lines on its console.
logs:
	@ls .claw/logs/*.log >/dev/null 2>&1 || (echo "no logs yet: start the platform with make dev" && exit 1)
	tail -n 40 -F .claw/logs/*.log

openapi: install
	$(PY) infra/openapi.py

test: install tools web system-deps
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/common/claw_common layers/ai/claw_ai functions/*/*_app

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

validate: install tools
	$(VENV)/bin/cfn-lint -c I -- infra/template.yaml
	$(TOOLS)/bin/sam validate --lint --template-file infra/template.yaml --region us-east-1
	$(CHECKOV)/bin/checkov -f infra/template.yaml --framework cloudformation --compact --quiet --skip-download

build: install tools web
	PATH="$(PY312_DIR):$$PATH" $(TOOLS)/bin/sam build --template-file infra/template.yaml --build-dir .aws-sam/build
	$(PY) infra/lambda_sizes.py .aws-sam/build

bench: install
	# Pinned with every dependency; --no-deps because langchain-postgres declares pgvector<0.4
	# while the platform uses pgvector 0.5 (the peer runs fine with it).
	$(PY) -m pip install --quiet --no-deps -r requirements-bench.txt
	$(PY) -m benchmarks $(if $(QUICK),--quick,)

# The project's own retrieval and answer evaluation (benchmarks/eval/README.md), through the
# real local platform; EVAL_ARGS="--mode vector --json /tmp/eval.json" and so on.
eval: install
	$(PY) -m benchmarks.eval $(EVAL_ARGS)

# The connections the stage's reserved concurrency can open must fit the database (docs/deploy.md).
# Upload the console and widget to the stack's web bucket, with config.json from its outputs.
deploy-web: web tools
	@test -n "$(STACK)" || (echo "usage: make deploy-web STACK=claw-ai-dev" && exit 2)
	$(PY) scripts/deploy_web.py --stack-name $(STACK)

deploy: build
	$(PY) infra/connection_budget.py --config-env $(STAGE)
	$(TOOLS)/bin/sam deploy --config-env $(STAGE) --template-file .aws-sam/build/template.yaml

smoke: install
	@test -n "$(STACK)$(URL)" || (echo "usage: make smoke STACK=claw-ai-dev  |  make smoke URL=http://127.0.0.1:3000" && exit 2)
	$(PY) scripts/smoke_test.py $(if $(STACK),--stack-name $(STACK),--base-url $(URL))

migrate: install
	$(PY) -m claw_ai.schema

admin: install
	@test -n "$(EMAIL)" -a -n "$(PASSWORD)" || (echo "usage: make admin EMAIL=you@example.com PASSWORD=..." && exit 2)
	CLAW_ADMIN_EMAIL="$(EMAIL)" CLAW_ADMIN_PASSWORD="$(PASSWORD)" $(PY) -m claw_local.admin

clean:
	rm -rf .claw .aws-sam .pytest_cache .ruff_cache .mypy_cache web/dist
