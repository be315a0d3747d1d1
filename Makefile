# OpenFoundry platform as code. `make up` and `make test` are the two set-up commands (README).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

STACK ?= dev
TARGET ?=
BASE ?= HEAD
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-installed

.PHONY: help bootstrap toolchain deps up render validate flows preview audit test test-fast test-engine lint bench clean \
	cluster cluster-down mutate report boot guard drift upgrade

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

toolchain: ## your pulumi if new enough, else the CLI, Python language host and kubernetes plugin built from Go modules (cached)
	@$(PYTHON) -m ops.toolchain >/dev/null

$(DEPS_STAMP): requirements.txt requirements-dev.txt
	@echo "[deps] installing pinned Python dependencies into $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

deps: $(DEPS_STAMP) ## the project's virtualenv with pinned dependencies

bootstrap: toolchain deps ## everything the other targets need

up: bootstrap ## pulumi up of the dev stack on the embedded defaults (renders into rendered/dev/); TARGET=local: STACK on the rehearsal cluster
ifeq ($(TARGET),local)
	@$(VPY) -m ops.cluster up
	@$(VPY) -m ops.stack --target local up $(STACK)
else ifeq ($(TARGET),)
	@$(VPY) -m ops.stack up dev
else
	@echo "TARGET=$(TARGET): allowed are local (the rehearsal cluster) or nothing (dev on the embedded defaults)" >&2; exit 2
endif

cluster: bootstrap ## the rehearsal cluster: Kubernetes v1.37.2 from Go modules, KWOK nodes over 3 zones, the operators' CRDs, cert-manager, trust-manager and the Prometheus Operator running
	@$(VPY) -m ops.cluster up

cluster-down: deps ## stop the rehearsal cluster and its controllers, and remove its data (.cluster/)
	@$(VPY) -m ops.cluster down

render: bootstrap ## STACK's complete manifests in rendered/STACK/, offline, its real state untouched
	@$(VPY) -m ops.stack render $(STACK)

validate: render ## every rendered manifest of STACK against the real schemas, every pod through Pod Security, Postgres parameters by Postgres
	@$(VPY) -m ops.validate $(STACK)
	@$(VPY) -m ops.admission $(STACK)
	@$(VPY) -m ops.judge $(STACK)

flows: render ## every flow STACK needs allowed and every forbidden one denied by its NetworkPolicies (cyclonus)
	@$(VPY) -m ops.flows $(STACK)

report: render ## STACK's topology diagram, capacity and zone-loss reports in reports/STACK/
	@$(VPY) -m ops.system graphviz
	@$(VPY) -m ops.report $(STACK)

guard: bootstrap ## what merging the working tree over BASE (a git ref, default HEAD) replaces or deletes in STACK; exit 1 when it touches state
	@$(VPY) -m ops.guard $(STACK) $(BASE)

drift: bootstrap ## what of running STACK (TARGET=local: on the rehearsal cluster) differs from the program, read live by the engine; exit 1 when anything does; RESTORE=1 puts it back
	@$(VPY) -m ops.drift $(STACK) $(if $(TARGET),--target $(TARGET)) $(if $(RESTORE),--restore)

upgrade: bootstrap ## the upgrade rehearsal: STACK up on an empty rehearsal cluster at FROM (a git ref; default data/upgrade-rehearsal.yaml), then the working tree over it, then again; exit 1 on lost state, a refused pod or a second up that changes anything
	@$(VPY) -m ops.cluster up
	@$(VPY) -m ops.upgrade $(STACK) $(if $(FROM),--from $(FROM))

preview: bootstrap ## pulumi preview of STACK on its own backend, with the policy pack
	@$(VPY) -m ops.stack preview $(STACK)

audit: bootstrap ## the policy pack over STACK (offline preview): reports/STACK/{policy.json,policy.sarif,summary.md}
	@$(VPY) -m ops.audit $(STACK)

test: bootstrap ## the whole suite: the mock tier, the engine tier through the real CLI, the cluster tier on its own rehearsal cluster
	@$(VPY) -m pytest

test-fast: deps ## only the mock tier, over up to four cores (pytest-xdist)
	@$(VPY) -m pytest -m "not engine" -n auto --maxprocesses 4

test-engine: bootstrap ## only the engine tier
	@$(VPY) -m pytest -m engine

lint: deps ## ruff, mypy, every module compiled (the compiler refuses what a parser alone accepts), actionlint
	@$(VPY) -m ruff check .
	@$(VPY) -m mypy
	@$(VPY) -m compileall -q foundry components ops policies tests __main__.py >/dev/null
	@cd .github/actionlint && GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local go run github.com/rhysd/actionlint/cmd/actionlint -shellcheck= ../workflows/*.yml

ifneq ($(filter boot,$(MAKECMDGOALS)),)
ifeq ($(OPENFOUNDRY_SRC),)
$(error OPENFOUNDRY_SRC is empty: make boot STACK=$(STACK) OPENFOUNDRY_SRC=<path to an OpenFoundry git checkout>)
endif
endif
boot: render ## STACK's OpenFoundry binaries built from OPENFOUNDRY_SRC (a git checkout of the pin) and started as their rendered pods against real local servers (root); RENDERED=<dir> boots another render tree
	@$(VPY) -m ops.boot $(STACK) $(OPENFOUNDRY_SRC) $(if $(RENDERED),--rendered $(RENDERED))

bench: bootstrap ## print the performance figures
	@$(VPY) -m ops.bench

mutate: deps ## mutation testing (mutmut, cached in .mutmut/): MODULES='path[::function] globs'|all (default: the security-relevant builders), BUDGET=minutes
	@$(VPY) -m ops.mutate $(if $(filter all,$(MODULES)),--all,$(MODULES)) $(if $(BUDGET),--budget $(BUDGET))

clean: ## remove rendered manifests, reports and the local dev state
	rm -rf rendered reports .state
