# Airlock — the README's commands. Each target prints what it runs.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := build

GO       ?= go
BIN      := bin
SERVICES := ingress policy masker approver recorder
CONFIG   ?= deploy/examples/airlock.yaml
DATA_DIR ?= .airlock
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
BENCHTIME ?= 3s

.PHONY: build run test deps lint bench soak fuzz stack clean

build: ## bin/airlock and one binary per service
	$(GO) build -o $(BIN)/airlock ./services/airlock
	@for s in $(SERVICES); do echo "$(GO) build -o $(BIN)/$$s ./services/$$s/cmd/$$s"; $(GO) build -o $(BIN)/$$s ./services/$$s/cmd/$$s; done

run: build ## the whole gateway in one process on the embedded bus
	$(BIN)/airlock up --config $(CONFIG) --data-dir $(DATA_DIR)

deps: ## install what the tests need, if missing (pinned)
	bash scripts/ci-deps.sh

test: deps ## every module, with the race detector
	$(GO) test -race -count=1 -timeout 15m work

lint: deps ## gofmt, go vet, staticcheck
	@echo 'gofmt -l .'; out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "$$out"; exit 1; fi
	$(GO) vet work
	$(GO) vet -tags stack ./services/airlock/stack
	$(STATICCHECK) work
	$(STATICCHECK) -tags stack ./services/airlock/stack

SOAK ?= 10m
soak: build ## Airlock at 70 % of saturation for SOAK (10m): flat memory, no errors (not in CI)
	PATH="$$PATH:/usr/sbin" AIRLOCK_BENCH_BIN=$(CURDIR)/$(BIN) AIRLOCK_SOAK_DURATION=$(SOAK) AIRLOCK_BENCH_RESULTS=$(CURDIR)/results/latest $(GO) test -run '^$$' -bench '^BenchmarkSoak$$' -benchtime 1x -timeout 60m ./services/airlock/stack

stack: ## the stack as separate processes: nats-server, MinIO, each service; curl and git drive it
	bash scripts/stack-test.sh

FUZZTIME ?= 10s
fuzz: ## every fuzz target for FUZZTIME each
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench: build ## benchmarks: the gateway against the upstream called directly and nginx, same run
	bash scripts/bench-deps.sh
	PATH="$$PATH:/usr/sbin" AIRLOCK_BENCH_BIN=$(CURDIR)/$(BIN) AIRLOCK_BENCH_RESULTS=$(CURDIR)/results/latest $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./services/airlock/stack ./services/policy/rules ./services/policy/github ./services/masker/detect ./services/masker

clean:
	rm -rf $(BIN) $(DATA_DIR)
